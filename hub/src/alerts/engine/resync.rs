//! Catching up after the change feed dropped changes (the engine fell
//! behind a storm): every condition that is a state, not an event, is
//! checked again from the live state, so a missed status change neither
//! loses an alert nor leaves one firing.

use std::collections::BTreeSet;

use super::{Engine, Transition};
use crate::live::Live;

impl Engine {
    /// Re-checks errored apps, apps back online after stopping themselves,
    /// and servers' online state, from `live`.
    pub fn resync(&mut self, live: &Live, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        // Apps with an alert now, whether or not still on their server.
        let alerted: BTreeSet<(i64, String)> = self
            .alerts
            .values()
            .filter_map(|a| Some((a.server_id, a.labels.get("app")?.clone())))
            .collect();
        let mut apps: BTreeSet<(i64, String)> = BTreeSet::new();
        for v in live.servers() {
            if !v.online {
                self.down_at.entry(v.id).or_insert(now);
            } else if self.down_at.remove(&v.id).is_some() {
                self.up_at.insert(v.id, now);
            }
            for p in v.processes.values() {
                apps.insert((v.id, p.name.clone()));
                if p.status == "online" {
                    let ns = Some(p.namespace.as_str());
                    self.stopped(v.id, &p.name, ns, None, live, now, &mut out);
                }
            }
        }
        for (id, app) in apps.iter().chain(&alerted) {
            self.check_errored(*id, app, live, now, &mut out);
        }
        out
    }
}
