//! Grouping with Alertmanager's semantics: per receiver, alerts with the
//! same values of the receiver's `group_by` labels form a group; a new
//! group waits `group_wait` before its first notification, changes are
//! sent at most every `group_interval`, an unchanged firing group again
//! after `repeat_interval`; one notification carries the whole group, and
//! resolved alerts leave it once sent.
//!
//! What each receiver was last told about each group is the notification
//! log (Alertmanager's nflog), kept in the store: whether a group needs a
//! notification is decided against it, so a restarted hub does not send
//! an unchanged group again before `repeat_interval`, and a notification
//! that failed every attempt is tried again at the next `group_interval`.
//! Times are Unix ms, as the log stores them.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::engine::{Alert, AlertState};
use super::receiver::{AlertOut, Notification, ReceiverSpec};
use crate::store::NotifiedRow;

/// A receiver as the dispatcher knows it.
#[derive(Debug, Clone)]
pub struct Route {
    /// Row id.
    pub id: i64,
    /// Grouping and timing.
    pub spec: ReceiverSpec,
}

struct Group {
    route: usize,
    labels: BTreeMap<String, String>,
    alerts: BTreeMap<String, AlertOut>,
    next: i64,
    /// A notification of it is being delivered.
    in_flight: bool,
}

/// What a receiver was last told about a group.
#[derive(Debug, Clone, Default, PartialEq)]
struct Sent {
    at: i64,
    firing: BTreeSet<String>,
    resolved: BTreeSet<String>,
}

/// Every group of every receiver, and what each receiver was told.
#[derive(Default)]
pub struct Dispatcher {
    routes: Vec<Route>,
    groups: HashMap<String, Group>,
    /// The notification log, by receiver id and group key.
    log: HashMap<(i64, String), Sent>,
    external_url: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long a log entry is kept after its notification.
const LOG_KEEP_MS: i64 = 7 * 86_400_000;

/// Alertmanager's `needsUpdate`: whether a group with these firing and
/// resolved alerts must be notified, given what was last sent.
fn needs_update(
    last: Option<&Sent>,
    firing: &BTreeSet<String>,
    resolved: &BTreeSet<String>,
    send_resolved: bool,
    repeat_ms: i64,
    now: i64,
) -> bool {
    let Some(last) = last else {
        return !firing.is_empty();
    };
    if !firing.is_subset(&last.firing) {
        return true;
    }
    if firing.is_empty() {
        return !last.firing.is_empty();
    }
    if send_resolved && !resolved.is_subset(&last.resolved) {
        return true;
    }
    now >= last.at + repeat_ms
}

impl Dispatcher {
    /// A dispatcher linking to pages under `external_url`.
    pub fn new(routes: Vec<Route>, external_url: String) -> Dispatcher {
        Dispatcher {
            routes,
            groups: HashMap::new(),
            log: HashMap::new(),
            external_url,
        }
    }

    /// The notification log as stored: a restarted hub knows what it sent.
    pub fn restore_log(&mut self, rows: Vec<NotifiedRow>) {
        for r in rows {
            let sent = Sent {
                at: r.sent_at,
                firing: r.firing.into_iter().collect(),
                resolved: r.resolved.into_iter().collect(),
            };
            self.log.insert((r.receiver_id, r.group_key), sent);
        }
    }

    /// New receivers: groups of receivers gone are dropped.
    pub fn set_routes(&mut self, routes: Vec<Route>) {
        let ids: Vec<i64> = self.routes.iter().map(|r| r.id).collect();
        self.groups.retain(|_, g| {
            routes
                .iter()
                .any(|r| Some(r.id) == ids.get(g.route).copied())
        });
        for g in self.groups.values_mut() {
            let id = ids[g.route];
            g.route = routes.iter().position(|r| r.id == id).unwrap_or(0);
        }
        self.log
            .retain(|(id, _), _| routes.iter().any(|r| r.id == *id));
        self.routes = routes;
    }

    /// The alert in Alertmanager's shape, with a link to its page.
    fn out(&self, a: &Alert) -> AlertOut {
        let page = match a.labels.get("app") {
            Some(app) => format!(
                "{}/processes?q={}",
                self.external_url,
                app.replace(
                    |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                    "+"
                )
            ),
            None => format!("{}/servers/{}", self.external_url, a.server_id),
        };
        AlertOut {
            status: if a.state == AlertState::Resolved {
                "resolved"
            } else {
                "firing"
            }
            .into(),
            labels: a.labels.clone(),
            annotations: a.annotations.clone(),
            starts_at: rfc3339(a.starts_at.unwrap_or(a.active_since)),
            ends_at: a.ends_at.map_or("0001-01-01T00:00:00Z".into(), rfc3339),
            generator_url: page,
            fingerprint: a.fingerprint.clone(),
        }
    }

    /// An alert fired or resolved: into a group of each receiver in `to`
    /// (names; empty: every receiver).
    pub fn add(&mut self, a: &Alert, to: &[String], now: i64) {
        let out = self.out(a);
        for (ri, route) in self.routes.iter().enumerate() {
            if !to.is_empty() && !to.contains(&route.spec.name) {
                continue;
            }
            if a.state == AlertState::Resolved && !route.spec.send_resolved {
                // Take it out of its group quietly.
                for g in self.groups.values_mut().filter(|g| g.route == ri) {
                    g.alerts.remove(&a.fingerprint);
                }
                continue;
            }
            let labels: BTreeMap<String, String> = route
                .spec
                .group_by
                .iter()
                .filter_map(|k| Some((k.clone(), a.labels.get(k)?.clone())))
                .collect();
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            let key = format!("{}:{{{}}}", route.spec.name, inner.join(","));
            let wait = route.spec.group_wait_secs as i64 * 1000;
            let g = self.groups.entry(key).or_insert_with(|| Group {
                route: ri,
                labels,
                alerts: BTreeMap::new(),
                next: now + wait,
                in_flight: false,
            });
            if a.state == AlertState::Resolved && !g.alerts.contains_key(&a.fingerprint) {
                // Resolved before it was ever in the group: nothing to say.
                continue;
            }
            g.alerts.insert(a.fingerprint.clone(), out.clone());
        }
    }

    /// When the next group is due, Unix ms.
    pub fn due(&self) -> Option<i64> {
        self.groups.values().map(|g| g.next).min()
    }

    /// The notifications due at `now`. Each is in flight until [`ack`] says
    /// how its delivery went.
    ///
    /// [`ack`]: Dispatcher::ack
    pub fn flush(&mut self, now: i64) -> Vec<Notification> {
        let mut out = Vec::new();
        let mut empty = Vec::new();
        for (key, g) in self.groups.iter_mut().filter(|(_, g)| g.next <= now) {
            let route = &self.routes[g.route];
            g.next = now + route.spec.group_interval_secs as i64 * 1000;
            if g.in_flight {
                continue;
            }
            let of = |status: &str| -> BTreeSet<String> {
                g.alerts
                    .values()
                    .filter(|a| a.status == status)
                    .map(|a| a.fingerprint.clone())
                    .collect()
            };
            let (firing, resolved) = (of("firing"), of("resolved"));
            let last = self.log.get(&(route.id, key.clone()));
            let repeat = route.spec.repeat_interval_secs as i64 * 1000;
            let send_resolved = route.spec.send_resolved;
            if needs_update(last, &firing, &resolved, send_resolved, repeat, now) {
                let mut alerts: Vec<AlertOut> = g.alerts.values().cloned().collect();
                alerts.sort_by_key(|a| a.status != "firing");
                out.push(Notification {
                    receiver_id: route.id,
                    receiver: route.spec.name.clone(),
                    group_key: key.clone(),
                    group_labels: g.labels.clone(),
                    alerts,
                    external_url: self.external_url.clone(),
                });
                g.in_flight = true;
            } else if firing.is_empty() {
                // Only resolved alerts the receiver need not hear of.
                g.alerts.clear();
            }
            if g.alerts.is_empty() && !g.in_flight {
                empty.push(key.clone());
            }
        }
        for k in empty {
            self.groups.remove(&k);
        }
        self.log.retain(|_, s| s.at > now - LOG_KEEP_MS);
        out
    }

    /// How the delivery of notification `n` ended, at `now`: delivered, it
    /// is the receiver's last word on the group (returned, to be stored),
    /// and the resolved alerts it carried leave the group; failed, nothing
    /// changes, so the group is tried again at its next interval.
    pub fn ack(&mut self, n: &Notification, delivered: bool, now: i64) -> Option<NotifiedRow> {
        let g = self.groups.get_mut(&n.group_key)?;
        g.in_flight = false;
        if !delivered {
            return None;
        }
        let of = |status: &str| -> Vec<String> {
            n.alerts
                .iter()
                .filter(|a| a.status == status)
                .map(|a| a.fingerprint.clone())
                .collect()
        };
        let row = NotifiedRow {
            receiver_id: n.receiver_id,
            group_key: n.group_key.clone(),
            sent_at: now,
            firing: of("firing"),
            resolved: of("resolved"),
        };
        for fp in &row.resolved {
            if g.alerts.get(fp).is_some_and(|a| a.status == "resolved") {
                g.alerts.remove(fp);
            }
        }
        if g.alerts.is_empty() {
            self.groups.remove(&n.group_key);
        }
        let sent = Sent {
            at: now,
            firing: row.firing.iter().cloned().collect(),
            resolved: row.resolved.iter().cloned().collect(),
        };
        self.log.insert((n.receiver_id, n.group_key.clone()), sent);
        Some(row)
    }
}

#[cfg(test)]
mod tests;
