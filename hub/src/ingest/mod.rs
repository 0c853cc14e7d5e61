//! Where everything agents send goes in, one way: each message is applied
//! to the live state, its rows go to the store's single [`crate::store::writer`] (acked
//! to the agent only after commit), and every change is published once, in
//! order, on the [`feed`]. Sessions, the API and housekeeping never write
//! the store or the live state's processes any other way.

pub mod digest;
pub mod exceptions;
pub mod feed;
pub mod logs;
pub mod snapshot;

use std::sync::Arc;

use pmr_shared::link::messages::{ActionResult, Event, LogBatch, Rollup, Snapshot};

use crate::live::{Attached, Live, ServerView};
use crate::store::writer::Writer;
use crate::store::{StoreError, StoreResult, Write, Written};
use feed::{Change, Feed};

/// Width of the 10-second history rows, ms.
const FINE_SPAN_MS: u32 = 10_000;
/// The way in.
pub struct Ingest {
    live: Arc<Live>,
    /// Agents' rows go to the store's single writer through this handle.
    writer: Writer,
    feed: Feed,
    /// Live log viewers, and the lines agents send for them.
    pub logs: Arc<logs::LogTap>,
}

fn unexpected(w: Written) -> StoreError {
    StoreError::Other(anyhow::anyhow!("the store answered {w:?}"))
}

impl Ingest {
    /// Ingest over `live`, writing through `writer`; `log_viewers` counts
    /// open log views.
    pub fn new(live: Arc<Live>, writer: Writer, log_viewers: prometheus::IntGauge) -> Self {
        Self {
            logs: Arc::new(logs::LogTap::new(live.clone(), log_viewers)),
            live,
            writer,
            feed: Feed::default(),
        }
    }

    /// A subscriber to every change from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<feed::Item> {
        self.feed.subscribe()
    }

    /// Records an agent's connection; returns its server id.
    pub async fn upsert_server(
        &self,
        bucket_id: i64,
        machine_id: &str,
        name: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let w = Write::UpsertServer {
            bucket_id,
            machine_id: machine_id.into(),
            name: name.into(),
            version: version.into(),
            now,
        };
        match self.writer.write(w).await? {
            Written::Id(id) => Ok(id),
            other => Err(unexpected(other)),
        }
    }

    /// A session begins (an older one of the same server is closed).
    pub fn attach(&self, view: ServerView, key_id: i64) -> Attached {
        let change = Change::ServerUp {
            server_id: view.id,
            name: view.name.clone(),
            bucket: view.bucket.clone(),
        };
        let server_id = view.id;
        let attached = self.live.attach(view, key_id);
        // Viewers waiting for this server's output get it from the new session.
        self.logs.attached(server_id);
        // A session replacing another of the same server is no news.
        if !attached.replaced {
            self.feed.publish(change);
        }
        attached
    }

    /// Another replica's view of an agent it holds: into the live state,
    /// and its coming or going on the feed.
    pub fn mirror(&self, view: ServerView) {
        let (server_id, name, bucket, online, at) = (
            view.id,
            view.name.clone(),
            view.bucket.clone(),
            view.online,
            view.snapshot_at,
        );
        let holder = view.holder.clone();
        let held_by = self.live.read(server_id, |v| v.holder.clone()).flatten();
        let Some(was) = self.live.mirror(view) else {
            return;
        };
        if held_by != holder {
            // Viewers here now ask the replica that holds the agent.
            self.logs.attached(server_id);
        }
        match (was, online) {
            (false, true) => self.feed.publish_remote(Change::ServerUp {
                server_id,
                name,
                bucket,
            }),
            (true, false) => self.feed.publish_remote(Change::ServerDown { server_id }),
            _ => {}
        }
        self.feed.publish_remote(Change::Sample { server_id, at });
    }

    /// A change another replica's agent made, for this replica's subscribers.
    pub fn remote(&self, change: Change) {
        self.feed.publish_remote(change);
    }

    /// An action's outcome from another replica's agent, for whoever here
    /// waits for it (its row and feed change come from that replica).
    pub fn remote_result(&self, server_id: i64, r: ActionResult) {
        self.live.action_done(server_id, r);
    }

    /// Output lines for the server's log viewers (never stored).
    pub fn log_lines(&self, server_id: i64, batch: LogBatch) {
        self.logs.publish(server_id, batch);
    }

    /// A session ends.
    pub fn detach(&self, server_id: i64, generation: u64, now: i64) {
        if self.live.detach(server_id, generation, now) {
            self.feed.publish(Change::ServerDown { server_id });
        }
    }

    /// Applies a snapshot to the live state.
    pub fn snapshot(&self, server_id: i64, snap: Snapshot, now: i64) {
        let changes = self
            .live
            .update(server_id, |v| snapshot::apply(v, snap, now));
        for c in changes {
            self.feed.publish(c);
        }
    }

    /// Stores an event; returns once it is committed.
    pub async fn event(&self, server_id: i64, event: Event, now: i64) -> StoreResult<()> {
        self.live.touch(server_id, now);
        let w = Write::Events {
            server_id,
            events: vec![event.clone()],
        };
        // A replay is acked again but not news: published only when new.
        if self.writer.write(w).await? != Written::Rows(0) {
            if event.kind == pmr_shared::link::messages::EventKind::Exception {
                self.exception(server_id, &event).await?;
            }
            self.feed.publish(Change::Event { server_id, event });
        }
        Ok(())
    }

    /// Adds an exception event to its group.
    async fn exception(&self, server_id: i64, event: &Event) -> StoreResult<()> {
        let detail = event.detail.clone().unwrap_or_default();
        let g = exceptions::group(&event.name, &detail);
        let (server, bucket, revision) = self
            .live
            .read(server_id, |v| {
                let rev = v.processes.get(&event.pm_id).and_then(|p| {
                    p.versioning.as_ref()?["revision"]
                        .as_str()
                        .map(String::from)
                });
                (v.name.clone(), v.bucket.clone(), rev)
            })
            .unwrap_or_default();
        let w = Write::Exception {
            key: g.key,
            app: event.name.clone(),
            message: g.message,
            frame: g.frame,
            at: event.at,
            server,
            bucket,
            revision,
            sample: detail,
        };
        self.writer.write(w).await?;
        Ok(())
    }

    /// Stores a rollup; returns once it is committed. A window narrower
    /// than the coarse rows is a 10-second row, whatever its exact width:
    /// agents before 0.2 closed windows late (10,001 or 11,000 ms), and
    /// the history reads the 10-second tier by its width.
    pub async fn rollup(&self, server_id: i64, mut rollup: Rollup, now: i64) -> StoreResult<()> {
        if i64::from(rollup.span_ms) < crate::store::COARSE_SPAN_MS {
            rollup.span_ms = FINE_SPAN_MS;
        }
        self.live.touch(server_id, now);
        let w = Write::Rollups {
            server_id,
            rollups: vec![rollup],
        };
        self.writer.write(w).await.map(|_| ())
    }

    /// Records an action's outcome and hands it to whoever waits for it.
    pub async fn action_result(
        &self,
        server_id: i64,
        r: ActionResult,
        now: i64,
    ) -> StoreResult<()> {
        let w = Write::FinishAction {
            server_id,
            id: r.id.clone(),
            ok: r.ok,
            message: r.message.clone(),
            now,
        };
        if self.writer.write(w).await? == Written::Rows(0) {
            // A second answer, or one for an action this server was not sent.
            return Ok(());
        }
        self.feed.publish(Change::ActionResult {
            server_id,
            id: r.id.clone(),
            ok: r.ok,
            message: r.message.clone(),
        });
        self.live.action_done(server_id, r);
        Ok(())
    }
}
