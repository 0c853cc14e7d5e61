//! Live logs: who watches which server's output. The first viewer of a
//! server (one app or all) makes the hub send the agent `logs` with the
//! apps watched; the last one leaving sends an empty list, so lines flow
//! only while someone watches. Lines are not stored: each batch goes to the
//! server's viewers on a bounded channel (a slow viewer misses batches and
//! is told so), and never through the store's writer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use pmr_shared::link::messages::{HubMsg, LogBatch};
use tokio::sync::broadcast;

use pmr_shared::sync::Locked;

use crate::live::Live;

/// Batches a viewer may fall behind by before it misses some.
const CAPACITY: usize = 64;

/// One server's viewers and its batches.
struct Watched {
    tx: broadcast::Sender<Arc<LogBatch>>,
    /// Viewer id → the app it watches (`None`: every app).
    viewers: HashMap<u64, Option<String>>,
    /// The apps last asked of the agent.
    asked: Vec<String>,
}

impl Watched {
    /// The apps the viewers want, as the agent is asked (`*` for all).
    fn wanted(&self) -> Vec<String> {
        if self.viewers.values().any(Option::is_none) {
            return vec!["*".into()];
        }
        let mut apps: Vec<String> = self.viewers.values().flatten().cloned().collect();
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
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Watched>> {
        self.watched.locked()
    }

    /// Asks the agent for what the viewers want now, if that changed.
    fn ask(&self, server: i64, w: &mut Watched) {
        let apps = w.wanted();
        if apps != w.asked && self.live.send(server, HubMsg::Logs { apps: apps.clone() }) {
            w.asked = apps;
        }
    }

    /// A new viewer of `server`'s output (`app`, or every app).
    pub fn join(self: &Arc<Self>, server: i64, app: Option<String>) -> Viewer {
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut all = self.lock();
        let w = all.entry(server).or_insert_with(|| Watched {
            tx: broadcast::channel(CAPACITY).0,
            viewers: HashMap::new(),
            asked: Vec::new(),
        });
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
        if w.viewers.is_empty() {
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

    /// Lines from `server`, to its viewers (none: dropped).
    pub fn publish(&self, server: i64, batch: LogBatch) {
        if let Some(w) = self.lock().get(&server) {
            let _ = w.tx.send(Arc::new(batch));
        }
    }
}
