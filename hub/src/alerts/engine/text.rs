//! What an alert says: its labels, their fingerprint, and the default
//! summary and description with the value.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::alerts::rule::{Rule, RuleKind};
use crate::live::ServerView;

pub(super) fn fingerprint(labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (k, v) in labels {
        h.update(k.as_bytes());
        h.update([0]);
        h.update(v.as_bytes());
        h.update([0xff]);
    }
    pmr_shared::link::handshake::hex(&h.finalize()[..8])
}

pub(super) fn labels(
    rule: &Rule,
    v: &ServerView,
    app: Option<(&str, &str)>,
) -> BTreeMap<String, String> {
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

pub(super) fn mib(b: f64) -> String {
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
        RuleKind::ExceptionRate { count, window_secs } => {
            format!("{value} of one exception within {window_secs} s (threshold {count})")
        }
    }
}

pub(super) fn annotations(
    rule: &Rule,
    l: &BTreeMap<String, String>,
    value: &str,
) -> BTreeMap<String, String> {
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
