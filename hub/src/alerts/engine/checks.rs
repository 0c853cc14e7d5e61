//! The checks of each rule kind, run as changes arrive and on the tick.

use std::collections::BTreeMap;

use super::text::mib;
use super::{Engine, ExceptionTimes, Transition};
use crate::alerts::rule::RuleKind;
use crate::live::{Live, ServerView};

impl Engine {
    /// Runs `f` for each rule of a kind covering server `id`, with its view.
    pub(super) fn for_rules(
        &mut self,
        id: i64,
        live: &Live,
        kind: impl Fn(&RuleKind) -> bool,
        f: impl FnMut(&mut Engine, usize, &ServerView),
    ) {
        // No rule of the kind: the view is not even copied.
        if !self.rules.iter().any(|r| kind(&r.spec.kind)) {
            return;
        }
        if let Some(v) = live.get(id) {
            self.for_rules_in(&v, kind, f);
        }
    }

    /// [`Engine::for_rules`] on a view the caller holds already.
    pub(super) fn for_rules_in(
        &mut self,
        v: &ServerView,
        kind: impl Fn(&RuleKind) -> bool,
        mut f: impl FnMut(&mut Engine, usize, &ServerView),
    ) {
        let idx: Vec<usize> = (0..self.rules.len())
            .filter(|i| kind(&self.rules[*i].spec.kind))
            .collect();
        for ri in idx {
            if self.rules[ri].spec.covers_server(&v.bucket, &v.name) {
                f(self, ri, v);
            }
        }
    }

    pub(super) fn app_ns(v: &ServerView, app: &str) -> String {
        v.processes
            .values()
            .find(|p| p.name == app)
            .map_or_else(|| "default".into(), |p| p.namespace.clone())
    }

    pub(super) fn check_restarts(
        &mut self,
        id: i64,
        app: &str,
        namespace: Option<&str>,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let app = app.to_string();
        self.for_rules(
            id,
            live,
            |k| matches!(k, RuleKind::Restarts { .. }),
            |e, ri, v| {
                let ns = namespace.map_or_else(|| Engine::app_ns(v, &app), String::from);
                if !e.rules[ri].spec.covers_app(&app, &ns) {
                    return;
                }
                let RuleKind::Restarts { count, window_secs } = e.rules[ri].spec.kind else {
                    return;
                };
                let since = now - window_secs as i64 * 1000;
                let n = e
                    .restarts
                    .get(&(id, app.clone()))
                    .map_or(0, |q| q.iter().filter(|t| **t > since).count());
                let value = (n >= count as usize).then(|| n.to_string());
                e.observe(ri, v, Some((&app, &ns)), value, now, out);
            },
        );
    }

    pub(super) fn check_exception_rate(
        &mut self,
        id: i64,
        key: &str,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let Some(ExceptionTimes {
            times,
            app,
            namespace,
            message,
        }) = self.exception_times.get(&(id, key.to_string())).cloned()
        else {
            return;
        };
        let short: String = message.chars().take(100).collect();
        self.for_rules(
            id,
            live,
            |k| matches!(k, RuleKind::ExceptionRate { .. }),
            |e, ri, v| {
                let RuleKind::ExceptionRate { count, window_secs } = e.rules[ri].spec.kind else {
                    return;
                };
                let ns = namespace.clone().unwrap_or_else(|| Engine::app_ns(v, &app));
                if !e.rules[ri].spec.covers_app(&app, &ns) {
                    return;
                }
                let n = times
                    .iter()
                    .filter(|t| **t > now - window_secs as i64 * 1000)
                    .count();
                let value = (n >= count as usize).then(|| n.to_string());
                e.observe_labelled(
                    ri,
                    v,
                    Some((&app, &ns)),
                    Some(("exception", &short)),
                    value,
                    now,
                    out,
                );
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn stopped(
        &mut self,
        id: i64,
        app: &str,
        namespace: Option<&str>,
        value: Option<String>,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let app = app.to_string();
        self.for_rules(
            id,
            live,
            |k| matches!(k, RuleKind::Stopped),
            |e, ri, v| {
                let ns = namespace.map_or_else(|| Engine::app_ns(v, &app), String::from);
                if e.rules[ri].spec.covers_app(&app, &ns) {
                    e.observe(ri, v, Some((&app, &ns)), value.clone(), now, out);
                }
            },
        );
    }

    pub(super) fn check_errored(
        &mut self,
        id: i64,
        app: &str,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        if !self.rules.iter().any(|r| r.spec.kind == RuleKind::Errored) {
            return;
        }
        if let Some(v) = live.get(id) {
            self.check_errored_in(&v, app, now, out);
        }
    }

    /// [`Engine::check_errored`] on a view the caller holds already.
    pub(super) fn check_errored_in(
        &mut self,
        v: &ServerView,
        app: &str,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        self.for_rules_in(
            v,
            |k| matches!(k, RuleKind::Errored),
            |e, ri, v| {
                let ns = Engine::app_ns(v, app);
                if !e.rules[ri].spec.covers_app(app, &ns) {
                    return;
                }
                let errored = v
                    .processes
                    .values()
                    .filter(|p| p.name == app && p.status == "errored")
                    .count();
                let value = (errored > 0).then(|| format!("{errored} instance(s) errored"));
                e.observe(ri, v, Some((app, &ns)), value, now, out);
            },
        );
    }

    pub(super) fn check_sampled(
        &mut self,
        id: i64,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        if self.sampled.is_empty() {
            return;
        }
        let Some(name) = live.read(id, |v| v.name.clone()) else {
            return;
        };
        let mut idx: Vec<usize> = self.sampled.get("").cloned().unwrap_or_default();
        idx.extend(self.sampled.get(&name).into_iter().flatten());
        if idx.is_empty() {
            return;
        }
        let Some(v) = live.get(id) else {
            return;
        };
        for ri in idx {
            let spec = &self.rules[ri].spec;
            if !spec.covers_server(&v.bucket, &v.name) {
                continue;
            }
            match spec.kind.clone() {
                RuleKind::HostCpu { above } => {
                    let c = f64::from(v.host.cpu);
                    let value = (c > above).then(|| format!("{c:.0} %"));
                    self.observe(ri, &v, None, value, now, out);
                }
                RuleKind::HostMemory { above } => {
                    let pct = v.host.mem_used as f64 * 100.0 / (v.host.mem_total.max(1) as f64);
                    let value = (pct > above).then(|| format!("{pct:.0} %"));
                    self.observe(ri, &v, None, value, now, out);
                }
                kind => {
                    let mut apps: BTreeMap<(&str, &str), Option<f64>> = BTreeMap::new();
                    for p in v.processes.values() {
                        if !spec.covers_app(&p.name, &p.namespace) {
                            continue;
                        }
                        let x = match &kind {
                            RuleKind::Cpu { .. } => Some(f64::from(p.cpu)),
                            RuleKind::Memory { .. } => Some(p.memory as f64),
                            RuleKind::Metric { metric, .. } => {
                                p.metrics.get(metric).and_then(|m| m.as_f64())
                            }
                            _ => None,
                        };
                        let e = apps.entry((&p.name, &p.namespace)).or_insert(None);
                        if let Some(x) = x {
                            // The busiest instance (the lowest, for `below`).
                            let below = matches!(
                                kind,
                                RuleKind::Metric {
                                    below: Some(_),
                                    above: None,
                                    ..
                                }
                            );
                            *e = Some(e.map_or(x, |y| if below { y.min(x) } else { y.max(x) }));
                        }
                    }
                    let hits: Vec<((String, String), Option<String>)> = apps
                        .into_iter()
                        .map(|((a, ns), x)| {
                            let value = x.and_then(|x| match &kind {
                                RuleKind::Cpu { above } => {
                                    (x > *above).then(|| format!("{x:.0} %"))
                                }
                                RuleKind::Memory { above_bytes } => {
                                    (x > *above_bytes as f64).then(|| mib(x))
                                }
                                RuleKind::Metric { above, below, .. } => {
                                    let hit = above.is_some_and(|a| x > a)
                                        || below.is_some_and(|b| x < b);
                                    hit.then(|| format!("{x}"))
                                }
                                _ => None,
                            });
                            ((a.to_string(), ns.to_string()), value)
                        })
                        .collect();
                    for ((a, ns), value) in hits {
                        self.observe(ri, &v, Some((&a, &ns)), value, now, out);
                    }
                }
            }
        }
    }
}
