//! The alerting task: the change feed in, each transition recorded and
//! grouped, notifications out to one queue and delivery task per receiver.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast::error::RecvError, mpsc};

use super::engine::{AlertState, Transition};
use super::group::{Dispatcher, Route};
use super::receiver::{Notification, ReceiverKind};
use super::{Lease, all_rules, deliver, receiver_spec};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{AlertRow, DeliveryRow, ReceiverRow, Write};

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
    hub.alerts.recorder.record(&hub.writer, w);
}

/// Delivers one notification now, every attempt recorded; the attempts.
/// With a `budget`, no attempt or wait runs past it, so a caller waiting
/// for the outcome gets it in time.
pub async fn send_now(
    hub: &Arc<Hub>,
    row: &ReceiverRow,
    n: &Notification,
    budget: Option<Duration>,
) -> anyhow::Result<Vec<deliver::Attempt>> {
    let spec = receiver_spec(row)?;
    let deadline = budget.map(|b| std::time::Instant::now() + b);
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
        deadline,
        &hub.alerts.client,
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

/// A catch-up from the live state after a lag runs at most this often.
const RESYNC_EVERY_MS: i64 = 5_000;

/// Each receiver's queue: notifications wait here for its own task.
const QUEUE: usize = 256;

/// How a notification's delivery ended: it, and whether it was delivered.
type Ack = (Notification, bool);

/// Starts one delivery task per receiver; their queues by receiver id.
/// Each delivery's end goes back on `acks`.
fn workers(
    hub: &Arc<Hub>,
    rows: &[ReceiverRow],
    acks: &mpsc::Sender<Ack>,
) -> Vec<(i64, mpsc::Sender<Notification>)> {
    rows.iter()
        .map(|row| {
            let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
            let id = row.id;
            let (hub, row, acks) = (hub.clone(), row.clone(), acks.clone());
            tokio::spawn(async move {
                while let Some(n) = rx.recv().await {
                    let delivered = match send_now(&hub, &row, &n, None).await {
                        Ok(attempts) => attempts.last().is_some_and(|a| a.outcome == "delivered"),
                        Err(e) => {
                            tracing::warn!(receiver = row.id, "cannot deliver: {e}");
                            false
                        }
                    };
                    if acks.send((n, delivered)).await.is_err() {
                        return;
                    }
                }
            });
            (id, tx)
        })
        .collect()
}

/// What the store kept of alerting when the hub stopped: firing alerts
/// (their rows closed once if their rule is gone), the notification log,
/// the restarts within the longest window. Restored alerts rejoin their
/// groups, which the log then keeps quiet until something changes or
/// `repeat_interval` is due.
fn restore(hub: &Arc<Hub>, dispatcher: &mut Dispatcher) {
    let now = now_ms();
    let (open, log) = match (hub.store.open_alerts(), hub.store.notification_log()) {
        (Ok(open), Ok(log)) => (open, log),
        (Err(e), _) | (_, Err(e)) => {
            tracing::warn!("alerts not restored: {e}");
            return;
        }
    };
    dispatcher.restore_log(log);
    let mut engine = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(longest) = engine.restart_window_ms() {
        for (server, app, at) in hub.store.restarts_since(now - longest).unwrap_or_default() {
            engine.count_restart(server, &app, None, at);
        }
    }
    for (fingerprint, starts_at) in engine.restore(&open) {
        record(
            hub,
            Write::AlertResolved {
                fingerprint,
                starts_at,
                ends_at: now,
            },
        );
    }
    for a in engine.alerts() {
        let Some(rule) = engine.rule(a.rule_id) else {
            continue;
        };
        if rule.muted_until.is_none_or(|m| m <= now) {
            dispatcher.add(&a, &rule.spec.receivers, now);
        }
    }
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
    let recording = hub.clone();
    tokio::spawn(async move {
        let writer = recording.writer.clone();
        recording.alerts.recorder.run(writer).await;
    });
    let mut dispatcher = Dispatcher::new(Vec::new(), external_url(&hub));
    // Groups stored before this start are not news.
    let known = hub.store.exception_keys().unwrap_or_default();
    hub.alerts
        .engine
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .know_exceptions(known);
    let load = |dispatcher: &mut Dispatcher,
                acks: &mpsc::Sender<Ack>|
     -> Vec<(i64, mpsc::Sender<Notification>)> {
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
        workers(&hub, &rows, acks)
    };
    let (acks_tx, mut acks) = mpsc::channel::<Ack>(QUEUE);
    let mut queues = load(&mut dispatcher, &acks_tx);
    restore(&hub, &mut dispatcher);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (mut resync_due, mut last_resync) = (false, i64::MIN / 2);
    loop {
        let due = dispatcher.due().map(|at| {
            let wait = u64::try_from(at - now_ms()).unwrap_or(0);
            tokio::time::Instant::now() + Duration::from_millis(wait)
        });
        tokio::select! {
            c = feed.recv() => match c {
                Ok(c) => {
                    let ts = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner()).on_change(&c, &hub.live, now_ms());
                    handle(&hub, &mut dispatcher, ts);
                }
                Err(RecvError::Lagged(n)) => {
                    // Missed changes: caught up from the live state at the
                    // next tick, at most once per RESYNC_EVERY.
                    if !resync_due {
                        tracing::warn!("alerts fell {n} changes behind the feed: checking every server again");
                    }
                    resync_due = true;
                }
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let now = now_ms();
                let mut engine = hub.alerts.engine.lock().unwrap_or_else(|e| e.into_inner());
                let mut ts = engine.tick(&hub.live, now);
                if resync_due && now >= last_resync + RESYNC_EVERY_MS {
                    ts.extend(engine.resync(&hub.live, now));
                    (resync_due, last_resync) = (false, now);
                }
                drop(engine);
                handle(&hub, &mut dispatcher, ts);
            }
            () = async { match due { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                if lease.held() {
                    for n in dispatcher.flush(now_ms()) {
                        let queued = match queues.iter().find(|(id, _)| *id == n.receiver_id) {
                            Some((_, q)) => q.try_send(n).map_err(|e| match e {
                                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
                            }),
                            None => Err(n),
                        };
                        if let Err(n) = queued {
                            // Kept in its group: tried again at its next interval.
                            tracing::warn!(receiver = n.receiver_id, "a receiver's queue is full: its notification waits for the next interval");
                            dispatcher.ack(&n, false, now_ms());
                        }
                    }
                }
            }
            Some((n, delivered)) = acks.recv() => {
                if let Some(row) = dispatcher.ack(&n, delivered, now_ms()) {
                    record(&hub, Write::Notified(row));
                }
            }
            Some(()) = reloads.recv() => queues = load(&mut dispatcher, &acks_tx),
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
                server_id: Some(a.server_id),
            }),
        };
        record(hub, w);
        if rule.muted_until.is_some_and(|m| m > now) {
            continue;
        }
        dispatcher.add(a, &rule.spec.receivers, now);
    }
}
