//! Alert rules: what to watch (the kind), where (the scope), how long a
//! condition must hold before it fires, and what the notification says.
//! Rules are JSON in the API, TOML in a rules file, and stored as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a rule watches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// An app restarted at least `count` times within `window_secs`.
    Restarts {
        /// Restarts that fire.
        count: u32,
        /// The window, seconds.
        window_secs: u64,
    },
    /// An instance of an app is `errored`.
    Errored,
    /// An app stopped by its own exit (no one asked: its exit code is a
    /// stop code, or it does not restart); resolves when it runs again.
    Stopped,
    /// An app's CPU (percent of one core, its busiest instance) above `above`.
    Cpu {
        /// Threshold, percent.
        above: f64,
    },
    /// An app's resident memory (its largest instance) above `above_bytes`.
    Memory {
        /// Threshold, bytes.
        above_bytes: u64,
    },
    /// A server's host CPU (percent of all CPUs) above `above`.
    HostCpu {
        /// Threshold, percent.
        above: f64,
    },
    /// A server's used memory (percent of its total) above `above`.
    HostMemory {
        /// Threshold, percent.
        above: f64,
    },
    /// A custom metric of an app (@pm2/io or the notify socket) above or
    /// below a threshold.
    Metric {
        /// The metric's name.
        metric: String,
        /// Fires above this.
        above: Option<f64>,
        /// Fires below this.
        below: Option<f64>,
    },
    /// A server offline longer than `grace_secs`.
    Offline {
        /// Grace period, seconds.
        grace_secs: u64,
    },
    /// An app's revision changed (a deploy); resolves after `for_secs`
    /// of the rule, or 5 minutes.
    Deploy,
    /// An exception of a group never seen before (message and top frame);
    /// resolves as a deploy does.
    NewException,
    /// One exception group of an app `count` times within `window_secs`
    /// on a server (label `exception`: its message).
    ExceptionRate {
        /// Occurrences that fire.
        count: u32,
        /// The window, seconds.
        window_secs: u64,
    },
}

impl RuleKind {
    /// Whether the rule is about apps (labels `app`) or servers.
    pub fn per_app(&self) -> bool {
        !matches!(
            self,
            RuleKind::HostCpu { .. } | RuleKind::HostMemory { .. } | RuleKind::Offline { .. }
        )
    }

    /// Whether it fires once on an event and resolves on its own.
    pub fn notice(&self) -> bool {
        matches!(self, RuleKind::Deploy | RuleKind::NewException)
    }

    /// Whether it is [`RuleKind::NewException`].
    pub fn notice_exception(&self) -> bool {
        matches!(self, RuleKind::NewException)
    }

    /// Whether live samples (one a second per agent) feed it.
    pub fn sampled(&self) -> bool {
        matches!(
            self,
            RuleKind::Cpu { .. }
                | RuleKind::Memory { .. }
                | RuleKind::HostCpu { .. }
                | RuleKind::HostMemory { .. }
                | RuleKind::Metric { .. }
        )
    }
}

/// Where a rule applies; an empty field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Scope {
    /// Only servers of this bucket.
    pub bucket: Option<String>,
    /// Only this server (its name).
    pub server: Option<String>,
    /// Only this app.
    pub app: Option<String>,
    /// Only apps of this namespace.
    pub namespace: Option<String>,
}

/// A rule as written: in the API, a rules file, or the store. (Unknown
/// fields are refused by [`RuleSpec::parse`]: serde cannot with `flatten`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RuleSpec {
    /// The rule's name: the `alertname` label; unique.
    pub name: String,
    /// What it watches.
    #[serde(flatten)]
    pub kind: RuleKind,
    /// Where.
    #[serde(default)]
    pub scope: Scope,
    /// How long the condition must hold before the alert fires, seconds
    /// (pending until then); 0 fires at once.
    #[serde(default)]
    pub for_secs: u64,
    /// `critical`, `warning` or `info`.
    #[serde(default = "warning")]
    pub severity: String,
    /// Extra labels for routing and grouping.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// `summary` and `description`, with `{server}`, `{app}`, `{value}` and
    /// `{threshold}` replaced; defaults say what fired and its value.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Receivers (names) it goes to; empty: every receiver.
    #[serde(default)]
    pub receivers: Vec<String>,
}

/// Kind fields that may be left out (and are then not serialized back).
fn optional(k: &str) -> bool {
    k == "above" || k == "below"
}

fn warning() -> String {
    "warning".into()
}

const SEVERITIES: [&str; 3] = ["critical", "warning", "info"];

fn label_name_ok(k: &str) -> bool {
    let mut chars = k.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Fields every rule may have; each kind adds its own.
const COMMON: [&str; 8] = [
    "name",
    "kind",
    "scope",
    "for_secs",
    "severity",
    "labels",
    "annotations",
    "receivers",
];

impl RuleSpec {
    /// Parses and checks a rule; an unknown or wrong field is named.
    pub fn parse(v: serde_json::Value) -> Result<RuleSpec, String> {
        let keys: Vec<String> = v
            .as_object()
            .ok_or("a rule is an object")?
            .keys()
            .cloned()
            .collect();
        let spec: RuleSpec = serde_json::from_value(v).map_err(|e| e.to_string())?;
        let own = serde_json::to_value(&spec.kind).map_err(|e| e.to_string())?;
        let own = own
            .as_object()
            .map(|o| o.keys().cloned().collect::<Vec<_>>());
        let own = own.unwrap_or_default();
        if let Some(k) = keys
            .iter()
            .find(|k| !COMMON.contains(&k.as_str()) && !own.contains(k) && !optional(k))
        {
            return Err(format!("unknown field `{k}`"));
        }
        spec.check()?;
        Ok(spec)
    }

    /// Checks every field; the error names the field.
    pub fn check(&self) -> Result<(), String> {
        let text = |field: &str, v: &str, max: usize| {
            if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
                Err(format!(
                    "{field}: 1 to {max} characters, no control characters"
                ))
            } else {
                Ok(())
            }
        };
        text("name", &self.name, 128)?;
        if !SEVERITIES.contains(&self.severity.as_str()) {
            return Err("severity: critical, warning or info".into());
        }
        for (k, v) in &self.labels {
            if !label_name_ok(k) {
                return Err(format!(
                    "labels.{k}: a label name is [A-Za-z_][A-Za-z0-9_]*"
                ));
            }
            text(&format!("labels.{k}"), v, 256)?;
        }
        for (k, v) in &self.annotations {
            if v.chars().count() > 4096 {
                return Err(format!("annotations.{k}: at most 4096 characters"));
            }
        }
        if self.for_secs > 7 * 86400 {
            return Err("for_secs: at most a week".into());
        }
        match &self.kind {
            RuleKind::Restarts { count, window_secs }
            | RuleKind::ExceptionRate { count, window_secs }
                if *count == 0 || *window_secs == 0 =>
            {
                Err("count and window_secs must be at least 1".into())
            }
            RuleKind::Metric {
                metric,
                above,
                below,
            } => {
                text("metric", metric, 256)?;
                if above.is_none() && below.is_none() {
                    return Err("metric: give `above`, `below` or both".into());
                }
                Ok(())
            }
            RuleKind::Offline { grace_secs } if *grace_secs == 0 => {
                Err("offline: grace_secs must be at least 1".into())
            }
            _ => Ok(()),
        }
    }

    /// Whether the rule applies to a server of `bucket` named `server`.
    pub fn covers_server(&self, bucket: &str, server: &str) -> bool {
        self.scope.bucket.as_deref().is_none_or(|b| b == bucket)
            && self.scope.server.as_deref().is_none_or(|s| s == server)
    }

    /// Whether the rule applies to app `app` of namespace `namespace`.
    pub fn covers_app(&self, app: &str, namespace: &str) -> bool {
        self.scope.app.as_deref().is_none_or(|a| a == app)
            && self
                .scope
                .namespace
                .as_deref()
                .is_none_or(|n| n == namespace)
    }
}

/// A stored rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rule {
    /// Row id.
    pub id: i64,
    /// The rule.
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Muted (nothing is sent) until this Unix ms; null when not muted.
    pub muted_until: Option<i64>,
    /// Where it comes from: `api` (stored) or `file` (the rules file).
    pub source: &'static str,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_from_json_and_are_checked() {
        let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
        let r = RuleSpec::parse(json(
            r#"{"name": "crash loop", "kind": "restarts", "count": 3, "window_secs": 60,
                "scope": {"app": "api"}, "severity": "critical"}"#,
        ))
        .unwrap();
        assert_eq!(
            r.kind,
            RuleKind::Restarts {
                count: 3,
                window_secs: 60
            }
        );
        assert!(r.check().is_ok());
        assert!(r.covers_app("api", "default") && !r.covers_app("web", "default"));
        let bad = RuleSpec::parse(json(r#"{"name": "x", "kind": "metric", "metric": "q"}"#));
        assert!(bad.unwrap_err().contains("above"));
        let unknown = RuleSpec::parse(json(r#"{"name": "x", "kind": "errored", "bogus": 1}"#));
        assert_eq!(unknown.unwrap_err(), "unknown field `bogus`");
        let wrong_kind = RuleSpec::parse(json(r#"{"name": "x", "kind": "errored", "count": 1}"#));
        assert_eq!(wrong_kind.unwrap_err(), "unknown field `count`");
    }
}
