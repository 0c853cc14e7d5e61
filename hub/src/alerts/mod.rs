//! Alerts: rules evaluated as the change feed delivers data ([`engine`]),
//! alerts grouped per receiver with Alertmanager's semantics ([`group`]),
//! and notifications delivered to webhooks, Slack and Discord ([`deliver`],
//! [`receiver`]), each receiver on its own queue and task, so a slow or
//! dead one never slows ingest or the others. Evaluation and sending sit
//! behind one seam, [`Lease`]: with several hub replicas, only the holder
//! of the lease sends.

pub mod cli;
pub mod deliver;
pub mod engine;
pub mod group;
pub mod receiver;
pub mod rule;
pub mod seal;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast::error::RecvError, mpsc};

use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{AlertRow, DeliveryRow, ReceiverRow, Write};
use engine::{AlertState, Engine, Transition};
use group::{Dispatcher, Route};
use receiver::{Notification, ReceiverKind, ReceiverSpec};
use rule::{Rule, RuleSpec};

/// Whether this hub may send notifications now. One hub holds it always;
/// replicas will take it through the store.
pub trait Lease: Send + Sync {
    /// True while this hub is the one that sends.
    fn held(&self) -> bool;
}

/// The lease of a hub that runs alone.
pub struct Single;

impl Lease for Single {
    fn held(&self) -> bool {
        true
    }
}

/// What a sealed receiver target holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Target {
    /// Where to POST.
    pub url: String,
    /// The webhook's signing secret, hex (none for Slack and Discord).
    pub secret: Option<String>,
}

/// The API's way to the alerting task.
pub struct Handle {
    engine: Arc<Mutex<Engine>>,
    reload: mpsc::Sender<()>,
    reload_rx: Mutex<Option<mpsc::Receiver<()>>>,
    sealer: seal::Sealer,
}

impl Handle {
    /// A handle whose secrets are sealed with the key in `data_dir`.
    pub fn new(data_dir: &std::path::Path) -> anyhow::Result<Handle> {
        let (tx, rx) = mpsc::channel(4);
        Ok(Handle {
            engine: Arc::new(Mutex::new(Engine::default())),
            reload: tx,
            reload_rx: Mutex::new(Some(rx)),
            sealer: seal::Sealer::open(data_dir)?,
        })
    }

    /// Alerts pending or firing now.
    pub fn alerts(&self) -> Vec<engine::Alert> {
        self.engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .alerts()
    }

    /// Rules or receivers changed in the store: the task reloads them.
    pub fn reload(&self) {
        let _ = self.reload.try_send(());
    }

    /// Seals a receiver's target.
    pub fn seal(&self, t: &Target) -> anyhow::Result<String> {
        self.sealer.seal(serde_json::to_string(t)?.as_bytes())
    }

    fn open(&self, sealed: &str) -> anyhow::Result<Target> {
        Ok(serde_json::from_slice(&self.sealer.open_sealed(sealed)?)?)
    }
}

/// Stored rules, parsed; a rule that no longer parses is skipped and logged.
pub fn stored_rules(hub: &Hub) -> anyhow::Result<Vec<Rule>> {
    let mut out = Vec::new();
    for r in hub.store.alert_rules()? {
        let parsed = serde_json::from_str(&r.spec)
            .map_err(|e| e.to_string())
            .and_then(RuleSpec::parse);
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
/// An error names the file, the rule and the field.
pub fn file_rules(path: &std::path::Path) -> anyhow::Result<Vec<Rule>> {
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
        let spec = RuleSpec::parse(json)
            .map_err(|e| anyhow::anyhow!("{}: rule {} ({name}): {e}", path.display(), i + 1))?;
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
    let mut rules = match &hub.config.alert_rules_file {
        Some(p) => file_rules(p)?,
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
    let engine = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner());
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

/// A stored receiver with its settings parsed.
pub fn receiver_spec(row: &ReceiverRow) -> anyhow::Result<ReceiverSpec> {
    Ok(serde_json::from_str(&row.spec)?)
}

/// Scheme and host of a receiver's URL, which must be http(s) (http only
/// for a webhook: Slack and Discord are https).
pub fn host_of(url: &str, kind: ReceiverKind) -> Result<String, String> {
    let uri: axum::http::Uri = url.parse().map_err(|e| format!("url: {e}"))?;
    let scheme = uri.scheme_str().unwrap_or_default();
    if scheme != "https" && (scheme != "http" || kind != ReceiverKind::Webhook) {
        return Err("url: https:// (http:// only for a webhook)".into());
    }
    let host = uri.authority().ok_or("url: no host")?;
    Ok(format!("{scheme}://{host}"))
}

/// The dashboard's address, for links in notifications.
fn external_url(hub: &Hub) -> String {
    let t = crate::link_line::target(hub.store.as_ref(), &hub.config);
    t.url
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1)
        .trim_end_matches('/')
        .to_string()
}

fn record(hub: &Arc<Hub>, w: Write) {
    let hub = hub.clone();
    tokio::spawn(async move {
        if let Err(e) = hub.ingest.writer.write(w).await {
            tracing::warn!("cannot record an alert or delivery: {e}");
        }
    });
}

/// Delivers one notification now, every attempt recorded; the attempts.
pub async fn send_now(
    hub: &Arc<Hub>,
    row: &ReceiverRow,
    n: &Notification,
    tls: &tokio_rustls::TlsConnector,
) -> anyhow::Result<Vec<deliver::Attempt>> {
    let spec = receiver_spec(row)?;
    let target = hub.alerts.open(&row.sealed)?;
    let secret = target
        .secret
        .as_deref()
        .and_then(pmr_shared::link::handshake::unhex);
    let body = serde_json::to_vec(&n.body(spec.kind))?;
    let mut attempts = Vec::new();
    deliver::deliver(
        &target.url,
        body,
        secret
            .as_deref()
            .filter(|_| spec.kind == ReceiverKind::Webhook),
        Duration::from_secs(spec.timeout_secs),
        spec.max_attempts,
        tls,
        |a| {
            record(
                hub,
                Write::Delivery(DeliveryRow {
                    receiver_id: row.id,
                    group_key: n.group_key.clone(),
                    alerts: n.alerts.len() as i64,
                    attempt: i64::from(a.attempt),
                    outcome: a.outcome.into(),
                    http_status: a.http_status.map(i64::from),
                    latency_ms: a.latency_ms,
                    error: a.error.clone(),
                    at: now_ms(),
                }),
            );
            attempts.push(a);
        },
    )
    .await;
    Ok(attempts)
}

/// Each receiver's queue: notifications wait here for its own task.
const QUEUE: usize = 256;

/// Starts one delivery task per receiver; their queues by receiver id.
fn workers(hub: &Arc<Hub>, rows: &[ReceiverRow]) -> Vec<(i64, mpsc::Sender<Notification>)> {
    let tls = deliver::tls();
    rows.iter()
        .map(|row| {
            let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
            let id = row.id;
            let (hub, row, tls) = (hub.clone(), row.clone(), tls.clone());
            tokio::spawn(async move {
                while let Some(n) = rx.recv().await {
                    if let Err(e) = send_now(&hub, &row, &n, &tls).await {
                        tracing::warn!(receiver = row.id, "cannot deliver: {e}");
                    }
                }
            });
            (id, tx)
        })
        .collect()
}

/// The alerting task: the feed in, notifications out, until the feed ends.
pub async fn run(hub: Arc<Hub>, lease: Arc<dyn Lease>) {
    let Some(mut reloads) = hub
        .alerts
        .reload_rx
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    else {
        return;
    };
    let mut feed = hub.ingest.subscribe();
    let mut dispatcher = Dispatcher::new(Vec::new(), external_url(&hub));
    // Groups stored before this start are not news.
    let known = hub.store.exception_groups(i64::MAX).unwrap_or_default();
    hub.alerts
        .engine
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .know_exceptions(known.into_iter().map(|g| g.key));
    let load = |dispatcher: &mut Dispatcher| -> Vec<(i64, mpsc::Sender<Notification>)> {
        let rules = match all_rules(&hub) {
            Ok(r) => r,
            Err(e) => {
                // A broken edit of the rules file keeps the rules running.
                tracing::warn!("rules not reloaded: {e:#}");
                hub.alerts
                    .engine
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .rules()
                    .to_vec()
            }
        };
        let ts = hub
            .alerts
            .engine
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set_rules(rules, now_ms());
        let rows = hub.store.receivers().unwrap_or_default();
        let routes = rows
            .iter()
            .filter_map(|r| {
                Some(Route {
                    id: r.id,
                    spec: receiver_spec(r).ok()?,
                })
            })
            .collect();
        dispatcher.set_routes(routes);
        handle(&hub, dispatcher, ts);
        workers(&hub, &rows)
    };
    let mut queues = load(&mut dispatcher);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let due = dispatcher.due().map(tokio::time::Instant::from_std);
        tokio::select! {
            c = feed.recv() => match c {
                Ok(c) => {
                    let ts = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner()).on_change(&c, &hub.live, now_ms());
                    handle(&hub, &mut dispatcher, ts);
                }
                Err(RecvError::Lagged(n)) => tracing::warn!("alerts fell {n} changes behind the feed"),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let ts = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner()).tick(&hub.live, now_ms());
                handle(&hub, &mut dispatcher, ts);
            }
            () = async { match due { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                if lease.held() {
                    for n in dispatcher.flush(Instant::now()) {
                        match queues.iter().find(|(id, _)| *id == n.receiver_id) {
                            Some((_, q)) => {
                                if q.try_send(n).is_err() {
                                    tracing::warn!("a receiver's queue is full: a notification was dropped");
                                }
                            }
                            None => tracing::warn!("no queue for receiver {}", n.receiver_id),
                        }
                    }
                }
            }
            Some(()) = reloads.recv() => queues = load(&mut dispatcher),
        }
    }
}

/// Records each transition and hands it to the dispatcher (unless muted).
fn handle(hub: &Arc<Hub>, dispatcher: &mut Dispatcher, ts: Vec<Transition>) {
    if ts.is_empty() {
        return;
    }
    let engine = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner());
    let now = now_ms();
    for t in ts {
        let a = &t.alert;
        let Some(rule) = engine.rule(a.rule_id) else {
            continue;
        };
        let starts_at = a.starts_at.unwrap_or(a.active_since);
        let w = match a.state {
            AlertState::Resolved => Write::AlertResolved {
                fingerprint: a.fingerprint.clone(),
                starts_at,
                ends_at: a.ends_at.unwrap_or(now),
            },
            _ => Write::AlertFired(AlertRow {
                fingerprint: a.fingerprint.clone(),
                rule: rule.spec.name.clone(),
                labels: serde_json::to_value(&a.labels).unwrap_or_default(),
                annotations: serde_json::to_value(&a.annotations).unwrap_or_default(),
                starts_at,
                ends_at: None,
            }),
        };
        record(hub, w);
        if rule.muted_until.is_some_and(|m| m > now) {
            continue;
        }
        dispatcher.add(a, &rule.spec.receivers, Instant::now());
    }
}
