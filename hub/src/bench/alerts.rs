//! The alerting part of `pmr-hub bench --rules N`: N rules in the store
//! (one `errored` rule for the probes' crashes, one for a storm, the rest
//! CPU rules of one server each, as teams write them), a webhook receiver
//! inside the bench that times each firing alert from the crash that
//! caused it, and a storm: every agent's app-2 errored at once.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use pmr_shared::sync::Locked;

use crate::alerts::Target;
use crate::alerts::receiver::{ReceiverKind, ReceiverSpec};
use crate::alerts::seal::Sealer;
use crate::store::{Store, Write, write_one};

/// What the bench's receiver saw.
#[derive(Default)]
pub(super) struct Seen {
    /// Crash (probe's snapshot) to receiver, minus the group wait, ms.
    pub delays: Vec<f64>,
    /// Storm alerts by fingerprint: how many notifications carried each.
    pub storm: HashMap<String, u32>,
    /// Notifications carrying storm alerts.
    pub storm_notifications: u32,
    /// Alerts that came twice in one notification.
    pub doubled: u32,
}

/// Group wait of the bench's receiver, seconds.
pub(super) const GROUP_WAIT: u64 = 1;

/// Writes `n` rules and a receiver posting to `url` into the store.
pub(super) fn setup(
    store: &dyn Store,
    dir: &std::path::Path,
    n: usize,
    agents: usize,
    url: &str,
) -> anyhow::Result<()> {
    if n == 0 {
        return Ok(());
    }
    let rule = |name: &str, spec: serde_json::Value| -> anyhow::Result<()> {
        write_one(
            store,
            Write::CreateRule {
                name: name.into(),
                spec: spec.to_string(),
                now: 0,
            },
        )?;
        Ok(())
    };
    rule(
        "probe crash",
        serde_json::json!({"name": "probe crash", "kind": "errored", "scope": {"app": "app-1"}, "severity": "critical", "receivers": ["bench"]}),
    )?;
    rule(
        "storm",
        serde_json::json!({"name": "storm", "kind": "errored", "scope": {"app": "app-2"}, "severity": "warning", "receivers": ["storm"]}),
    )?;
    for i in 0..n.saturating_sub(2) {
        let name = format!("busy {i}");
        let server = format!("bench-{:05}", i % agents.max(1));
        rule(
            &name,
            serde_json::json!({"name": name, "kind": "cpu", "above": 95.0, "for_secs": 60, "scope": {"server": server}}),
        )?;
    }
    // Probe crashes one group per server (each waits the group wait);
    // the storm one group for all.
    for (name, group_by) in [
        ("bench", vec!["alertname", "server"]),
        ("storm", vec!["alertname"]),
    ] {
        receiver(store, dir, url, name, group_by)?;
    }
    Ok(())
}

fn receiver(
    store: &dyn Store,
    dir: &std::path::Path,
    url: &str,
    name: &str,
    group_by: Vec<&str>,
) -> anyhow::Result<()> {
    let spec = ReceiverSpec {
        name: name.into(),
        kind: ReceiverKind::Webhook,
        group_by: group_by.into_iter().map(String::from).collect(),
        group_wait_secs: GROUP_WAIT,
        group_interval_secs: 1,
        repeat_interval_secs: 3600,
        send_resolved: true,
        timeout_secs: 10,
        max_attempts: 3,
    };
    let sealed = Sealer::open(dir)?.seal(
        serde_json::to_string(&Target {
            url: url.into(),
            secret: None,
        })?
        .as_bytes(),
    )?;
    write_one(
        store,
        Write::CreateReceiver {
            name: name.into(),
            kind: "webhook".into(),
            spec: serde_json::to_string(&spec)?,
            sealed,
            host: url.into(),
            now: 0,
        },
    )?;
    Ok(())
}

/// Serves the bench's receiver on `l`: times probe crashes, counts storm alerts.
pub(super) async fn receive(
    l: tokio::net::TcpListener,
    crashes: std::sync::Arc<tokio::sync::Mutex<HashMap<String, Instant>>>,
    seen: std::sync::Arc<Mutex<Seen>>,
) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let (crashes, seen) = (crashes.clone(), seen.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 64 * 1024];
            // Head, then Content-Length bytes of body.
            let body = loop {
                let Ok(n) = s.read(&mut chunk).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break buf[end + 4..end + 4 + len].to_vec();
                }
            };
            let at = Instant::now();
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
                return;
            };
            let alerts = v["alerts"].as_array().cloned().unwrap_or_default();
            let crashes = crashes.lock().await;
            let mut seen = seen.locked();
            let mut storm = false;
            let mut here = HashSet::new();
            for a in alerts.iter().filter(|a| a["status"] == "firing") {
                let server = a["labels"]["server"].as_str().unwrap_or_default();
                match a["labels"]["alertname"].as_str() {
                    Some("probe crash") => {
                        if let Some(t) = crashes.get(server) {
                            let ms = at.duration_since(*t).as_secs_f64() * 1000.0
                                - GROUP_WAIT as f64 * 1000.0;
                            seen.delays.push(ms);
                        }
                    }
                    Some("storm") => {
                        storm = true;
                        let fp = a["fingerprint"].as_str().unwrap_or_default().to_string();
                        if !here.insert(fp.clone()) {
                            seen.doubled += 1;
                        }
                        *seen.storm.entry(fp).or_default() += 1;
                    }
                    _ => {}
                }
            }
            if storm {
                seen.storm_notifications += 1;
            }
        });
    }
}
