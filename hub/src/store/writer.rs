//! The store's single writer: one thread that takes writes from a bounded
//! queue and commits whatever is waiting in one transaction (group commit),
//! then answers each caller. Sessions, the API and housekeeping never write
//! the store themselves, so nothing contends for SQLite's one write lock and
//! a burst of writes costs one synced commit, not one each. Every part
//! holds a handle of its own name onto the one queue: ingest a [`Writer`],
//! the API an [`Admin`], housekeeping and alerting the hub's [`Writer`].

use std::sync::Arc;

use prometheus::{IntCounter, IntGauge};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Store, StoreError, StoreResult, Write, Written};

/// Most writes waiting; callers wait (backpressure) beyond that.
pub const QUEUE: usize = 8192;
/// Most writes in one transaction.
pub const MAX_BATCH: usize = 1024;

struct Job {
    write: Write,
    done: oneshot::Sender<StoreResult<Written>>,
}

/// Counters of what the writer did, for `/metrics`.
#[derive(Clone)]
pub struct WriterStats {
    /// Transactions committed.
    pub commits: IntCounter,
    /// Writes applied.
    pub writes: IntCounter,
    /// Writes waiting now.
    pub queued: IntGauge,
}

/// The handle every part of the hub writes through.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
    queued: IntGauge,
}

impl Writer {
    /// Starts the writer thread over `store`.
    pub fn spawn(store: Arc<dyn Store>, stats: WriterStats) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let queued = stats.queued.clone();
        std::thread::Builder::new()
            .name("pmr-hub-writer".into())
            .spawn(move || run(store.as_ref(), rx, &stats))?;
        Ok(Self { tx, queued })
    }

    /// Whether the writer thread still takes writes.
    pub fn alive(&self) -> bool {
        !self.tx.is_closed()
    }

    /// Queues `write` and waits until it is committed (or failed).
    pub async fn write(&self, write: Write) -> StoreResult<Written> {
        let (done, rx) = oneshot::channel();
        self.queued.inc();
        if self.tx.send(Job { write, done }).await.is_err() {
            self.queued.dec();
            return Err(StoreError::Other(anyhow::anyhow!(
                "the store writer stopped"
            )));
        }
        rx.await.unwrap_or_else(|_| {
            Err(StoreError::Other(anyhow::anyhow!(
                "the store writer stopped"
            )))
        })
    }
}

/// The API's handle onto the single writer: accounts, keys, tokens, rules,
/// receivers, actions asked for and the audit log, written in the same
/// queue and commits as everything else, so the API needs nothing of ingest.
#[derive(Clone)]
pub struct Admin(Writer);

impl Admin {
    /// The API's handle onto `writer`'s queue.
    pub fn new(writer: Writer) -> Self {
        Self(writer)
    }

    /// Whether the writer thread still takes writes (`/readyz`).
    pub fn alive(&self) -> bool {
        self.0.alive()
    }

    /// Queues `write` and waits until it is committed (or failed).
    pub async fn write(&self, write: Write) -> StoreResult<Written> {
        self.0.write(write).await
    }
}

fn run(store: &dyn Store, mut rx: mpsc::Receiver<Job>, stats: &WriterStats) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        // Whatever queued while the last batch committed goes in this one.
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        stats.queued.sub(jobs.len() as i64);
        let writes: Vec<&Write> = jobs.iter().map(|j| &j.write).collect();
        let results = store.write(&writes);
        stats.commits.inc();
        stats.writes.inc_by(jobs.len() as u64);
        for (job, result) in jobs.drain(..).zip(results) {
            let _ = job.done.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_write_gets_its_answer_and_waiting_ones_share_a_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("hub.db")).unwrap());
        let key = store.create_key("prod", "PKEY").unwrap();
        let stats = WriterStats {
            commits: IntCounter::new("c", "c").unwrap(),
            writes: IntCounter::new("w", "w").unwrap(),
            queued: IntGauge::new("q", "q").unwrap(),
        };
        let writer = Writer::spawn(store.clone(), stats.clone()).unwrap();
        let Written::Id(server_id) = writer
            .write(Write::UpsertServer {
                bucket_id: key.bucket_id,
                machine_id: "m".into(),
                name: "web".into(),
                version: "1".into(),
                now: 1,
            })
            .await
            .unwrap()
        else {
            panic!("no id")
        };
        let tasks: Vec<_> = (1..=500u64)
            .map(|seq| {
                let w = writer.clone();
                tokio::spawn(async move {
                    let e = crate::store::tests::event(seq);
                    w.write(Write::Events {
                        server_id,
                        events: vec![e],
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), Written::Rows(1));
        }
        assert_eq!(store.resume(server_id).unwrap().events, 500);
        assert_eq!(stats.writes.get(), 501);
        assert_eq!(stats.queued.get(), 0);
        // What waits when the writer turns to the queue goes in one commit.
        let (tx, rx) = mpsc::channel(QUEUE);
        let mut answers = Vec::new();
        for seq in 501..=800u64 {
            let (done, answer) = oneshot::channel();
            let write = Write::TouchServers(vec![(server_id, seq as i64)]);
            tx.try_send(Job { write, done }).unwrap();
            answers.push(answer);
        }
        drop(tx);
        let before = stats.commits.get();
        stats.queued.add(300);
        let (s2, st2) = (store.clone(), stats.clone());
        std::thread::spawn(move || run(s2.as_ref(), rx, &st2))
            .join()
            .unwrap();
        assert_eq!(stats.commits.get() - before, 1);
        for a in answers {
            assert_eq!(a.await.unwrap().unwrap(), Written::Done);
        }
        assert_eq!(stats.queued.get(), 0);
    }
}
