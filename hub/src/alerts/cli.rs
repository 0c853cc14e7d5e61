//! `pmr-hub alerts ...`: rules and receivers from the command line, on the
//! store directly (another process than `serve`, as `keys` and `users`
//! are). A running hub notices within a second: each change bumps
//! `alerts_version`, which housekeeping watches.

use std::io::Read as _;

use clap::Subcommand;

use super::receiver::{ReceiverKind, ReceiverSpec};
use super::rule::RuleSpec;
use super::{Target, seal::Sealer};
use crate::access::admin;
use crate::clock::now_ms;
use crate::config::Config;
use crate::store::{Store, Write, Written, write_one};

/// The meta key a change of rules or receivers bumps.
pub const VERSION_KEY: &str = "alerts_version";

/// `pmr-hub alerts ...`.
#[derive(Debug, Subcommand)]
pub enum AlertsCmd {
    /// Every rule: id, name, kind, muted.
    Rules,
    /// Adds a rule from a JSON file (`-`: standard input); see docs/alerts.md.
    AddRule {
        /// The file.
        file: String,
    },
    /// Removes a rule by name.
    RemoveRule {
        /// Its name.
        name: String,
    },
    /// Mutes a rule for some minutes (0 unmutes).
    Mute {
        /// Its name.
        name: String,
        /// Minutes from now.
        #[arg(long, default_value_t = 60)]
        minutes: u64,
    },
    /// Every receiver: id, name, kind, host.
    Receivers,
    /// Adds a receiver; a webhook's signing secret is printed once.
    AddReceiver {
        /// Its name.
        #[arg(long)]
        name: String,
        /// `webhook`, `slack` or `discord`.
        #[arg(long, default_value = "webhook")]
        kind: String,
        /// Where to POST.
        #[arg(long)]
        url: String,
        /// Seconds a new group waits.
        #[arg(long, default_value_t = 30)]
        group_wait: u64,
        /// Seconds between a group's notifications.
        #[arg(long, default_value_t = 300)]
        group_interval: u64,
        /// Seconds before an unchanged firing group is sent again.
        #[arg(long, default_value_t = 14400)]
        repeat_interval: u64,
    },
    /// Removes a receiver by name.
    RemoveReceiver {
        /// Its name.
        name: String,
    },
    /// Sends a test notification to a receiver now; prints every attempt.
    Test {
        /// The receiver's name.
        name: String,
    },
}

fn bump(store: &dyn Store) -> anyhow::Result<()> {
    let w = Write::SetMeta {
        key: VERSION_KEY.into(),
        value: now_ms().to_string(),
    };
    write_one(store, w)?;
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

/// Runs one `alerts` verb; prints what it did.
pub fn run(cmd: AlertsCmd, store: &dyn Store, cfg: &Config) -> anyhow::Result<()> {
    match cmd {
        AlertsCmd::Rules => {
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
        }
        AlertsCmd::AddRule { file } => {
            let text = if file == "-" {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s)?;
                s
            } else {
                std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("{file}: {e}"))?
            };
            let v: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
            let receivers = super::receiver_names(store)?;
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
        }
        AlertsCmd::RemoveRule { name } => {
            let id = rule_id(store, &name)?;
            write_one(store, Write::DeleteRule { id })?;
            admin::audit(store, "alert-rule:delete", &name)?;
            bump(store)?;
            println!("removed rule {name}");
        }
        AlertsCmd::Mute { name, minutes } => {
            let id = rule_id(store, &name)?;
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
        }
        AlertsCmd::Receivers => {
            for r in store.receivers()? {
                let s: ReceiverSpec = serde_json::from_str(&r.spec)?;
                println!("{}\t{}\t{}\t{}", r.id, s.name, s.kind.as_str(), r.host);
            }
        }
        AlertsCmd::AddReceiver {
            name,
            kind,
            url,
            group_wait,
            group_interval,
            repeat_interval,
        } => {
            let kind: ReceiverKind =
                serde_json::from_value(serde_json::Value::String(kind.clone()))
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
            let host = super::host_of(&url, kind).map_err(|e| anyhow::anyhow!("--{e}"))?;
            let secret = (kind == ReceiverKind::Webhook).then(|| {
                let mut raw = [0u8; 32];
                rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
                pmr_shared::link::handshake::hex(&raw)
            });
            let sealer = Sealer::open(&cfg.data_dir)?;
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
                println!(
                    "(shown once: X-Pmr-Signature is HMAC-SHA256 with it, see docs/alerts.md)"
                );
            }
        }
        AlertsCmd::Test { name } => test(store, cfg, &name)?,
        AlertsCmd::RemoveReceiver { name } => {
            let row = store
                .receivers()?
                .into_iter()
                .find(|r| {
                    serde_json::from_str::<ReceiverSpec>(&r.spec).is_ok_and(|s| s.name == name)
                })
                .ok_or_else(|| anyhow::anyhow!("no receiver named {name}"))?;
            let users = super::rules_using(store, cfg.alert_rules_file.as_deref(), &name)?;
            anyhow::ensure!(
                users.is_empty(),
                "receiver {name} is named by rule(s) {}: change them first",
                users.join(", ")
            );
            write_one(store, Write::DeleteReceiver { id: row.id })?;
            admin::audit(store, "receiver:delete", &name)?;
            bump(store)?;
            println!("removed receiver {name}");
        }
    }
    Ok(())
}

/// `alerts test NAME`: one test notification through the delivery code,
/// each attempt printed and logged; fails unless delivered.
fn test(store: &dyn Store, cfg: &Config, name: &str) -> anyhow::Result<()> {
    let row = store
        .receivers()?
        .into_iter()
        .find(|r| serde_json::from_str::<ReceiverSpec>(&r.spec).is_ok_and(|s| s.name == name))
        .ok_or_else(|| anyhow::anyhow!("no receiver named {name}"))?;
    let spec: ReceiverSpec = serde_json::from_str(&row.spec)?;
    let target: Target =
        serde_json::from_slice(&Sealer::open(&cfg.data_dir)?.open_sealed(&row.sealed)?)?;
    let url = crate::link_line::target(store, cfg)
        .url
        .replacen("ws", "http", 1);
    let n = super::test_notification(row.id, &spec.name, &url, "the command line");
    let body = serde_json::to_vec(&n.body(spec.kind))?;
    let secret = target
        .secret
        .as_deref()
        .and_then(pmr_shared::link::handshake::unhex);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut attempts = Vec::new();
    let delivered = rt.block_on(super::deliver::deliver(
        &target.url,
        body,
        secret
            .as_deref()
            .filter(|_| spec.kind == ReceiverKind::Webhook),
        std::time::Duration::from_secs(spec.timeout_secs),
        spec.max_attempts,
        None,
        &super::deliver::Client::new()?,
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
