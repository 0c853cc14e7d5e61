//! Where rules come from: the store, and the rules file.

use serde::Deserialize;

use pmr_shared::sync::Locked;

use super::rule::{Rule, RuleSpec};
use crate::state::Hub;

/// Stored rules, parsed; a rule that no longer parses is skipped and logged.
pub fn stored_rules(hub: &Hub) -> anyhow::Result<Vec<Rule>> {
    let mut out = Vec::new();
    for r in hub.store.alert_rules()? {
        let parsed = serde_json::from_str(&r.spec)
            .map_err(|e| e.to_string())
            .and_then(|v| RuleSpec::parse(v).map_err(|e| e.to_string()));
        match parsed {
            Ok(spec) => out.push(Rule {
                id: r.id,
                spec,
                muted_until: r.muted_until,
                source: "api",
            }),
            Err(e) => tracing::warn!(rule = r.id, "skipping a stored rule: {e}"),
        }
    }
    Ok(out)
}

/// The rules of a rules file (TOML, `[[rule]]` tables): ids -1, -2...
/// With `receivers`, each receiver a rule names must be among them.
/// An error names the file, the rule and the field.
pub fn file_rules(
    path: &std::path::Path,
    receivers: Option<&[String]>,
) -> anyhow::Result<Vec<Rule>> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct File {
        #[serde(default)]
        rule: Vec<toml::Value>,
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let file: File =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let mut out: Vec<Rule> = Vec::new();
    for (i, v) in file.rule.into_iter().enumerate() {
        let json = serde_json::to_value(v)?;
        let name = json["name"].as_str().unwrap_or("?").to_string();
        let spec = RuleSpec::parse(json).and_then(|s| match receivers {
            Some(known) => s
                .check_receivers(known.iter().map(String::as_str))
                .map(|()| s),
            None => Ok(s),
        });
        let spec =
            spec.map_err(|e| anyhow::anyhow!("{}: rule {} ({name}): {e}", path.display(), i + 1))?;
        if out.iter().any(|r| r.spec.name == spec.name) {
            anyhow::bail!(
                "{}: rule {} ({name}): a rule of that name comes earlier",
                path.display(),
                i + 1
            );
        }
        out.push(Rule {
            id: -(i as i64) - 1,
            spec,
            muted_until: None,
            source: "file",
        });
    }
    Ok(out)
}

/// Every rule: the rules file's, then the stored ones (a stored rule with
/// a file rule's name is left out: the file wins).
pub fn all_rules(hub: &Hub) -> anyhow::Result<Vec<Rule>> {
    let receivers = super::receiver_names(hub.store.as_ref())?;
    let mut rules = match &hub.config.alert_rules_file {
        Some(p) => file_rules(p, Some(&receivers))?,
        None => Vec::new(),
    };
    for r in stored_rules(hub)? {
        if rules.iter().any(|f| f.spec.name == r.spec.name) {
            tracing::warn!("stored rule {} is shadowed by the rules file", r.spec.name);
            continue;
        }
        rules.push(r);
    }
    Ok(rules)
}

/// The rules to list: the rules file's as in force (a broken edit of the
/// file is not listed), then the stored ones as stored now.
pub fn listed_rules(hub: &Hub) -> anyhow::Result<Vec<Rule>> {
    let engine = hub.alerts.engine.locked();
    let mut rules: Vec<Rule> = engine
        .rules()
        .iter()
        .filter(|r| r.source == "file")
        .cloned()
        .collect();
    drop(engine);
    for r in stored_rules(hub)? {
        if !rules.iter().any(|f| f.spec.name == r.spec.name) {
            rules.push(r);
        }
    }
    Ok(rules)
}
