//! Live state in memory: connected agents, their last snapshot, and the
//! channels that reach them. Every write goes through here (gateway and API
//! alike); locks are short and never held across an await.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use pmr_shared::link::messages::{ActionResult, Host, HubMsg, Proc, Snapshot};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

/// One server's live view.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ServerView {
    /// Store id.
    pub id: i64,
    /// Bucket name.
    pub bucket: String,
    /// Display name.
    pub name: String,
    /// Agent machine id.
    pub machine_id: String,
    /// Agent version.
    pub agent_version: String,
    /// Connected now.
    pub online: bool,
    /// Last frame, Unix ms (hub clock).
    pub last_seen: i64,
    /// Start of the current (or last) connection, Unix ms.
    pub connected_since: i64,
    /// Host metrics of the last snapshot.
    pub host: Host,
    /// Processes by pm_id.
    pub processes: BTreeMap<u32, Proc>,
    /// Agent clock of the last snapshot, for ingest lag.
    pub snapshot_at: i64,
}

/// A connected session's handles.
struct Session {
    key_id: i64,
    generation: u64,
    to_agent: mpsc::Sender<HubMsg>,
    close: watch::Sender<Option<u16>>,
}

/// Everything live.
#[derive(Default)]
pub struct Live {
    servers: RwLock<HashMap<i64, Arc<Mutex<ServerView>>>>,
    sessions: Mutex<HashMap<i64, Session>>,
    pending: Mutex<HashMap<String, oneshot::Sender<ActionResult>>>,
    generation: std::sync::atomic::AtomicU64,
}

/// What the gateway needs to run a session.
pub struct Attached {
    /// Messages to send to the agent.
    pub outbound: mpsc::Receiver<HubMsg>,
    /// Set to a close code when the hub wants the session gone.
    pub close: watch::Receiver<Option<u16>>,
    /// Identifies this session against a later one of the same server.
    pub generation: u64,
}

impl Live {
    fn view(&self, id: i64) -> Arc<Mutex<ServerView>> {
        if let Some(v) = self
            .servers
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return v.clone();
        }
        let mut w = self.servers.write().unwrap_or_else(|e| e.into_inner());
        w.entry(id).or_default().clone()
    }

    /// Registers a new session, closing an older one of the same server.
    pub fn attach(&self, base: ServerView, key_id: i64) -> Attached {
        let id = base.id;
        let view = self.view(id);
        {
            let mut v = view.lock().unwrap_or_else(|e| e.into_inner());
            let processes = std::mem::take(&mut v.processes);
            *v = ServerView {
                online: true,
                processes,
                ..base
            };
        }
        let (tx, rx) = mpsc::channel(64);
        let (close_tx, close_rx) = watch::channel(None);
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let old = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                id,
                Session {
                    key_id,
                    generation,
                    to_agent: tx,
                    close: close_tx,
                },
            );
        if let Some(old) = old {
            let _ = old.close.send(Some(1000));
        }
        Attached {
            outbound: rx,
            close: close_rx,
            generation,
        }
    }

    /// Marks a server offline, unless a newer session took over.
    pub fn detach(&self, id: i64, generation: u64, now: i64) {
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions
            .get(&id)
            .is_some_and(|s| s.generation == generation)
        {
            sessions.remove(&id);
            drop(sessions);
            let view = self.view(id);
            let mut v = view.lock().unwrap_or_else(|e| e.into_inner());
            v.online = false;
            v.last_seen = now;
        }
    }

    /// Applies a snapshot (full or delta).
    pub fn apply(&self, id: i64, snap: Snapshot, now: i64) {
        let view = self.view(id);
        let mut v = view.lock().unwrap_or_else(|e| e.into_inner());
        if snap.full {
            v.processes.clear();
        }
        for gone in &snap.removed {
            v.processes.remove(gone);
        }
        for p in snap.processes {
            v.processes.insert(p.pm_id, p);
        }
        v.host = snap.host;
        v.last_seen = now;
        v.snapshot_at = snap.at;
    }

    /// Notes that a frame arrived.
    pub fn touch(&self, id: i64, now: i64) {
        let view = self.view(id);
        view.lock().unwrap_or_else(|e| e.into_inner()).last_seen = now;
    }

    /// Copies of every server's view.
    pub fn servers(&self) -> Vec<ServerView> {
        let map = self.servers.read().unwrap_or_else(|e| e.into_inner());
        let mut all: Vec<ServerView> = map
            .values()
            .map(|v| v.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        all
    }

    /// Runs `f` over every server without copying them.
    pub fn each(&self, mut f: impl FnMut(&ServerView)) {
        let map = self.servers.read().unwrap_or_else(|e| e.into_inner());
        for v in map.values() {
            f(&v.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }

    /// Connected sessions.
    pub fn connected(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .len()
    }

    /// Closes every session authenticated with one of these keys.
    pub fn close_keys(&self, key_ids: &[i64], code: u16) -> usize {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        let mut n = 0;
        for s in sessions.values().filter(|s| key_ids.contains(&s.key_id)) {
            let _ = s.close.send(Some(code));
            n += 1;
        }
        n
    }

    /// Sends an action to a connected server; the receiver yields its result.
    pub fn send_action(
        &self,
        server: i64,
        msg: HubMsg,
        id: String,
    ) -> Option<oneshot::Receiver<ActionResult>> {
        let tx = self
            .sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&server)?
            .to_agent
            .clone();
        let (done_tx, done_rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, done_tx);
        tx.try_send(msg).ok()?;
        Some(done_rx)
    }

    /// Delivers an action result to whoever waits for it.
    pub fn action_done(&self, result: ActionResult) {
        if let Some(tx) = self
            .pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&result.id)
        {
            let _ = tx.send(result);
        }
    }

    /// Sends a message to a connected server, if there is room.
    pub fn send(&self, server: i64, msg: HubMsg) -> bool {
        let sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        sessions
            .get(&server)
            .is_some_and(|s| s.to_agent.try_send(msg).is_ok())
    }
}
