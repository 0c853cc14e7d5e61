//! Sending: one queue and delivery task per receiver, so a slow or dead
//! receiver never delays the others; every attempt is recorded.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::receiver::{Notification, ReceiverKind};
use super::{deliver, receiver_spec};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{DeliveryRow, ReceiverRow, Write};

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

/// Each receiver's queue: notifications wait here for its own task.
pub(super) const QUEUE: usize = 256;

/// How a notification's delivery ended: it, and whether it was delivered.
pub(super) type Ack = (Notification, bool);

/// Starts one delivery task per receiver; their queues by receiver id.
/// Each delivery's end goes back on `acks`.
pub(super) fn workers(
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

/// Hands each due notification to its receiver's queue; one whose queue
/// is full (or gone) stays in its group for the next interval.
pub(super) fn to_queues(
    due: Vec<Notification>,
    queues: &[(i64, mpsc::Sender<Notification>)],
    dispatcher: &mut super::group::Dispatcher,
) {
    for n in due {
        let queued = match queues.iter().find(|(id, _)| *id == n.receiver_id) {
            Some((_, q)) => q.try_send(n).map_err(|e| match e {
                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
            }),
            None => Err(n),
        };
        if let Err(n) = queued {
            // Kept in its group: tried again at its next interval.
            tracing::warn!(
                receiver = n.receiver_id,
                "a receiver's queue is full: its notification waits for the next interval"
            );
            dispatcher.ack(&n, false, now_ms());
        }
    }
}

/// Queues an alerting row for the store through the hub's recorder.
pub(super) fn record(hub: &Hub, w: Write) {
    hub.alerts.recorder.record(&hub.writer, w);
}
