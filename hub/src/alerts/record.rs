//! The alerting history's way to the store: alert transitions, delivery
//! attempts and the notification log are queued here and written by one
//! task in batches, so a storm of 10,000 alerts costs a few group commits,
//! never a task per row, and ingest's own writes wait behind at most one
//! batch of them in the store writer's queue.

use std::sync::Mutex;

use tokio::sync::mpsc;

use pmr_shared::sync::Locked;

use crate::store::Write;
use crate::store::writer::Writer;

/// Rows waiting; beyond that a row is written on its own task (no row is
/// dropped), which only a storm far beyond 65,536 alerts at once reaches.
const QUEUE: usize = 65_536;
/// Rows handed to the store writer at once (they share its commits).
const BATCH: usize = 256;

/// The queue of alerting rows to store.
pub struct Recorder {
    tx: mpsc::Sender<Write>,
    rx: Mutex<Option<mpsc::Receiver<Write>>>,
}

impl Default for Recorder {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Recorder {
            tx,
            rx: Mutex::new(Some(rx)),
        }
    }
}

impl Recorder {
    /// Queues a row for the store.
    pub fn record(&self, writer: &Writer, w: Write) {
        if let Err(e) = self.tx.try_send(w) {
            let (mpsc::error::TrySendError::Full(w) | mpsc::error::TrySendError::Closed(w)) = e;
            let writer = writer.clone();
            tokio::spawn(async move { write(&writer, w).await });
        }
    }

    /// Writes queued rows, a batch at a time, until the queue closes.
    pub async fn run(&self, writer: Writer) {
        let Some(mut rx) = self.rx.locked().take() else {
            return;
        };
        let mut batch = Vec::with_capacity(BATCH);
        while rx.recv_many(&mut batch, BATCH).await > 0 {
            futures_util::future::join_all(batch.drain(..).map(|w| write(&writer, w))).await;
        }
    }
}

async fn write(writer: &Writer, w: Write) {
    if let Err(e) = writer.write(w).await {
        tracing::warn!("cannot record an alert or delivery: {e}");
    }
}
