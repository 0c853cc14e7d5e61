//! Alert rules: what to watch (the kind), where (the scope), how long a
//! condition must hold before it fires, and what the notification says.
//! Rules are JSON in the API, TOML in a rules file, and stored as JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::invalid::Invalid;

mod parse;

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

/// A rule as written: in the API, a rules file, or the store; read by
/// [`RuleSpec::parse`], which names the field of any mistake.
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

/// Text fields: 1 to `max` bytes, no control characters.
fn text(field: &str, v: &str, max: usize) -> Result<(), Invalid> {
    if v.is_empty() || v.chars().count() > max || v.chars().any(char::is_control) {
        Err(Invalid::new(
            field,
            format!("1 to {max} characters, no control characters"),
        ))
    } else {
        Ok(())
    }
}

impl RuleSpec {
    /// Parses and checks a rule; an unknown or wrong field is named.
    pub fn parse(v: serde_json::Value) -> Result<RuleSpec, Invalid> {
        parse::parse(v)
    }

    /// Checks the fields every kind has; the error names the field.
    pub fn check(&self) -> Result<(), Invalid> {
        text("name", &self.name, 128)?;
        if !SEVERITIES.contains(&self.severity.as_str()) {
            return Err(Invalid::new("severity", "critical, warning or info"));
        }
        for (k, v) in &self.labels {
            if !label_name_ok(k) {
                return Err(Invalid::new(
                    format!("labels.{k}"),
                    "a label name is [A-Za-z_][A-Za-z0-9_]*",
                ));
            }
            text(&format!("labels.{k}"), v, 256)?;
        }
        for (k, v) in &self.annotations {
            if v.chars().count() > 4096 {
                return Err(Invalid::new(
                    format!("annotations.{k}"),
                    "at most 4096 characters",
                ));
            }
        }
        for (i, r) in self.receivers.iter().enumerate() {
            text(&format!("receivers[{i}]"), r, 128)?;
        }
        for (field, v) in [
            ("scope.bucket", &self.scope.bucket),
            ("scope.server", &self.scope.server),
            ("scope.app", &self.scope.app),
            ("scope.namespace", &self.scope.namespace),
        ] {
            if let Some(v) = v {
                text(field, v, 256)?;
            }
        }
        if self.for_secs > 7 * 86400 {
            return Err(Invalid::new("for_secs", "at most a week (604800)"));
        }
        Ok(())
    }

    /// Checks that every receiver the rule names exists.
    pub fn check_receivers<'a>(
        &self,
        known: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<(), Invalid> {
        for (i, r) in self.receivers.iter().enumerate() {
            if !known.clone().into_iter().any(|k| k == r) {
                return Err(Invalid::new(
                    format!("receivers[{i}]"),
                    format!(
                        "no receiver is named `{r}` (add it first: dashboard, API or `pmr-hub alerts add-receiver`)"
                    ),
                ));
            }
        }
        Ok(())
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
    use serde_json::json;

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
        let err = |t: &str| RuleSpec::parse(json(t)).unwrap_err().to_string();
        assert_eq!(
            err(r#"{"name": "x", "kind": "metric", "metric": "q"}"#),
            "above: give `above`, `below` or both"
        );
        assert_eq!(
            err(r#"{"name": "x", "kind": "errored", "bogus": 1}"#),
            "bogus: unknown field `bogus`, expected one of `name`, `kind`, `scope`, `for_secs`, `severity`, `labels`, `annotations`, `receivers`, `count`, `window_secs`, `above`, `below`, `above_bytes`, `grace_secs`, `metric`"
        );
        assert_eq!(
            err(r#"{"name": "x", "kind": "errored", "count": 1}"#),
            "count: not a field of kind `errored`"
        );
    }

    #[test]
    fn every_mistake_names_its_field() {
        let err = |t: &str| {
            let e = RuleSpec::parse(serde_json::from_str(t).unwrap()).unwrap_err();
            (e.field, e.message)
        };
        let field = |t: &str| err(t).0;
        let r = r#""name": "x", "kind": "restarts", "window_secs": 60"#;
        assert_eq!(field(&format!("{{{r}, \"count\": -1}}")), "count");
        assert_eq!(field(&format!("{{{r}, \"count\": 0}}")), "count");
        assert_eq!(field(&format!("{{{r}}}")), "count");
        assert_eq!(
            field(&format!("{{{r}, \"count\": 2, \"for_secs\": \"5m\"}}")),
            "for_secs"
        );
        assert_eq!(
            field(r#"{"name": "x", "kind": "cpu", "above": "high"}"#),
            "above"
        );
        assert_eq!(
            field(r#"{"name": "x", "kind": "cpu", "above": -5}"#),
            "above"
        );
        assert_eq!(
            field(r#"{"name": "x", "kind": "host_cpu", "above": 101}"#),
            "above"
        );
        assert_eq!(
            field(r#"{"name": "x", "kind": "cpu", "above": 5, "scope": {"app": 3}}"#),
            "scope.app"
        );
        assert_eq!(
            field(r#"{"name": "x", "kind": "errored", "receivers": ["ok", 7]}"#),
            "receivers[1]"
        );
        assert_eq!(field(r#"{"name": "x", "kind": "nope"}"#), "kind");
        assert_eq!(field(r#"{"kind": "errored"}"#), "name");
        let e =
            RuleSpec::parse(json!({"name": "x", "kind": "errored", "receivers": ["ops"]})).unwrap();
        assert_eq!(
            e.check_receivers(["pager"]).unwrap_err().to_string(),
            "receivers[0]: no receiver is named `ops` (add it first: dashboard, API or `pmr-hub alerts add-receiver`)"
        );
        assert!(e.check_receivers(["ops"]).is_ok());
    }
}
