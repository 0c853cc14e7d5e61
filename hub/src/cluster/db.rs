//! The cluster's own connections to the database: one for its statements,
//! one that LISTENs on `pmr_cluster` and turns each NOTIFY into a wake-up.
//! Both come back by themselves after the database was lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Mutex, Notify};
use tokio_postgres::{AsyncMessage, Client};

use crate::store::postgres::connect::{Target, error_text};

/// The channel every replica listens on; the payload only wakes readers.
pub const CHANNEL: &str = "pmr_cluster";

/// The advisory lock every writer of `cluster_views` and `cluster_messages`
/// takes for its statement: ids and revs then commit in the order they
/// were drawn, and a reader's mark never passes one still to commit.
pub const ORDER_LOCK: i64 = 0x0070_6d72_636c_7573;

/// The statement connection, made again when it was lost.
pub struct Db {
    target: Target,
    client: Mutex<Option<Arc<Client>>>,
}

impl Db {
    /// Settings to connect with; nothing connects yet.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            client: Mutex::new(None),
        }
    }

    /// The live connection, connecting first if there is none.
    pub async fn client(&self) -> anyhow::Result<Arc<Client>> {
        let mut slot = self.client.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let c = Arc::new(connect(&self.target, None).await?);
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Listens on [`CHANNEL`] for as long as the hub runs, waking `wake`
    /// at each notification and once after every (re)connection (what was
    /// said meanwhile is read then).
    pub async fn listen(
        self: Arc<Self>,
        wake: Arc<Notify>,
        listening: Arc<AtomicBool>,
        up: tokio::sync::watch::Sender<bool>,
    ) {
        loop {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<()>(1);
            match connect(&self.target, Some(tx)).await {
                Ok(c) => match c.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    Ok(()) => {
                        listening.store(true, Ordering::Relaxed);
                        up.send_if_modified(|u| !std::mem::replace(u, true));
                        wake.notify_one();
                        while rx.recv().await.is_some() {
                            wake.notify_one();
                        }
                        tracing::warn!(
                            "the cluster's database connection was lost; connecting again"
                        );
                    }
                    Err(e) => tracing::warn!("cluster: LISTEN failed: {}", error_text(&e)),
                },
                Err(e) => tracing::warn!("cluster: {e:#}"),
            }
            listening.store(false, Ordering::Relaxed);
            up.send_if_modified(|u| std::mem::replace(u, false));
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// One connection, driven by a task of its own; with `notices`, each
/// notification is passed on (coalesced: one pending wake-up is enough).
async fn connect(
    target: &Target,
    notices: Option<tokio::sync::mpsc::Sender<()>>,
) -> anyhow::Result<Client> {
    let tls = target.tls.clone();
    let (client, mut conn) = target.config.connect(tls).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot connect to the database {}: {}",
            crate::store::postgres::connect::describe(&target.config),
            crate::config::mask_passwords(&error_text(&e))
        )
    })?;
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(_)) => {
                    if let Some(n) = &notices {
                        let _ = n.try_send(());
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        // Dropping `notices` here tells the listener the connection ended.
    });
    Ok(client)
}
