//! Catching up after the change feed dropped changes (the engine fell
//! behind a storm): every condition that is a state, not an event, is
//! checked again from the live state, so a missed status change neither
//! loses an alert nor leaves one firing.

use std::collections::BTreeSet;

use super::{Engine, Transition};
use crate::alerts::rule::RuleKind;
use crate::live::Live;

impl Engine {
    /// Re-checks errored apps, apps back online after stopping themselves,
    /// and servers' online state, from `live`.
    pub fn resync(&mut self, live: &Live, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        let stopped_rules = self.rules.iter().any(|r| r.spec.kind == RuleKind::Stopped);
        // Apps with an alert now, whether or not still on their server.
        let mut alerted: BTreeSet<(i64, String)> = self
            .alerts
            .values()
            .filter_map(|a| Some((a.server_id, a.labels.get("app")?.clone())))
            .collect();
        // One copy of each view, taken one at a time (the live state is
        // never held while rules are checked).
        for v in live.servers() {
            if !v.online {
                self.down_at.entry(v.id).or_insert(now);
            } else if self.down_at.remove(&v.id).is_some() {
                self.up_at.insert(v.id, now);
            }
            let apps: BTreeSet<&str> = v.processes.values().map(|p| p.name.as_str()).collect();
            for app in apps {
                alerted.remove(&(v.id, app.to_string()));
                self.check_errored_in(&v, app, now, &mut out);
            }
            if stopped_rules {
                // Running again: a `stopped` alert of the app ends.
                let online: BTreeSet<(&str, &str)> = v
                    .processes
                    .values()
                    .filter(|p| p.status == "online")
                    .map(|p| (p.name.as_str(), p.namespace.as_str()))
                    .collect();
                for (app, ns) in online {
                    self.for_rules_in(
                        &v,
                        |k| matches!(k, RuleKind::Stopped),
                        |e, ri, v| {
                            if e.rules[ri].spec.covers_app(app, ns) {
                                e.observe(ri, v, Some((app, ns)), None, now, &mut out);
                            }
                        },
                    );
                }
            }
        }
        // Alerted apps no longer on their server.
        for (id, app) in alerted {
            self.check_errored(id, &app, live, now, &mut out);
        }
        out
    }
}
