//! Reading a rule: every field at the top level (no `flatten`, no tagged
//! enum, so serde's error path names the field), then the kind's own
//! fields checked against what the kind takes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{RuleKind, RuleSpec, Scope, warning};
use crate::alerts::invalid::Invalid;

/// The kinds by name, as `kind` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindName {
    Restarts,
    Errored,
    Stopped,
    Cpu,
    Memory,
    HostCpu,
    HostMemory,
    Metric,
    Offline,
    Deploy,
    NewException,
    ExceptionRate,
}

/// A rule as written, every field in one flat struct.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    name: String,
    kind: KindName,
    #[serde(default)]
    scope: Scope,
    #[serde(default)]
    for_secs: u64,
    #[serde(default = "warning")]
    severity: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    receivers: Vec<String>,
    count: Option<u32>,
    window_secs: Option<u64>,
    above: Option<f64>,
    below: Option<f64>,
    above_bytes: Option<u64>,
    grace_secs: Option<u64>,
    metric: Option<String>,
}

/// The kind-specific fields a rule gave, taken one by one; what is left
/// at the end is not a field of its kind.
struct Fields<'a> {
    kind: &'a str,
    given: BTreeMap<&'static str, bool>,
}

impl Fields<'_> {
    fn take<T>(&mut self, name: &'static str, v: Option<T>) -> Result<T, Invalid> {
        self.given.remove(name);
        v.ok_or_else(|| Invalid::new(name, format!("required by kind `{}`", self.kind)))
    }

    fn maybe<T>(&mut self, name: &'static str, v: Option<T>) -> Option<T> {
        self.given.remove(name);
        v
    }

    fn done(self) -> Result<(), Invalid> {
        match self.given.into_iter().find(|(_, given)| *given) {
            Some((name, _)) => Err(Invalid::new(
                name,
                format!("not a field of kind `{}`", self.kind),
            )),
            None => Ok(()),
        }
    }
}

/// A threshold in percent: finite, 0 or more (at most 100 for a share).
fn percent(field: &'static str, v: f64, share: bool) -> Result<f64, Invalid> {
    if !v.is_finite() || v < 0.0 || (share && v > 100.0) {
        let range = if share { "0 to 100" } else { "0 or more" };
        return Err(Invalid::new(field, format!("a percentage, {range}")));
    }
    Ok(v)
}

/// Reads and checks a rule from JSON (the API, the store, or a rules file
/// read as TOML); the error names the field.
pub(super) fn parse(v: serde_json::Value) -> Result<RuleSpec, Invalid> {
    let Some(keys) = v.as_object() else {
        return Err(Invalid::new("", "a rule is a JSON object"));
    };
    // A kind's field given as null is still given (and refused beside
    // another kind).
    let given = |k: &str| keys.contains_key(k);
    let given: BTreeMap<&'static str, bool> = [
        "count",
        "window_secs",
        "above",
        "below",
        "above_bytes",
        "grace_secs",
        "metric",
    ]
    .into_iter()
    .map(|k| (k, given(k)))
    .collect();
    let raw: Raw = Invalid::parse(v)?;
    let kind_name = serde_json::to_value(raw.kind)
        .ok()
        .and_then(|k| k.as_str().map(String::from))
        .unwrap_or_default();
    let mut f = Fields {
        kind: &kind_name,
        given,
    };
    let at_least_1 = |field: &'static str, n: u64| {
        if n == 0 {
            Err(Invalid::new(field, "at least 1"))
        } else {
            Ok(n)
        }
    };
    let kind = match raw.kind {
        KindName::Restarts | KindName::ExceptionRate => {
            let count = at_least_1("count", f.take("count", raw.count)?.into())? as u32;
            let window_secs = at_least_1("window_secs", f.take("window_secs", raw.window_secs)?)?;
            if raw.kind == KindName::Restarts {
                RuleKind::Restarts { count, window_secs }
            } else {
                RuleKind::ExceptionRate { count, window_secs }
            }
        }
        KindName::Errored => RuleKind::Errored,
        KindName::Stopped => RuleKind::Stopped,
        KindName::Deploy => RuleKind::Deploy,
        KindName::NewException => RuleKind::NewException,
        KindName::Cpu => RuleKind::Cpu {
            above: percent("above", f.take("above", raw.above)?, false)?,
        },
        KindName::HostCpu => RuleKind::HostCpu {
            above: percent("above", f.take("above", raw.above)?, true)?,
        },
        KindName::HostMemory => RuleKind::HostMemory {
            above: percent("above", f.take("above", raw.above)?, true)?,
        },
        KindName::Memory => RuleKind::Memory {
            above_bytes: f.take("above_bytes", raw.above_bytes)?,
        },
        KindName::Offline => RuleKind::Offline {
            grace_secs: at_least_1("grace_secs", f.take("grace_secs", raw.grace_secs)?)?,
        },
        KindName::Metric => {
            let metric = f.take("metric", raw.metric)?;
            let (above, below) = (f.maybe("above", raw.above), f.maybe("below", raw.below));
            if above.is_none() && below.is_none() {
                return Err(Invalid::new("above", "give `above`, `below` or both"));
            }
            for (field, x) in [("above", above), ("below", below)] {
                if x.is_some_and(|x| !x.is_finite()) {
                    return Err(Invalid::new(field, "a finite number"));
                }
            }
            RuleKind::Metric {
                metric,
                above,
                below,
            }
        }
    };
    f.done()?;
    let spec = RuleSpec {
        name: raw.name,
        kind,
        scope: raw.scope,
        for_secs: raw.for_secs,
        severity: raw.severity,
        labels: raw.labels,
        annotations: raw.annotations,
        receivers: raw.receivers,
    };
    spec.check()?;
    Ok(spec)
}
