//! What time alone changes: sliding windows, pending durations, offline
//! grace periods, notices that end.

use super::{AlertState, Engine, ExceptionTimes, OFFLINE_QUIET_MS, Transition};
use crate::alerts::rule::RuleKind;
use crate::live::Live;

impl Engine {
    /// What time alone changes: pending durations, restart windows,
    /// offline grace periods, deploy notices.
    pub fn tick(&mut self, live: &Live, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        // Restart windows slide: re-check every app with recent restarts.
        let longest = self.restart_window_ms().unwrap_or(0);
        self.restarts.retain(|_, q| {
            while q.front().is_some_and(|t| *t <= now - longest) {
                q.pop_front();
            }
            !q.is_empty()
        });
        let restarts = &self.restarts;
        self.restart_ns.retain(|k, _| restarts.contains_key(k));
        let keys: Vec<(i64, String, Option<String>)> = self
            .restarts
            .keys()
            .map(|k| (k.0, k.1.clone(), self.restart_ns.get(k).cloned()))
            .collect();
        let firing_restarts: Vec<(i64, String, Option<String>)> = self
            .alerts
            .values()
            .filter(|a| {
                matches!(
                    self.rule(a.rule_id).map(|r| &r.spec.kind),
                    Some(RuleKind::Restarts { .. })
                )
            })
            .filter_map(|a| {
                let ns = a.labels.get("namespace").cloned();
                Some((a.server_id, a.labels.get("app")?.clone(), ns))
            })
            .collect();
        for (id, app, ns) in firing_restarts.into_iter().chain(keys) {
            self.check_restarts(id, &app, ns.as_deref(), live, now, &mut out);
        }
        // Exception rates slide too.
        let longest_exc = self
            .rules
            .iter()
            .filter_map(|r| match r.spec.kind {
                RuleKind::ExceptionRate { window_secs, .. } => Some(window_secs as i64 * 1000),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let mut keys = Vec::new();
        self.exception_times
            .retain(|k, ExceptionTimes { times: q, .. }| {
                let had = !q.is_empty();
                while q.front().is_some_and(|t| *t <= now - longest_exc) {
                    q.pop_front();
                }
                if had {
                    keys.push(k.clone());
                }
                // One that just emptied stays a tick, so its alert resolves.
                had
            });
        for (id, key) in keys {
            self.check_exception_rate(id, &key, live, now, &mut out);
        }
        // Offline servers past their grace.
        let down: Vec<(i64, i64)> = self.down_at.iter().map(|(k, v)| (*k, *v)).collect();
        for (id, at) in down {
            let since = at.max(self.up_at.get(&id).map_or(0, |u| u + OFFLINE_QUIET_MS));
            self.for_rules(
                id,
                live,
                |k| matches!(k, RuleKind::Offline { .. }),
                |e, ri, v| {
                    let RuleKind::Offline { grace_secs } = e.rules[ri].spec.kind else {
                        return;
                    };
                    let off = now - since;
                    let value = (off >= grace_secs as i64 * 1000)
                        .then(|| format!("{} s", (now - at) / 1000));
                    if value.is_some()
                        || e.alerts
                            .values()
                            .any(|a| a.rule_id == e.rules[ri].id && a.server_id == id)
                    {
                        e.observe(ri, v, None, value, now, &mut out);
                    }
                },
            );
        }
        // Pending alerts whose duration passed; deploy notices that ended.
        let mut due = Vec::new();
        let mut ended = Vec::new();
        for a in self.alerts.values() {
            let for_ms = self
                .rule(a.rule_id)
                .map_or(0, |r| r.spec.for_secs as i64 * 1000);
            if a.state == AlertState::Pending && now - a.active_since >= for_ms {
                due.push(a.fingerprint.clone());
            }
            if a.resolve_at.is_some_and(|t| t <= now) {
                ended.push(a.fingerprint.clone());
            }
        }
        for fp in due {
            if let Some(a) = self.alerts.get_mut(&fp) {
                a.state = AlertState::Firing;
                a.starts_at = Some(now);
                out.push(Transition { alert: a.clone() });
            }
        }
        for fp in ended {
            out.extend(self.end(&fp, now));
        }
        out
    }
}

impl Engine {
    /// The longest window of the `restarts` rules, ms (none without one).
    pub fn restart_window_ms(&self) -> Option<i64> {
        self.rules
            .iter()
            .filter_map(|r| match r.spec.kind {
                RuleKind::Restarts { window_secs, .. } => Some(window_secs as i64 * 1000),
                _ => None,
            })
            .max()
    }
}
