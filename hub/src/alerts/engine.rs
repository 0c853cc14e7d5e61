//! The rule engine: each change from the feed is checked against the rules
//! it concerns, in memory (the live state for figures, never the store);
//! a once-a-second tick handles what time alone changes (pending durations,
//! restart windows, offline grace, deploy notices). An alert is pending
//! while its condition holds for less than the rule's `for_secs`, then
//! firing, then resolved when the condition ends.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::rule::{Rule, RuleKind};
use crate::ingest::feed::Change;
use crate::live::{Live, ServerView};

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// The condition holds, for less than the rule's duration.
    Pending,
    /// The condition held long enough.
    Firing,
    /// It ended.
    Resolved,
}

/// One alert: a rule's condition on one server or one app of a server.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Alert {
    /// Hash of its labels, hex.
    pub fingerprint: String,
    /// The rule's id.
    pub rule_id: i64,
    /// Where it is.
    pub state: AlertState,
    /// alertname, severity, bucket, server, app, namespace and the rule's labels.
    pub labels: BTreeMap<String, String>,
    /// summary and description, with the values.
    pub annotations: BTreeMap<String, String>,
    /// The value that crossed the threshold, in words.
    pub value: String,
    /// Since when the condition holds, Unix ms.
    pub active_since: i64,
    /// When it started firing, Unix ms.
    pub starts_at: Option<i64>,
    /// When it resolved, Unix ms.
    pub ends_at: Option<i64>,
    /// The server it is about.
    pub server_id: i64,
    /// A deploy notice's end.
    #[serde(skip)]
    resolve_at: Option<i64>,
}

#[cfg(test)]
impl Alert {
    /// An empty alert for tests.
    pub(crate) fn test() -> Alert {
        Alert {
            fingerprint: String::new(),
            rule_id: 1,
            state: AlertState::Pending,
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            value: String::new(),
            active_since: 0,
            starts_at: Some(0),
            ends_at: None,
            server_id: 1,
            resolve_at: None,
        }
    }
}

/// What changed for the dispatcher and the history.
#[derive(Debug, Clone)]
pub struct Transition {
    /// The alert as it is now (firing, or resolved).
    pub alert: Alert,
}

/// Deploy notices stay firing this long (or the rule's `for_secs`).
const DEPLOY_NOTICE_MS: i64 = 5 * 60 * 1000;
/// A server back online is not reported offline again within this.
const OFFLINE_QUIET_MS: i64 = 60 * 1000;

/// The engine's memory.
#[derive(Default)]
pub struct Engine {
    rules: Vec<Rule>,
    /// Indexes of rules fed by samples, by the server they name ("" for any).
    sampled: HashMap<String, Vec<usize>>,
    alerts: HashMap<String, Alert>,
    restarts: HashMap<(i64, String), VecDeque<i64>>,
    counters: HashMap<(i64, u32), u32>,
    down_at: HashMap<i64, i64>,
    /// Exception groups seen (keys), to tell a new one.
    known_exceptions: std::collections::HashSet<String>,
    /// When servers came back after being down.
    up_at: HashMap<i64, i64>,
}

fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0xff]);
    }
    pmr_shared::link::handshake::hex(&h.finalize()[..8])
}

fn labels(rule: &Rule, v: &ServerView, app: Option<(&str, &str)>) -> BTreeMap<String, String> {
    let mut l = rule.spec.labels.clone();
    l.insert("alertname".into(), rule.spec.name.clone());
    l.insert("severity".into(), rule.spec.severity.clone());
    l.insert("bucket".into(), v.bucket.clone());
    l.insert("server".into(), v.name.clone());
    if let Some((a, ns)) = app {
        l.insert("app".into(), a.into());
        l.insert("namespace".into(), ns.into());
    }
    l
}

fn mib(b: f64) -> String {
    format!("{:.0} MiB", b / 1_048_576.0)
}

/// The default summary of a rule kind with its value.
fn summary(kind: &RuleKind, value: &str) -> String {
    match kind {
        RuleKind::Restarts { count, window_secs } => {
            format!("{value} restarts within {window_secs} s (threshold {count})")
        }
        RuleKind::Errored => "an instance is errored".into(),
        RuleKind::Stopped => format!("stopped without anyone asking ({value})"),
        RuleKind::Cpu { above } => format!("CPU {value} above {above} %"),
        RuleKind::Memory { above_bytes } => {
            format!("memory {value} above {}", mib(*above_bytes as f64))
        }
        RuleKind::HostCpu { above } => format!("host CPU {value} above {above} %"),
        RuleKind::HostMemory { above } => format!("host memory {value} above {above} %"),
        RuleKind::Metric {
            metric,
            above,
            below,
        } => {
            let t = match (above, below) {
                (Some(a), _) => format!("above {a}"),
                (_, Some(b)) => format!("below {b}"),
                _ => String::new(),
            };
            format!("{metric} = {value}, {t}")
        }
        RuleKind::Offline { grace_secs } => {
            format!("offline for {value} (grace {grace_secs} s)")
        }
        RuleKind::Deploy => format!("deployed revision {value}"),
        RuleKind::NewException => format!("a new exception: {value}"),
    }
}

fn annotations(rule: &Rule, l: &BTreeMap<String, String>, value: &str) -> BTreeMap<String, String> {
    let fill = |t: &str| {
        t.replace("{server}", l.get("server").map_or("", |s| s))
            .replace("{app}", l.get("app").map_or("", |s| s))
            .replace("{value}", value)
    };
    let mut a: BTreeMap<String, String> = rule
        .spec
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), fill(v)))
        .collect();
    let s = summary(&rule.spec.kind, value);
    a.entry("summary".into()).or_insert_with(|| s.clone());
    let what = match l.get("app") {
        Some(app) => format!("{app} on {}", l.get("server").map_or("", |s| s)),
        None => l.get("server").cloned().unwrap_or_default(),
    };
    a.entry("description".into())
        .or_insert_with(|| format!("{}: {what}: {s}", rule.spec.name));
    a
}

impl Engine {
    /// An engine over `rules`.
    pub fn new(rules: Vec<Rule>) -> Engine {
        let mut e = Engine::default();
        e.set_rules(rules, 0);
        e
    }

    /// New rules; alerts of rules gone (or changed) resolve.
    pub fn set_rules(&mut self, rules: Vec<Rule>, now: i64) -> Vec<Transition> {
        let keep: HashMap<i64, &Rule> = rules.iter().map(|r| (r.id, r)).collect();
        let gone: Vec<String> = self
            .alerts
            .values()
            .filter(|a| {
                let old = self.rules.iter().find(|r| r.id == a.rule_id);
                keep.get(&a.rule_id)
                    .is_none_or(|r| old.is_none_or(|o| o.spec != r.spec))
            })
            .map(|a| a.fingerprint.clone())
            .collect();
        let out = gone.iter().filter_map(|f| self.end(f, now)).collect();
        self.sampled.clear();
        for (i, r) in rules.iter().enumerate() {
            if r.spec.kind.sampled() {
                let key = r.spec.scope.server.clone().unwrap_or_default();
                self.sampled.entry(key).or_default().push(i);
            }
        }
        self.rules = rules;
        out
    }

    /// The exception groups the store holds, so only new ones are news.
    pub fn know_exceptions(&mut self, keys: impl IntoIterator<Item = String>) {
        self.known_exceptions.extend(keys);
    }

    /// Every alert pending or firing.
    pub fn alerts(&self) -> Vec<Alert> {
        self.alerts.values().cloned().collect()
    }

    /// The rules in force.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The rule with `id`.
    pub fn rule(&self, id: i64) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// Ends an alert: resolved if it fired (a transition), dropped if pending.
    fn end(&mut self, fp: &str, now: i64) -> Option<Transition> {
        let mut a = self.alerts.remove(fp)?;
        if a.state != AlertState::Firing {
            return None;
        }
        a.state = AlertState::Resolved;
        a.ends_at = Some(now);
        Some(Transition { alert: a })
    }

    /// The condition of rule `ri` on a subject holds (`Some(value)`) or not.
    fn observe(
        &mut self,
        ri: usize,
        v: &ServerView,
        app: Option<(&str, &str)>,
        value: Option<String>,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let rule = &self.rules[ri];
        let l = labels(rule, v, app);
        let fp = fingerprint(&l);
        let Some(value) = value else {
            out.extend(self.end(&fp, now));
            return;
        };
        let for_ms = rule.spec.for_secs as i64 * 1000;
        let deploy = rule.spec.kind.notice();
        let ann = annotations(rule, &l, &value);
        let rule_id = rule.id;
        let a = self.alerts.entry(fp.clone()).or_insert_with(|| Alert {
            fingerprint: fp,
            rule_id,
            state: AlertState::Pending,
            labels: l,
            annotations: ann.clone(),
            value: value.clone(),
            active_since: now,
            starts_at: None,
            ends_at: None,
            server_id: v.id,
            resolve_at: None,
        });
        a.value = value;
        a.annotations = ann;
        if deploy {
            a.resolve_at = Some(now + for_ms.max(DEPLOY_NOTICE_MS));
        }
        let due = deploy || now - a.active_since >= for_ms;
        if a.state == AlertState::Pending && due {
            a.state = AlertState::Firing;
            a.starts_at = Some(now);
            out.push(Transition { alert: a.clone() });
        }
    }

    /// Applies one change from the feed.
    pub fn on_change(&mut self, c: &Change, live: &Live, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        match c {
            Change::Restart {
                server_id,
                pm_id,
                app,
                restarts,
            } => {
                let prev = self.counters.insert((*server_id, *pm_id), *restarts);
                let n = prev.map_or(1, |p| restarts.saturating_sub(p).clamp(1, 100));
                let q = self.restarts.entry((*server_id, app.clone())).or_default();
                q.extend(std::iter::repeat_n(now, n as usize));
                while q.len() > 1000 {
                    q.pop_front();
                }
                self.check_restarts(*server_id, app, live, now, &mut out);
            }
            Change::ProcessStatus {
                server_id,
                app,
                status,
                ..
            } => {
                self.check_errored(*server_id, app, live, now, &mut out);
                if status == "online" {
                    self.stopped(*server_id, app, None, live, now, &mut out);
                }
            }
            Change::ProcessRemoved { server_id, app, .. } => {
                self.check_errored(*server_id, app, live, now, &mut out);
                self.stopped(*server_id, app, None, live, now, &mut out);
            }
            Change::Event { server_id, event }
                if event.kind == pmr_shared::link::messages::EventKind::Stopped
                    && event.detail.as_deref()
                        == Some(pmr_shared::link::messages::STOPPED_ITSELF) =>
            {
                let why = format!("instance {}", event.pm_id);
                self.stopped(*server_id, &event.name, Some(why), live, now, &mut out);
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
            } => {
                let rev: String = revision
                    .as_deref()
                    .map_or("unknown".into(), |r| r.chars().take(12).collect());
                let app = app.clone();
                self.for_rules(
                    *server_id,
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
                            e.observe(ri, v, Some((&app, &ns)), Some(rev.clone()), now, &mut out);
                        }
                    },
                );
            }
            Change::Event { server_id, event }
                if event.kind == pmr_shared::link::messages::EventKind::Exception =>
            {
                let detail = event.detail.as_deref().unwrap_or_default();
                let g = crate::ingest::exceptions::group(&event.name, detail);
                if self.known_exceptions.insert(g.key) {
                    let (app, message) = (event.name.clone(), g.message);
                    self.for_rules(*server_id, live, RuleKind::notice_exception, |e, ri, v| {
                        let ns = Engine::app_ns(v, &app);
                        if e.rules[ri].spec.covers_app(&app, &ns) {
                            e.observe(
                                ri,
                                v,
                                Some((&app, &ns)),
                                Some(message.clone()),
                                now,
                                &mut out,
                            );
                        }
                    });
                }
            }
            Change::Event { .. } | Change::ActionResult { .. } => {}
        }
        out
    }

    /// Runs `f` for each rule of a kind covering server `id`, with its view.
    fn for_rules(
        &mut self,
        id: i64,
        live: &Live,
        kind: impl Fn(&RuleKind) -> bool,
        mut f: impl FnMut(&mut Engine, usize, &ServerView),
    ) {
        let idx: Vec<usize> = (0..self.rules.len())
            .filter(|i| kind(&self.rules[*i].spec.kind))
            .collect();
        if idx.is_empty() {
            return;
        }
        let Some(v) = live.get(id) else {
            return;
        };
        for ri in idx {
            if self.rules[ri].spec.covers_server(&v.bucket, &v.name) {
                f(self, ri, &v);
            }
        }
    }

    fn app_ns(v: &ServerView, app: &str) -> String {
        v.processes
            .values()
            .find(|p| p.name == app)
            .map_or_else(|| "default".into(), |p| p.namespace.clone())
    }

    fn check_restarts(
        &mut self,
        id: i64,
        app: &str,
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
                let ns = Engine::app_ns(v, &app);
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

    fn stopped(
        &mut self,
        id: i64,
        app: &str,
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
                let ns = Engine::app_ns(v, &app);
                if e.rules[ri].spec.covers_app(&app, &ns) {
                    e.observe(ri, v, Some((&app, &ns)), value.clone(), now, out);
                }
            },
        );
    }

    fn check_errored(
        &mut self,
        id: i64,
        app: &str,
        live: &Live,
        now: i64,
        out: &mut Vec<Transition>,
    ) {
        let app = app.to_string();
        self.for_rules(
            id,
            live,
            |k| matches!(k, RuleKind::Errored),
            |e, ri, v| {
                let ns = Engine::app_ns(v, &app);
                if !e.rules[ri].spec.covers_app(&app, &ns) {
                    return;
                }
                let errored = v
                    .processes
                    .values()
                    .filter(|p| p.name == app && p.status == "errored")
                    .count();
                let value = (errored > 0).then(|| format!("{errored} instance(s) errored"));
                e.observe(ri, v, Some((&app, &ns)), value, now, out);
            },
        );
    }

    fn check_sampled(&mut self, id: i64, live: &Live, now: i64, out: &mut Vec<Transition>) {
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

    /// What time alone changes: pending durations, restart windows,
    /// offline grace periods, deploy notices.
    pub fn tick(&mut self, live: &Live, now: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        // Restart windows slide: re-check every app with recent restarts.
        let longest = self
            .rules
            .iter()
            .filter_map(|r| match r.spec.kind {
                RuleKind::Restarts { window_secs, .. } => Some(window_secs as i64 * 1000),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        self.restarts.retain(|_, q| {
            while q.front().is_some_and(|t| *t <= now - longest) {
                q.pop_front();
            }
            !q.is_empty()
        });
        let keys: Vec<(i64, String)> = self.restarts.keys().cloned().collect();
        let firing_restarts: Vec<(i64, String)> = self
            .alerts
            .values()
            .filter(|a| {
                matches!(
                    self.rule(a.rule_id).map(|r| &r.spec.kind),
                    Some(RuleKind::Restarts { .. })
                )
            })
            .filter_map(|a| Some((a.server_id, a.labels.get("app")?.clone())))
            .collect();
        for (id, app) in keys.into_iter().chain(firing_restarts) {
            self.check_restarts(id, &app, live, now, &mut out);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rule::RuleSpec;

    fn rule(id: i64, json: serde_json::Value) -> Rule {
        Rule {
            id,
            spec: RuleSpec::parse(json).unwrap(),
            muted_until: None,
            source: "api",
        }
    }

    fn live_with(status: &str) -> Live {
        let live = Live::default();
        let base = ServerView {
            id: 1,
            bucket: "prod".into(),
            name: "web-1".into(),
            online: true,
            ..Default::default()
        };
        let _attached = live.attach(base, 1);
        live.update(1, |v| {
            v.processes.insert(
                0,
                pmr_shared::link::messages::Proc {
                    name: "api".into(),
                    namespace: "default".into(),
                    status: status.into(),
                    ..Default::default()
                },
            )
        });
        live
    }

    fn restart(n: u32) -> Change {
        Change::Restart {
            server_id: 1,
            pm_id: 0,
            app: "api".into(),
            restarts: n,
        }
    }

    #[test]
    fn restarts_in_a_window_fire_at_the_threshold_and_resolve_when_it_slides() {
        let live = live_with("online");
        let r = rule(
            1,
            serde_json::json!({"name": "loop", "kind": "restarts", "count": 3, "window_secs": 10}),
        );
        let mut e = Engine::new(vec![r]);
        assert!(e.on_change(&restart(1), &live, 0).is_empty());
        assert!(e.on_change(&restart(2), &live, 1000).is_empty());
        let fired = e.on_change(&restart(3), &live, 2000);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].alert.state, AlertState::Firing);
        assert_eq!(fired[0].alert.value, "3");
        assert_eq!(fired[0].alert.labels["app"], "api");
        assert!(e.tick(&live, 9_000).is_empty(), "still 3 within the window");
        let resolved = e.tick(&live, 10_500);
        assert_eq!(resolved.len(), 1, "the first restart left the window");
        assert_eq!(resolved[0].alert.state, AlertState::Resolved);
        assert_eq!(resolved[0].alert.ends_at, Some(10_500));
        assert!(e.alerts().is_empty());
    }

    #[test]
    fn a_condition_is_pending_for_the_rule_duration_then_fires() {
        let live = live_with("errored");
        let r = rule(
            1,
            serde_json::json!({"name": "down", "kind": "errored", "for_secs": 5}),
        );
        let mut e = Engine::new(vec![r]);
        let c = Change::ProcessStatus {
            server_id: 1,
            pm_id: 0,
            app: "api".into(),
            was: Some("online".into()),
            status: "errored".into(),
        };
        assert!(e.on_change(&c, &live, 0).is_empty());
        assert_eq!(e.alerts()[0].state, AlertState::Pending);
        assert!(e.tick(&live, 4_999).is_empty());
        let fired = e.tick(&live, 5_000);
        assert_eq!(fired[0].alert.state, AlertState::Firing);
        // Back online before the end of a pending period: dropped, no notice.
        let live = live_with("online");
        let mut e = Engine::new(vec![rule(
            1,
            serde_json::json!({"name": "down", "kind": "errored", "for_secs": 5}),
        )]);
        let errored = live_with("errored");
        e.on_change(&c, &errored, 0);
        assert!(e.on_change(&c, &live, 1000).is_empty());
        assert!(e.alerts().is_empty() && e.tick(&live, 10_000).is_empty());
    }

    #[test]
    fn offline_fires_after_grace_and_is_quiet_for_a_minute_after_a_return() {
        let live = live_with("online");
        let r = rule(
            1,
            serde_json::json!({"name": "off", "kind": "offline", "grace_secs": 30}),
        );
        let mut e = Engine::new(vec![r]);
        e.on_change(&Change::ServerDown { server_id: 1 }, &live, 0);
        assert!(e.tick(&live, 29_000).is_empty());
        assert_eq!(e.tick(&live, 30_000).len(), 1);
        let up = Change::ServerUp {
            server_id: 1,
            name: "web-1".into(),
            bucket: "prod".into(),
        };
        assert_eq!(
            e.on_change(&up, &live, 40_000)[0].alert.state,
            AlertState::Resolved
        );
        // Down again 10 s later: its grace starts a minute after the return.
        e.on_change(&Change::ServerDown { server_id: 1 }, &live, 50_000);
        assert!(
            e.tick(&live, 90_000).is_empty(),
            "quiet minute after the return"
        );
        assert!(e.tick(&live, 129_000).is_empty());
        assert_eq!(e.tick(&live, 130_000).len(), 1);
    }
}
