//! Live logs: who watches which server's output. The first viewer of a
//! server (one app or all) makes the hub send the agent `logs` with the
//! apps watched; the last one leaving sends an empty list, so lines flow
//! only while someone watches. Lines are not stored: each batch goes to the
//! server's viewers on a bounded channel (a slow viewer misses batches and
//! is told so), and never through the store's writer.
//!
//! With replicas, a viewer on one replica of an agent another holds is a
//! want of its replica there: asked through the cluster's [`Outbox`], kept
//! by the holder (refreshed, else forgotten after a minute) among its own
//! viewers' wants, and the holder sends that server's batches back.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use pmr_shared::link::messages::{HubMsg, LogBatch};
use tokio::sync::broadcast;

use pmr_shared::sync::Locked;

use crate::live::Live;

/// Batches a viewer may fall behind by before it misses some.
const CAPACITY: usize = 64;
/// Another replica's want lasts this long unless asked again.
const REMOTE_WANT_LASTS: Duration = Duration::from_secs(60);

/// What this replica's log tap asks of other replicas.
#[derive(Debug)]
pub enum Out {
    /// Viewers here want `apps` (none: no longer) of `server`, whose agent
    /// `holder` holds.
    Ask {
        /// Server id.
        server: i64,
        /// The replica holding its session.
        holder: Arc<str>,
        /// The apps (`*` for all).
        apps: Vec<String>,
    },
    /// Lines of an agent held here, for the replicas that want them.
    Lines {
        /// Server id.
        server: i64,
        /// The replicas.
        to: Vec<String>,
        /// The lines.
        batch: Arc<LogBatch>,
    },
}

/// Where [`Out`] goes: the cluster's task (set only with replicas).
pub type Outbox = tokio::sync::mpsc::Sender<Out>;

/// One server's viewers and its batches.
struct Watched {
    tx: broadcast::Sender<Arc<LogBatch>>,
    /// Viewer id → the app it watches (`None`: every app).
    viewers: HashMap<u64, Option<String>>,
    /// The apps last asked of the agent.
    asked: Vec<String>,
    /// Other replicas' wants of this (locally held) server, and when each
    /// was last asked.
    remote: HashMap<String, (Vec<String>, Instant)>,
}

impl Watched {
    fn new() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            viewers: HashMap::new(),
            asked: Vec::new(),
            remote: HashMap::new(),
        }
    }

    /// The apps the viewers (here and on other replicas) want, as the
    /// agent is asked (`*` for all).
    fn wanted(&self) -> Vec<String> {
        let remote = self.remote.values().flat_map(|(apps, _)| apps);
        if self.viewers.values().any(Option::is_none) || remote.clone().any(|a| a == "*") {
            return vec!["*".into()];
        }
        let mut apps: Vec<String> = self.viewers.values().flatten().cloned().collect();
        apps.extend(remote.cloned());
        apps.sort();
        apps.dedup();
        apps
    }
}

/// Every server's log viewers.
pub struct LogTap {
    live: Arc<Live>,
    watched: Mutex<HashMap<i64, Watched>>,
    next: std::sync::atomic::AtomicU64,
    viewers: prometheus::IntGauge,
    outbox: OnceLock<Outbox>,
}

/// One viewer's lines; leaving (drop) may stop the agent's.
pub struct Viewer {
    tap: Arc<LogTap>,
    server: i64,
    id: u64,
    /// The server's batches; filter by app on the way out.
    pub rx: broadcast::Receiver<Arc<LogBatch>>,
}

impl Drop for Viewer {
    fn drop(&mut self) {
        self.tap.leave(self.server, self.id);
    }
}

impl LogTap {
    /// A tap sending its requests through `live`; `viewers` counts viewers.
    pub fn new(live: Arc<Live>, viewers: prometheus::IntGauge) -> Self {
        Self {
            live,
            watched: Mutex::new(HashMap::new()),
            next: std::sync::atomic::AtomicU64::new(1),
            viewers,
            outbox: OnceLock::new(),
        }
    }

    /// Connects the tap to other replicas (once, when the hub has them).
    pub fn connect(&self, outbox: Outbox) {
        let _ = self.outbox.set(outbox);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Watched>> {
        self.watched.locked()
    }

    /// Asks the agent (or the replica holding it) for what the viewers
    /// want now, if that changed.
    fn ask(&self, server: i64, w: &mut Watched) {
        let apps = w.wanted();
        if apps == w.asked {
            return;
        }
        if self.live.send(server, HubMsg::Logs { apps: apps.clone() }) {
            w.asked = apps;
            return;
        }
        let holder = self.live.read(server, |v| v.holder.clone()).flatten();
        if let (Some(holder), Some(out)) = (holder, self.outbox.get()) {
            let ask = Out::Ask {
                server,
                holder,
                apps: apps.clone(),
            };
            if out.try_send(ask).is_ok() {
                w.asked = apps;
            }
        }
    }

    /// Another replica's viewers want `apps` of `server` (none: no longer).
    pub fn remote_want(&self, server: i64, replica: &str, apps: Vec<String>) {
        let mut all = self.lock();
        let w = all.entry(server).or_insert_with(Watched::new);
        if apps.is_empty() {
            w.remote.remove(replica);
        } else {
            w.remote.insert(replica.to_string(), (apps, Instant::now()));
        }
        self.ask(server, w);
        if w.viewers.is_empty() && w.remote.is_empty() {
            all.remove(&server);
        }
    }

    /// What this replica's viewers want of servers other replicas hold,
    /// for asking again (a holder forgets a want not asked for a minute).
    pub fn remote_asks(&self) -> Vec<(i64, Vec<String>)> {
        self.lock()
            .iter()
            .filter(|(server, w)| !w.viewers.is_empty() && !self.live.holds(**server))
            .map(|(server, w)| (*server, w.wanted()))
            .collect()
    }

    /// A new viewer of `server`'s output (`app`, or every app).
    pub fn join(self: &Arc<Self>, server: i64, app: Option<String>) -> Viewer {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut all = self.lock();
        let w = all.entry(server).or_insert_with(Watched::new);
        w.viewers.insert(id, app);
        let rx = w.tx.subscribe();
        self.ask(server, w);
        self.viewers.inc();
        Viewer {
            tap: self.clone(),
            server,
            id,
            rx,
        }
    }

    fn leave(&self, server: i64, id: u64) {
        let mut all = self.lock();
        let Some(w) = all.get_mut(&server) else {
            return;
        };
        if w.viewers.remove(&id).is_some() {
            self.viewers.dec();
        }
        self.ask(server, w);
        if w.viewers.is_empty() && w.remote.is_empty() {
            all.remove(&server);
        }
    }

    /// A session of `server` began: it is asked again for what is watched.
    pub fn attached(&self, server: i64) {
        let mut all = self.lock();
        if let Some(w) = all.get_mut(&server) {
            w.asked.clear();
            self.ask(server, w);
        }
    }

    /// Lines from `server`, to its viewers here and on other replicas
    /// (none: dropped).
    pub fn publish(&self, server: i64, batch: LogBatch) {
        let mut all = self.lock();
        let Some(w) = all.get_mut(&server) else {
            return;
        };
        let batch = Arc::new(batch);
        let _ = w.tx.send(batch.clone());
        if w.remote.is_empty() {
            return;
        }
        let before = w.remote.len();
        w.remote
            .retain(|_, (_, at)| at.elapsed() < REMOTE_WANT_LASTS);
        if w.remote.len() < before {
            self.ask(server, w);
        }
        if let Some(out) = self.outbox.get() {
            let to = w.remote.keys().cloned().collect();
            let _ = out.try_send(Out::Lines { server, to, batch });
        }
    }
}
