//! Grouping with Alertmanager's semantics: per receiver, alerts with the
//! same values of the receiver's `group_by` labels form a group; a new
//! group waits `group_wait` before its first notification, changes are
//! sent at most every `group_interval`, an unchanged firing group again
//! after `repeat_interval`; one notification carries the whole group, and
//! resolved alerts leave it once sent.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use super::engine::{Alert, AlertState};
use super::receiver::{AlertOut, Notification, ReceiverSpec};

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
    next: Instant,
    last_sent: Option<Instant>,
    changed: bool,
}

/// Every group of every receiver.
#[derive(Default)]
pub struct Dispatcher {
    routes: Vec<Route>,
    groups: HashMap<String, Group>,
    external_url: String,
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Dispatcher {
    /// A dispatcher linking to pages under `external_url`.
    pub fn new(routes: Vec<Route>, external_url: String) -> Dispatcher {
        Dispatcher {
            routes,
            groups: HashMap::new(),
            external_url,
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
    pub fn add(&mut self, a: &Alert, to: &[String], now: Instant) {
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
            let wait = Duration::from_secs(route.spec.group_wait_secs);
            let g = self.groups.entry(key).or_insert_with(|| Group {
                route: ri,
                labels,
                alerts: BTreeMap::new(),
                next: now + wait,
                last_sent: None,
                changed: false,
            });
            if a.state == AlertState::Resolved && !g.alerts.contains_key(&a.fingerprint) {
                // Resolved before it was ever sent here: nothing to say.
                continue;
            }
            g.alerts.insert(a.fingerprint.clone(), out.clone());
            g.changed = true;
        }
    }

    /// When the next group is due.
    pub fn due(&self) -> Option<Instant> {
        self.groups.values().map(|g| g.next).min()
    }

    /// The notifications due at `now`.
    pub fn flush(&mut self, now: Instant) -> Vec<Notification> {
        let mut out = Vec::new();
        let mut empty = Vec::new();
        for (key, g) in self.groups.iter_mut().filter(|(_, g)| g.next <= now) {
            let route = &self.routes[g.route];
            let firing = g.alerts.values().any(|a| a.status == "firing");
            let repeat = Duration::from_secs(route.spec.repeat_interval_secs);
            let repeat_due = firing && g.last_sent.is_none_or(|t| now >= t + repeat);
            if (g.changed || repeat_due) && !g.alerts.is_empty() {
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
                g.last_sent = Some(now);
                g.changed = false;
                g.alerts.retain(|_, a| a.status == "firing");
            }
            g.next = now + Duration::from_secs(route.spec.group_interval_secs);
            if g.alerts.is_empty() {
                empty.push(key.clone());
            }
        }
        for k in empty {
            self.groups.remove(&k);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::receiver::ReceiverKind;

    fn route(wait: u64, interval: u64, repeat: u64) -> Route {
        Route {
            id: 1,
            spec: ReceiverSpec {
                name: "ops".into(),
                kind: ReceiverKind::Webhook,
                group_by: vec!["alertname".into()],
                group_wait_secs: wait,
                group_interval_secs: interval,
                repeat_interval_secs: repeat,
                send_resolved: true,
                timeout_secs: 10,
                max_attempts: 5,
            },
        }
    }

    fn alert(fp: &str, server: &str, state: AlertState) -> Alert {
        let mut a = Alert::test();
        a.fingerprint = fp.into();
        a.state = state;
        a.labels = BTreeMap::from([
            ("alertname".into(), "crash loop".into()),
            ("server".into(), server.into()),
        ]);
        a
    }

    #[test]
    fn groups_wait_then_send_changes_per_interval_and_repeat_unchanged() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut d = Dispatcher::new(vec![route(30, 300, 4 * 3600)], "https://hub".into());
        // 1,000 alerts at once: one group, one notification after group_wait.
        for i in 0..1000 {
            d.add(
                &alert(&format!("{i:016}"), &format!("web-{i}"), AlertState::Firing),
                &[],
                t0,
            );
        }
        assert!(d.flush(t0 + s(29)).is_empty());
        let first = d.flush(t0 + s(30));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].alerts.len(), 1000);
        // Nothing new: nothing at the next interval.
        assert!(d.flush(t0 + s(330)).is_empty());
        // A resolution goes out at the interval after it, with the firing rest.
        d.add(
            &alert("0000000000000007", "web-7", AlertState::Resolved),
            &[],
            t0 + s(400),
        );
        assert!(
            d.flush(t0 + s(500)).is_empty(),
            "not before the group interval"
        );
        let second = d.flush(t0 + s(630));
        assert_eq!(second.len(), 1);
        assert_eq!(
            second[0]
                .alerts
                .iter()
                .filter(|a| a.status == "resolved")
                .count(),
            1
        );
        assert_eq!(second[0].alerts.len(), 1000);
        // Unchanged and firing: again only after the repeat interval.
        let mut at = t0 + s(630);
        let mut sent = 0;
        while at < t0 + s(630 + 4 * 3600) {
            at += s(300);
            sent += d.flush(at).len();
        }
        assert_eq!(sent, 1, "one repeat in four hours");
    }

    #[test]
    fn an_alert_goes_only_to_the_receivers_its_rule_names() {
        let mut d = Dispatcher::new(vec![route(0, 1, 10)], "https://hub".into());
        let t0 = Instant::now();
        d.add(
            &alert("a", "web-1", AlertState::Firing),
            &["pager".into()],
            t0,
        );
        assert!(d.flush(t0 + Duration::from_secs(1)).is_empty());
        d.add(
            &alert("a", "web-1", AlertState::Firing),
            &["ops".into()],
            t0,
        );
        assert_eq!(d.flush(t0 + Duration::from_secs(1)).len(), 1);
    }
}
