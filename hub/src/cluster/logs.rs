//! Live logs across replicas: a viewer here of an agent another replica
//! holds asks that replica, which sends the agent's lines back, each batch
//! as one message to each replica that wants it.

use std::sync::Arc;
use std::time::Duration;

use pmr_shared::link::messages::LogBatch;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::ingest::logs::Out;
use crate::state::Hub;

/// Requests and batches waiting to go out; beyond, batches are dropped (a
/// live view, not a record).
const QUEUE: usize = 256;
/// Viewers' wants are asked again this often (holders forget them after a minute).
const ASK_AGAIN: Duration = Duration::from_secs(20);

/// Viewers on the sending replica want these apps (none: no longer).
#[derive(Serialize, Deserialize)]
pub(super) struct Want {
    server: i64,
    apps: Vec<String>,
}

/// A batch of an agent's lines, for the viewers on the receiving replica.
#[derive(Serialize, Deserialize)]
pub(super) struct Lines {
    server: i64,
    batch: LogBatch,
}

/// Connects the hub's log tap to the other replicas and carries what it
/// asks and sends, for as long as the hub runs.
pub(super) async fn run(hub: Arc<Hub>) {
    let (tx, mut rx) = mpsc::channel(QUEUE);
    hub.ingest.logs.connect(tx);
    let mut again = tokio::time::interval(ASK_AGAIN);
    loop {
        tokio::select! {
            out = rx.recv() => match out {
                Some(out) => send(&hub, out).await,
                None => return,
            },
            _ = again.tick() => {
                for (server, apps) in hub.ingest.logs.remote_asks() {
                    if let Some(holder) = hub.live.read(server, |v| v.holder.clone()).flatten() {
                        send(&hub, Out::Ask { server, holder, apps }).await;
                    }
                }
            }
        }
    }
}

async fn send(hub: &Hub, out: Out) {
    let sent = match out {
        Out::Ask {
            server,
            holder,
            apps,
        } => {
            let body = serde_json::to_string(&Want { server, apps }).unwrap_or_default();
            hub.cluster.send(Some(&holder), "logs_want", &body).await
        }
        Out::Lines { server, to, batch } => {
            let body = serde_json::to_string(&Lines {
                server,
                batch: (*batch).clone(),
            })
            .unwrap_or_default();
            let mut r = Ok(());
            for replica in &to {
                r = r.and(hub.cluster.send(Some(replica), "log_lines", &body).await);
            }
            r
        }
    };
    if let Err(e) = sent {
        tracing::warn!("cluster: live logs: {e:#}");
    }
}

/// A message about live logs from `sender`.
pub(super) fn receive(hub: &Hub, sender: &str, kind: &str, body: &str) {
    match kind {
        "logs_want" => match serde_json::from_str::<Want>(body) {
            Ok(w) => hub.ingest.logs.remote_want(w.server, sender, w.apps),
            Err(e) => tracing::warn!("cluster: a log request from {sender:?} unread: {e}"),
        },
        _ => match serde_json::from_str::<Lines>(body) {
            Ok(l) => hub.ingest.log_lines(l.server, l.batch),
            Err(e) => tracing::warn!("cluster: log lines from {sender:?} unread: {e}"),
        },
    }
}
