//! `alerts receivers`, `add-receiver`, `remove-receiver`, `test`:
//! receivers in the store, and a test notification sent from here.

use super::{ReceiverArgs, bump};
use crate::access::admin;
use crate::alerts::receiver::{ReceiverKind, ReceiverSpec};
use crate::alerts::{Target, seal::Sealer};
use crate::clock::now_ms;
use crate::config::Config;
use crate::store::{Store, Write, Written, write_one};

/// `alerts receivers`: id, name, kind, host.
pub(super) fn list(store: &dyn Store) -> anyhow::Result<()> {
    for r in store.receivers()? {
        let s: ReceiverSpec = serde_json::from_str(&r.spec)?;
        println!("{}\t{}\t{}\t{}", r.id, s.name, s.kind.as_str(), r.host);
    }
    Ok(())
}

/// `alerts add-receiver`: the target sealed, a webhook's secret printed once.
pub(super) fn add(store: &dyn Store, cfg: &Config, args: ReceiverArgs) -> anyhow::Result<()> {
    let ReceiverArgs {
        name,
        kind,
        url,
        group_wait,
        group_interval,
        repeat_interval,
    } = args;
    let kind: ReceiverKind = serde_json::from_value(serde_json::Value::String(kind.clone()))
        .map_err(|_| anyhow::anyhow!("--kind {kind}: webhook, slack or discord"))?;
    let spec = ReceiverSpec {
        name: name.clone(),
        kind,
        group_by: vec!["alertname".into()],
        group_wait_secs: group_wait,
        group_interval_secs: group_interval,
        repeat_interval_secs: repeat_interval,
        send_resolved: true,
        timeout_secs: 10,
        max_attempts: 5,
    };
    spec.check()?;
    let host = crate::alerts::host_of(&url, kind).map_err(|e| anyhow::anyhow!("--{e}"))?;
    let secret = (kind == ReceiverKind::Webhook).then(|| {
        let mut raw = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
        pmr_shared::link::handshake::hex(&raw)
    });
    let sealer = Sealer::load(cfg)?;
    let target = Target {
        url,
        secret: secret.clone(),
    };
    let sealed = sealer.seal(serde_json::to_string(&target)?.as_bytes())?;
    let w = Write::CreateReceiver {
        name: name.clone(),
        kind: kind.as_str().into(),
        spec: serde_json::to_string(&spec)?,
        sealed,
        host: host.clone(),
        now: now_ms(),
    };
    match write_one(store, w) {
        Ok(Written::Id(_)) => {}
        Err(crate::store::StoreError::Conflict(_)) => {
            anyhow::bail!("a receiver named {name} exists already")
        }
        Ok(other) => anyhow::bail!("the store answered {other:?}"),
        Err(e) => return Err(e.into()),
    }
    admin::audit(
        store,
        "receiver:create",
        &format!("{name} ({}, {host})", kind.as_str()),
    )?;
    bump(store)?;
    println!("added receiver {name} ({}, {host})", kind.as_str());
    if let Some(s) = secret {
        println!("signing secret: {s}");
        println!("(shown once: X-Pmr-Signature is HMAC-SHA256 with it, see docs/alerts.md)");
    }
    Ok(())
}

/// `alerts remove-receiver NAME`, unless a rule names it.
pub(super) fn remove(store: &dyn Store, cfg: &Config, name: &str) -> anyhow::Result<()> {
    let row = store
        .receivers()?
        .into_iter()
        .find(|r| serde_json::from_str::<ReceiverSpec>(&r.spec).is_ok_and(|s| s.name == name))
        .ok_or_else(|| anyhow::anyhow!("no receiver named {name}"))?;
    let users = crate::alerts::rules_using(store, cfg.alert_rules_file.as_deref(), name)?;
    anyhow::ensure!(
        users.is_empty(),
        "receiver {name} is named by rule(s) {}: change them first",
        users.join(", ")
    );
    write_one(store, Write::DeleteReceiver { id: row.id })?;
    admin::audit(store, "receiver:delete", name)?;
    bump(store)?;
    println!("removed receiver {name}");
    Ok(())
}

/// `alerts test NAME`: one test notification through the delivery code,
/// each attempt printed and logged; fails unless delivered.
pub(super) fn test(store: &dyn Store, cfg: &Config, name: &str) -> anyhow::Result<()> {
    let row = store
        .receivers()?
        .into_iter()
        .find(|r| serde_json::from_str::<ReceiverSpec>(&r.spec).is_ok_and(|s| s.name == name))
        .ok_or_else(|| anyhow::anyhow!("no receiver named {name}"))?;
    let spec: ReceiverSpec = serde_json::from_str(&row.spec)?;
    let target: Target = serde_json::from_slice(&Sealer::load(cfg)?.open_sealed(&row.sealed)?)?;
    let url = crate::link_line::target(store, cfg)
        .url
        .replacen("ws", "http", 1);
    let n = crate::alerts::test_notification(row.id, &spec.name, &url, "the command line");
    let body = serde_json::to_vec(&n.body(spec.kind))?;
    let secret = target
        .secret
        .as_deref()
        .and_then(pmr_shared::link::handshake::unhex);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut attempts = Vec::new();
    let delivered = rt.block_on(crate::alerts::deliver::deliver(
        &target.url,
        body,
        secret
            .as_deref()
            .filter(|_| spec.kind == ReceiverKind::Webhook),
        std::time::Duration::from_secs(spec.timeout_secs),
        spec.max_attempts,
        None,
        &crate::alerts::deliver::Client::new()?,
        |a| {
            println!(
                "attempt {}: {} {}{}",
                a.attempt,
                a.outcome,
                a.http_status
                    .map_or(String::new(), |s| format!("HTTP {s} ")),
                a.error.clone().unwrap_or_default()
            );
            attempts.push(a);
        },
    ));
    for a in attempts {
        let row = crate::store::DeliveryRow {
            receiver_id: row.id,
            group_key: n.group_key.clone(),
            alerts: 1,
            attempt: i64::from(a.attempt),
            outcome: a.outcome.into(),
            http_status: a.http_status.map(i64::from),
            latency_ms: a.latency_ms,
            error: a.error,
            at: now_ms(),
        };
        write_one(store, Write::Delivery(row))?;
    }
    anyhow::ensure!(delivered, "the test notification was not delivered");
    Ok(())
}
