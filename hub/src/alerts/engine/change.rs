//! The engine's answer to each change from the feed: which rules it
//! concerns, and on which subject.

use std::collections::VecDeque;

use pmr_shared::link::messages::Event;

use super::{Engine, ExceptionTimes, Transition};
use crate::alerts::rule::RuleKind;
use crate::ingest::feed::Change;
use crate::live::Live;

impl Engine {
    /// Applies one change from the feed.
    pub fn on_change(&mut self, c: &Change, live: &Live, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        match c {
            // Each restart is counted from its own event, at the time the
            // agent says it happened: a sampled counter misses fast loops.
            Change::Event { server_id, event }
                if event.kind == pmr_shared::link::messages::EventKind::Restart =>
            {
                let ns = event.namespace.as_deref();
                self.count_restart(*server_id, &event.name, ns, event.at.min(now));
                self.check_restarts(*server_id, &event.name, ns, live, now, &mut out);
            }
            Change::ProcessStatus {
                server_id,
                app,
                status,
                ..
            } => {
                self.check_errored(*server_id, app, live, now, &mut out);
                if status == "online" {
                    self.stopped(*server_id, app, None, None, live, now, &mut out);
                }
            }
            Change::ProcessRemoved { server_id, app, .. } => {
                self.check_errored(*server_id, app, live, now, &mut out);
                self.stopped(*server_id, app, None, None, live, now, &mut out);
            }
            Change::Event { server_id, event }
                if event.kind == pmr_shared::link::messages::EventKind::Stopped
                    && event.detail.as_deref()
                        == Some(pmr_shared::link::messages::STOPPED_ITSELF) =>
            {
                let why = format!("instance {}", event.pm_id);
                let ns = event.namespace.as_deref();
                self.stopped(*server_id, &event.name, ns, Some(why), live, now, &mut out);
            }
            Change::Sample { server_id, .. } => self.check_sampled(*server_id, live, now, &mut out),
            Change::ServerDown { server_id } => {
                self.down_at.insert(*server_id, now);
            }
            Change::ServerUp { server_id, .. } => {
                // Back after being down: a new drop within a minute is quiet.
                if self.down_at.remove(server_id).is_some() {
                    self.up_at.insert(*server_id, now);
                }
                self.for_rules(
                    *server_id,
                    live,
                    |k| matches!(k, RuleKind::Offline { .. }),
                    |e, ri, v| {
                        e.observe(ri, v, None, None, now, &mut out);
                    },
                );
            }
            Change::Version {
                server_id,
                app,
                revision,
                ..
            } => self.on_version(*server_id, app, revision.as_deref(), live, now, &mut out),
            Change::Event { server_id, event }
                if event.kind == pmr_shared::link::messages::EventKind::Exception =>
            {
                self.on_exception(*server_id, event, live, now, &mut out);
            }
            Change::Event { .. } | Change::Restart { .. } | Change::ActionResult { .. } => {}
        }
        out
    }

    /// A new revision runs: deploy rules covering the app notice it.
    fn on_version(
        &mut self,
        server_id: i64,
        app: &str,
        revision: Option<&str>,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let rev: String = revision.map_or("unknown".into(), |r| r.chars().take(12).collect());
        let app = app.to_string();
        self.for_rules(
            server_id,
            live,
            |k| matches!(k, RuleKind::Deploy),
            |e, ri, v| {
                let ns = v
                    .processes
                    .values()
                    .find(|p| p.name == app)
                    .map(|p| p.namespace.clone());
                let ns = ns.unwrap_or_else(|| "default".into());
                if e.rules[ri].spec.covers_app(&app, &ns) {
                    e.observe(ri, v, Some((&app, &ns)), Some(rev.clone()), now, out);
                }
            },
        );
    }

    /// An exception: its group's rate, and a notice the first time the
    /// group is seen.
    fn on_exception(
        &mut self,
        server_id: i64,
        event: &Event,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let detail = event.detail.as_deref().unwrap_or_default();
        let g = crate::ingest::exceptions::group(&event.name, detail);
        let entry = self
            .exception_times
            .entry((server_id, g.key.clone()))
            .or_insert_with(|| ExceptionTimes {
                times: VecDeque::new(),
                app: event.name.clone(),
                namespace: event.namespace.clone(),
                message: g.message.clone(),
            });
        entry.times.push_back(now);
        if entry.times.len() > 1000 {
            entry.times.pop_front();
        }
        self.check_exception_rate(server_id, &g.key, live, now, out);
        if self.known_exceptions.insert(g.key) {
            let (app, message) = (event.name.clone(), g.message);
            let ns = event.namespace.clone();
            self.for_rules(server_id, live, RuleKind::notice_exception, |e, ri, v| {
                let ns = ns.clone().unwrap_or_else(|| Engine::app_ns(v, &app));
                if e.rules[ri].spec.covers_app(&app, &ns) {
                    e.observe(ri, v, Some((&app, &ns)), Some(message.clone()), now, out);
                }
            });
        }
    }
}
