//! The hub link: one task keeps one websocket to the hub, another collects
//! lifecycle events and 10-second rollups into the [`outbox::Outbox`] whether
//! or not the hub is reachable. Supervision never waits on either.

mod follow;
pub mod host;
pub mod outbox;
mod port;
mod session;
pub mod settings;
pub mod tls;

pub use port::{Asked, Port};

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pmr_shared::ipc::{LinkSettings, LinkState};
use pmr_shared::link::keys::SecretKey;
use pmr_shared::link::messages::{Agg, Event, EventKind, ProcRollup, Rollup};
use tokio::sync::Notify;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;

use pmr_shared::sync::Locked;

use crate::supervisor::{LifeKind, Lifecycle};

/// Length of one rollup window.
const ROLLUP_SPAN: Duration = Duration::from_secs(10);

/// Shared between the daemon, the collector and the connection.
pub(crate) struct Shared {
    /// What `pmr link status` shows: connected or not, the last error, counts.
    pub(crate) state: Mutex<LinkState>,
    /// Events and rollups not yet acknowledged by the hub.
    pub(crate) outbox: Mutex<outbox::Outbox>,
    /// Wakes the connection when the outbox grows.
    pub(crate) queued: Notify,
    /// The hub refused the upgrade as busy (HTTP 429/503) and asked for this
    /// many ms before the next attempt (`Retry-After`); 0 when it did not.
    pub(crate) busy_wait_ms: std::sync::atomic::AtomicU64,
}

impl Shared {
    /// The link's state, for a short read or update (never across an await).
    pub(crate) fn state(&self) -> std::sync::MutexGuard<'_, LinkState> {
        self.state.locked()
    }

    /// The outbox, for a short read or update (never across an await).
    pub(crate) fn outbox(&self) -> std::sync::MutexGuard<'_, outbox::Outbox> {
        self.outbox.locked()
    }
}

/// The running link, if any.
#[derive(Default)]
pub struct LinkManager {
    /// `None` while no link is configured (or after `pmr unlink`).
    running: Mutex<Option<Running>>,
}

/// A started link: dropping it aborts both tasks, which is how the link
/// stops or restarts with new settings.
struct Running {
    /// The state `pmr link status` reads.
    shared: Arc<Shared>,
    /// The collector and the connection.
    tasks: [JoinHandle<()>; 2],
}

impl Drop for Running {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl LinkManager {
    /// Starts (or restarts with new settings) the link.
    pub fn start(&self, port: Port, s: LinkSettings) -> anyhow::Result<()> {
        let (secret, _) = settings::validate(&s)?;
        // Settings that cannot work (a CA file that does not load) leave
        // the running link as it is.
        let tls = if s.hub.starts_with("wss://") {
            Some(tls::client_config(
                s.ca.as_deref(),
                s.fingerprint.as_deref(),
            )?)
        } else {
            None
        };
        // One writer of the outbox files at a time.
        self.stop();
        let machine_id = settings::machine_id(&port.home);
        let shared = Arc::new(Shared {
            state: Mutex::new(LinkState {
                configured: true,
                hub: s.hub.clone(),
                machine_name: s.machine_name.clone(),
                since: crate::clock::now_ms() as i64,
                ..Default::default()
            }),
            outbox: Mutex::new(outbox::Outbox::open(&port.home.join("link"))),
            queued: Notify::new(),
            busy_wait_ms: Default::default(),
        });
        let collector = tokio::spawn(collect(port.clone(), shared.clone()));
        let conn = tokio::spawn(session::run_forever(
            port,
            shared.clone(),
            session::Target {
                settings: s,
                secret: SecretKeyBox(secret),
                machine_id,
                tls,
            },
        ));
        let mut running = self.running.locked();
        *running = Some(Running {
            shared,
            tasks: [collector, conn],
        });
        Ok(())
    }

    /// Stops the link (the queue stays on disk).
    pub fn stop(&self) {
        self.running.locked().take();
    }

    /// What `pmr link status` shows.
    pub fn status(&self) -> LinkState {
        match self.running.locked().as_ref() {
            Some(r) => {
                let mut st = r.shared.state().clone();
                let o = r.shared.outbox();
                st.queued = o.len() as u64;
                st.dropped = o.dropped;
                st
            }
            None => LinkState::default(),
        }
    }
}

/// The secret key, kept out of `Debug` output.
pub(crate) struct SecretKeyBox(pub(crate) SecretKey);

/// One instance's samples in the current rollup window.
#[derive(Default)]
struct Window {
    /// Its name at the last sample.
    name: String,
    /// CPU percent as (min, max, sum, last, count).
    cpu: (f64, f64, f64, f64, u32),
    /// Memory in bytes, likewise.
    mem: (f64, f64, f64, f64, u32),
}

/// Adds one sample to a (min, max, sum, last, count) accumulator; the first
/// sample sets min and max.
fn add(acc: &mut (f64, f64, f64, f64, u32), v: f64) {
    if acc.4 == 0 {
        *acc = (v, v, 0.0, v, 0);
    }
    acc.0 = acc.0.min(v);
    acc.1 = acc.1.max(v);
    acc.2 += v;
    acc.3 = v;
    acc.4 += 1;
}

/// A window's accumulator as the hub stores it.
fn agg(acc: (f64, f64, f64, f64, u32)) -> Agg {
    Agg {
        min: acc.0,
        max: acc.1,
        avg: acc.2 / f64::from(acc.4.max(1)),
        last: acc.3,
    }
}

/// A supervisor lifecycle event in the link's words; `seq` is left for
/// the outbox to assign.
fn event_of(e: Lifecycle) -> Event {
    Event {
        seq: 0,
        at: e.at as i64,
        kind: match e.kind {
            LifeKind::Online => EventKind::Online,
            LifeKind::Exit => EventKind::Exit,
            LifeKind::Restart => EventKind::Restart,
            LifeKind::Errored => EventKind::Errored,
            LifeKind::Stopped => EventKind::Stopped,
            LifeKind::Deleted => EventKind::Delete,
            LifeKind::Reload => EventKind::Reload,
            LifeKind::Deploy => EventKind::Deploy,
            LifeKind::Exception => EventKind::Exception,
        },
        pm_id: e.pm_id,
        name: e.name.to_string(),
        namespace: Some(e.namespace.to_string()),
        code: e.code,
        signal: e.signal,
        detail: e.detail,
    }
}

/// Queues lifecycle events as they happen and a rollup every 10 s.
///
/// Rollup windows are aligned to wall-clock multiples of 10 s and are
/// exactly 10 s wide: a window closes at the first tick past its end,
/// however late, so a slow tick never widens one (the hub's 10-second
/// history holds one row per window, aligned across servers).
async fn collect(port: Port, shared: Arc<Shared>) {
    let span = ROLLUP_SPAN.as_millis() as i64;
    let mut rx = port.events.subscribe();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut windows: HashMap<u32, Window> = HashMap::new();
    let now = crate::clock::now_ms() as i64;
    let mut window_start = now - now % span;
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    shared.outbox().push_event(event_of(ev));
                    shared.queued.notify_one();
                }
                Err(RecvError::Lagged(n)) => shared.outbox().dropped += n,
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let now = crate::clock::now_ms() as i64;
                if now >= window_start + span {
                    let processes: Vec<ProcRollup> = windows
                        .drain()
                        .map(|(pm_id, w)| ProcRollup { pm_id, name: w.name, cpu: agg(w.cpu), memory: agg(w.mem) })
                        .collect();
                    if !processes.is_empty() {
                        let span_ms = span as u32;
                        shared.outbox().push_rollup(Rollup { seq: 0, start: window_start, span_ms, processes });
                        shared.queued.notify_one();
                    }
                    window_start = now - now % span;
                }
                for p in port.list().await {
                    let w = windows.entry(p.pm_id).or_default();
                    w.name.clone_from(&p.spec.name);
                    add(&mut w.cpu, f64::from(p.cpu));
                    add(&mut w.mem, p.memory as f64);
                }
            }
        }
    }
}
