//! The alerting task: the change feed in, each transition recorded and
//! grouped, notifications out to one queue and delivery task per receiver.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast::error::RecvError, mpsc};

use pmr_shared::sync::Locked;

use super::engine::{AlertState, Transition};
use super::group::{Dispatcher, Route};
use super::receiver::Notification;
use super::send::{self, Ack, record};
use super::{Lease, all_rules, receiver_spec};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{AlertRow, Write};

/// The dashboard's address, for links in notifications.
fn external_url(hub: &Hub) -> String {
    let t = crate::link_line::target(hub.store.as_ref(), &hub.config);
    t.url
        .replacen("wss://", "https://", 1)
        .replacen("ws://", "http://", 1)
        .trim_end_matches('/')
        .to_string()
}

/// A catch-up from the live state after a lag runs at most this often.
const RESYNC_EVERY_MS: i64 = 5_000;

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
    let mut engine = hub.alerts.engine.locked();
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

/// Receivers' queues, by receiver id.
type Queues = Vec<(i64, mpsc::Sender<Notification>)>;

/// Alerting on the replica that holds the cluster's lease (a hub alone
/// always): the task starts when this replica takes the lease and stops
/// when it loses it; the next holder starts from what the store kept.
pub async fn under_lease(hub: Arc<Hub>) {
    let mut lease = hub.cluster.lease.clone();
    loop {
        if lease.wait_for(|held| *held).await.is_err() {
            return;
        }
        let mut watching = lease.clone();
        tokio::select! {
            () = run(hub.clone(), Arc::new(lease.clone())) => return,
            Ok(_) = watching.wait_for(|held| !*held) => {
                tracing::info!("another replica holds the lease now: alerting goes on there");
            }
        }
    }
}

/// The alerting task: the feed in, notifications out, until the feed ends.
pub async fn run(hub: Arc<Hub>, lease: Arc<dyn Lease>) {
    let mut reloads = hub.alerts.reload_rx.lock().await;
    let mut feed = hub.ingest.subscribe();
    let recording = hub.clone();
    tokio::spawn(async move {
        let writer = recording.writer.clone();
        recording.alerts.recorder.run(writer).await;
    });
    let mut dispatcher = Dispatcher::new(Vec::new(), external_url(&hub));
    // Groups stored before this start are not news.
    let known = hub.store.exception_keys().unwrap_or_default();
    hub.alerts.engine.locked().know_exceptions(known);
    let (acks_tx, mut acks) = mpsc::channel::<Ack>(send::QUEUE);
    let mut queues = load(&hub, &mut dispatcher, &acks_tx);
    restore(&hub, &mut dispatcher);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    // Whatever happened before this start is checked once from the live state.
    let mut resync = Resync {
        due: true,
        last: i64::MIN / 2,
    };
    loop {
        let due = dispatcher.due().map(|at| {
            let wait = u64::try_from(at - now_ms()).unwrap_or(0);
            tokio::time::Instant::now() + Duration::from_millis(wait)
        });
        tokio::select! {
            c = feed.recv() => match c {
                Ok(c) => {
                    let ts = hub.alerts.engine.locked().on_change(&c, &hub.live, now_ms());
                    handle(&hub, &mut dispatcher, ts);
                }
                Err(RecvError::Lagged(n)) => resync.lagged(n),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let ts = resync.tick(&hub, now_ms());
                handle(&hub, &mut dispatcher, ts);
            }
            () = async { match due { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => {
                if lease.held() {
                    let due = dispatcher.flush(now_ms());
                    send::to_queues(due, &queues, &mut dispatcher);
                }
            }
            Some((n, delivered)) = acks.recv() => {
                if let Some(row) = dispatcher.ack(&n, delivered, now_ms()) {
                    record(&hub, Write::Notified(row));
                }
            }
            Some(()) = reloads.recv() => queues = load(&hub, &mut dispatcher, &acks_tx),
        }
    }
}

/// Catching up after the task fell behind the feed.
struct Resync {
    /// Changes were missed: check every server at the next tick.
    due: bool,
    /// The last catch-up, Unix ms.
    last: i64,
}

impl Resync {
    /// Missed `n` changes: caught up from the live state at the next tick,
    /// at most once per [`RESYNC_EVERY_MS`].
    fn lagged(&mut self, n: u64) {
        if !self.due {
            tracing::warn!("alerts fell {n} changes behind the feed: checking every server again");
        }
        self.due = true;
    }

    /// The engine's tick, and a catch-up when one is due; the transitions.
    fn tick(&mut self, hub: &Hub, now: i64) -> Vec<Transition> {
        let mut engine = hub.alerts.engine.locked();
        let mut ts = engine.tick(&hub.live, now);
        if self.due && now >= self.last + RESYNC_EVERY_MS {
            ts.extend(engine.resync(&hub.live, now));
            (self.due, self.last) = (false, now);
        }
        ts
    }
}

/// (Re)loads rules and receivers: the engine's rules (the old ones kept if
/// the rules file is broken), the dispatcher's routes, a task per receiver.
fn load(hub: &Arc<Hub>, dispatcher: &mut Dispatcher, acks: &mpsc::Sender<Ack>) -> Queues {
    let rules = match all_rules(hub) {
        Ok(r) => r,
        Err(e) => {
            // A broken edit of the rules file keeps the rules running.
            tracing::warn!("rules not reloaded: {e:#}");
            hub.alerts.engine.locked().rules().to_vec()
        }
    };
    let ts = hub.alerts.engine.locked().set_rules(rules, now_ms());
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
    handle(hub, dispatcher, ts);
    send::workers(hub, &rows, acks)
}

/// Records each transition and hands it to the dispatcher (unless muted).
fn handle(hub: &Arc<Hub>, dispatcher: &mut Dispatcher, ts: Vec<Transition>) {
    if ts.is_empty() {
        return;
    }
    let engine = hub.alerts.engine.locked();
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
