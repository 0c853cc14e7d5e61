//! `alerts rules`, `add-rule`, `remove-rule`, `mute`: rules in the store.

use std::io::Read as _;

use super::bump;
use crate::access::admin;
use crate::alerts::rule::RuleSpec;
use crate::clock::now_ms;
use crate::store::{Store, Write, write_one};

/// `alerts rules`: id, name, kind, muted.
pub(super) fn list(store: &dyn Store) -> anyhow::Result<()> {
    for r in store.alert_rules()? {
        let v: serde_json::Value = serde_json::from_str(&r.spec)?;
        let muted = r
            .muted_until
            .filter(|m| *m > now_ms())
            .map_or("", |_| "muted");
        println!(
            "{}\t{}\t{}\t{muted}",
            r.id,
            v["name"].as_str().unwrap_or(""),
            v["kind"].as_str().unwrap_or("")
        );
    }
    Ok(())
}

/// `alerts add-rule FILE`: a rule from JSON (`-`: standard input).
pub(super) fn add(store: &dyn Store, file: &str) -> anyhow::Result<()> {
    let text = if file == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{file}: {e}"))?
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let receivers = crate::alerts::receiver_names(store)?;
    let spec = RuleSpec::parse(v)
        .and_then(|s| {
            s.check_receivers(receivers.iter().map(String::as_str))
                .map(|()| s)
        })
        .map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let w = Write::CreateRule {
        name: spec.name.clone(),
        spec: serde_json::to_string(&spec)?,
        now: now_ms(),
    };
    match write_one(store, w) {
        Ok(_) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            anyhow::bail!("a rule named {} exists already", spec.name)
        }
        Err(e) => return Err(e.into()),
    }
    admin::audit(store, "alert-rule:create", &spec.name)?;
    bump(store)?;
    println!("added rule {}", spec.name);
    Ok(())
}

/// `alerts remove-rule NAME`.
pub(super) fn remove(store: &dyn Store, name: &str) -> anyhow::Result<()> {
    let id = rule_id(store, name)?;
    write_one(store, Write::DeleteRule { id })?;
    admin::audit(store, "alert-rule:delete", name)?;
    bump(store)?;
    println!("removed rule {name}");
    Ok(())
}

/// `alerts mute NAME --minutes M` (0 unmutes).
pub(super) fn mute(store: &dyn Store, name: &str, minutes: u64) -> anyhow::Result<()> {
    let id = rule_id(store, name)?;
    let until = (minutes > 0).then(|| now_ms() + minutes as i64 * 60_000);
    write_one(store, Write::MuteRule { id, until })?;
    admin::audit(
        store,
        "alert-rule:mute",
        &format!("{name} for {minutes} min"),
    )?;
    bump(store)?;
    println!(
        "{name}: {}",
        if minutes > 0 {
            format!("muted for {minutes} min")
        } else {
            "unmuted".into()
        }
    );
    Ok(())
}

fn rule_id(store: &dyn Store, name: &str) -> anyhow::Result<i64> {
    for r in store.alert_rules()? {
        let spec: serde_json::Value = serde_json::from_str(&r.spec)?;
        if spec["name"] == name {
            return Ok(r.id);
        }
    }
    anyhow::bail!("no rule named {name}")
}
