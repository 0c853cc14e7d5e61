//! A link once open: what the hub lacks replayed (events first), then
//! every second a snapshot, events and rollups as they are queued, log
//! lines the hub follows, action results, and the hub's own messages.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pmr_shared::link::messages::{ActionResult, AgentMsg, HubMsg, Proc, Resume, close};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::actions::run_action;
use super::snapshot::snapshot;
use super::wire::{SessionEnd, Ws, close_reason, send};
use crate::link::follow::{self, Follow};
use crate::link::host::HostSampler;
use crate::link::{Port, Shared};

/// A full snapshot at least this often; deltas in between.
const FULL_EVERY: u32 = 30;
/// Silence from the hub (it pings every 15 s) that means it is gone.
const HUB_SILENCE: Duration = Duration::from_secs(45);
/// The `type`s of [`HubMsg`] this agent knows.
const HUB_TYPES: [&str; 6] = ["hello", "welcome", "ack", "resend", "action", "logs"];

/// One open link's state.
struct Stream<'a> {
    /// The daemon: its list, its handlers (for actions), its log bus.
    port: &'a Port,
    /// The link's state and outbox, shared with the collector.
    shared: &'a Arc<Shared>,
    /// The websocket; only this task writes to it.
    ws: Ws,
    /// The last event sequence number sent (or the hub's resume mark), so
    /// [`Self::send_queued`] sends each queued entry once per connection.
    sent_events: u64,
    /// The same for rollups.
    sent_rollups: u64,
    /// Host CPU counters between snapshots.
    host: HostSampler,
    /// What the hub was last told of each instance.
    last: HashMap<u32, Proc>,
    /// Snapshot number.
    seq: u64,
    /// Snapshots since the last full one.
    since_full: u32,
    /// Where spawned actions put their results. An action still running
    /// when the connection drops has its result dropped with it.
    results_tx: mpsc::Sender<ActionResult>,
    /// Log lines the hub follows.
    follow: Follow,
}

/// Serves an open link until it fails (`Err` says why) or the hub closes
/// the stream cleanly.
pub(super) async fn run(
    port: &Port,
    shared: &Arc<Shared>,
    ws: Ws,
    resume: Resume,
) -> Result<(), SessionEnd> {
    let (results_tx, mut results) = mpsc::channel::<ActionResult>(16);
    // `since_full` starts at the cap: the first snapshot is a full one.
    let mut s = Stream {
        port,
        shared,
        ws,
        sent_events: resume.events,
        sent_rollups: resume.rollups,
        host: HostSampler::default(),
        last: HashMap::new(),
        seq: 0,
        since_full: FULL_EVERY,
        results_tx,
        follow: Follow::default(),
    };
    s.replay(resume).await?;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut heard = tokio::time::Instant::now();
    let mut flush = tokio::time::interval(follow::EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = s.follow.next() => s.follow.absorb(ev),
            _ = flush.tick(), if s.follow.active() => {
                if let Some(batch) = s.follow.take() {
                    send(&mut s.ws, &AgentMsg::Logs(batch)).await?;
                }
            }
            () = tokio::time::sleep_until(heard + HUB_SILENCE) => {
                return Err(format!("no word from the hub for {}s", HUB_SILENCE.as_secs()).into());
            }
            _ = tick.tick() => s.report().await?,
            () = shared.queued.notified() => s.send_queued().await?,
            r = results.recv() => {
                if let Some(r) = r {
                    send(&mut s.ws, &AgentMsg::ActionResult(r)).await?;
                }
            }
            frame = s.ws.next() => {
                heard = tokio::time::Instant::now();
                let text = match frame {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(format!("websocket error: {e}").into()),
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => return Err(close_reason(f)),
                    Some(Ok(_)) => continue,
                };
                s.on_text(&text).await?;
            }
        }
    }
}

impl Stream<'_> {
    /// Sends what the hub lacks, events first.
    async fn replay(&mut self, resume: Resume) -> Result<(), SessionEnd> {
        let (events, rollups) = {
            let mut o = self.shared.outbox();
            o.resume(resume);
            o.pending()
        };
        for e in events {
            self.sent_events = self.sent_events.max(e.seq);
            send(&mut self.ws, &AgentMsg::Event(e)).await?;
        }
        for r in rollups {
            self.sent_rollups = self.sent_rollups.max(r.seq);
            send(&mut self.ws, &AgentMsg::Rollup(r)).await?;
        }
        Ok(())
    }

    /// This second's snapshot, full every [`FULL_EVERY`].
    async fn report(&mut self) -> Result<(), SessionEnd> {
        self.seq += 1;
        let full = self.since_full >= FULL_EVERY;
        self.since_full = if full { 1 } else { self.since_full + 1 };
        let list = self.port.list().await;
        let home = &self.port.home;
        let snap = snapshot(list, home, &mut self.host, &mut self.last, self.seq, full);
        send(&mut self.ws, &AgentMsg::Snapshot(snap)).await
    }

    /// Events and rollups queued since the last ones sent.
    async fn send_queued(&mut self) -> Result<(), SessionEnd> {
        let (events, rollups) = self.shared.outbox().pending();
        let (ev_mark, ro_mark) = (self.sent_events, self.sent_rollups);
        for e in events.into_iter().filter(|e| e.seq > ev_mark) {
            self.sent_events = e.seq;
            send(&mut self.ws, &AgentMsg::Event(e)).await?;
        }
        for r in rollups.into_iter().filter(|r| r.seq > ro_mark) {
            self.sent_rollups = r.seq;
            send(&mut self.ws, &AgentMsg::Rollup(r)).await?;
        }
        Ok(())
    }

    /// One message from the hub.
    async fn on_text(&mut self, text: &str) -> Result<(), SessionEnd> {
        // A message type from a newer hub is skipped, not fatal:
        // hubs add types only for agents to ignore safely.
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text)
            && v["type"].as_str().is_some_and(|t| !HUB_TYPES.contains(&t))
        {
            tracing::debug!("skipping a hub message of unknown type");
            return Ok(());
        }
        let Ok(msg) = serde_json::from_str::<HubMsg>(text) else {
            let _ = self
                .ws
                .close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                    code: CloseCode::from(close::BAD_FRAME),
                    reason: "malformed message".into(),
                }))
                .await;
            return Err("the hub sent a malformed message".into());
        };
        match msg {
            HubMsg::Ack { stream, seq } => self.shared.outbox().ack(stream, seq),
            HubMsg::Resend => self.since_full = FULL_EVERY,
            // Spawned: a slow action (a reload) must not stall snapshots.
            HubMsg::Action(req) => {
                let (port, tx) = (self.port.clone(), self.results_tx.clone());
                tokio::spawn(async move {
                    let _ = tx.send(run_action(&port, req).await).await;
                });
            }
            HubMsg::Logs { apps } => {
                let list = self.port.list().await;
                self.follow.set(self.port, list, apps);
            }
            HubMsg::Hello { .. } | HubMsg::Welcome { .. } => {}
        }
        Ok(())
    }
}
