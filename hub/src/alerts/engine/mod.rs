//! The rule engine: each change from the feed is checked against the rules
//! it concerns, in memory (the live state for figures, never the store);
//! a once-a-second tick handles what time alone changes (pending durations,
//! restart windows, offline grace, deploy notices). An alert is pending
//! while its condition holds for less than the rule's `for_secs`, then
//! firing, then resolved when the condition ends.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;
use utoipa::ToSchema;

use super::rule::Rule;
use crate::store::AlertRow;

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

/// Recent occurrences of one exception group on one server, with the
/// labels its events carried.
#[derive(Debug, Clone)]
struct ExceptionTimes {
    times: VecDeque<i64>,
    app: String,
    /// As the agent sent it; `None` from agents that do not send it.
    namespace: Option<String>,
    message: String,
}

/// The engine's memory.
#[derive(Default)]
pub struct Engine {
    rules: Vec<Rule>,
    /// Indexes of rules fed by samples, by the server they name ("" for any).
    sampled: HashMap<String, Vec<usize>>,
    alerts: HashMap<String, Alert>,
    /// Restart times per server and app, oldest first.
    restarts: HashMap<(i64, String), VecDeque<i64>>,
    /// The namespace the restart events of an app carried.
    restart_ns: HashMap<(i64, String), String>,
    down_at: HashMap<i64, i64>,
    /// Exception groups seen (keys), to tell a new one.
    known_exceptions: std::collections::HashSet<String>,
    /// Recent occurrences per server and exception group.
    exception_times: HashMap<(i64, String), ExceptionTimes>,
    /// When servers came back after being down.
    up_at: HashMap<i64, i64>,
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

    /// Notes a restart of `app` (in namespace `ns`, when the agent said) at
    /// `at`, kept in time order, at most 1,000 per app.
    pub fn count_restart(&mut self, server_id: i64, app: &str, ns: Option<&str>, at: i64) {
        if let Some(ns) = ns {
            self.restart_ns
                .insert((server_id, app.to_string()), ns.to_string());
        }
        let q = self
            .restarts
            .entry((server_id, app.to_string()))
            .or_default();
        let i = q.partition_point(|t| *t <= at);
        q.insert(i, at);
        while q.len() > 1000 {
            q.pop_front();
        }
    }

    /// The alerts that were firing when the hub stopped, as the store
    /// kept them: firing again with their start and labels, so none is
    /// announced as new. Returns the rows to close (fingerprint, start):
    /// those whose rule is gone, and duplicates of one fingerprint.
    pub fn restore(&mut self, rows: &[AlertRow]) -> Vec<(String, i64)> {
        let mut close = Vec::new();
        for row in rows {
            let rule = self.rules.iter().find(|r| r.spec.name == row.rule);
            let (Some(rule), false) = (rule, self.alerts.contains_key(&row.fingerprint)) else {
                close.push((row.fingerprint.clone(), row.starts_at));
                continue;
            };
            let map = |v: &serde_json::Value| -> BTreeMap<String, String> {
                serde_json::from_value(v.clone()).unwrap_or_default()
            };
            let annotations = map(&row.annotations);
            let a = Alert {
                fingerprint: row.fingerprint.clone(),
                rule_id: rule.id,
                state: AlertState::Firing,
                labels: map(&row.labels),
                value: String::new(),
                annotations,
                active_since: row.starts_at,
                starts_at: Some(row.starts_at),
                ends_at: None,
                server_id: row.server_id.unwrap_or_default(),
                resolve_at: rule.spec.kind.notice().then(|| {
                    row.starts_at + (rule.spec.for_secs as i64 * 1000).max(DEPLOY_NOTICE_MS)
                }),
            };
            self.alerts.insert(a.fingerprint.clone(), a);
        }
        close
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
}

mod change;
mod checks;
mod observe;
mod resync;
#[cfg(test)]
mod tests;
mod text;
mod tick;
