//! Live state in memory: connected agents, their last snapshot, and the
//! channels that reach them. Every write goes through here (agent sessions and API
//! alike); locks are short and never held across an await. Lock order, where
//! two are taken: `sessions`, then a server's view.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, RwLock};

use pmr_shared::link::messages::{ActionResult, Host, HubMsg, Proc};
use pmr_shared::sync::{Locked, RwLocked};
use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

/// Most processes kept for one server: a runaway agent cannot fill memory.
pub const MAX_PROCESSES_PER_SERVER: usize = pmr_shared::link::limits::MAX_PROCESSES;

/// One server's live view.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
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
    /// The session that owns this view now.
    #[serde(skip)]
    pub(crate) generation: u64,
    /// The replica holding the agent's session when another one does
    /// (`None`: this replica, or no session anywhere).
    #[serde(skip)]
    pub holder: Option<std::sync::Arc<str>>,
}

type View = Arc<Mutex<ServerView>>;

fn lock(v: &View) -> std::sync::MutexGuard<'_, ServerView> {
    v.locked()
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
    servers: RwLock<HashMap<i64, View>>,
    sessions: Mutex<HashMap<i64, Session>>,
    pending: Mutex<HashMap<(i64, String), oneshot::Sender<ActionResult>>>,
    generation: std::sync::atomic::AtomicU64,
}

/// What an agent session needs to run.
pub struct Attached {
    /// Messages to send to the agent.
    pub outbound: mpsc::Receiver<HubMsg>,
    /// Set to a close code when the hub wants the session gone.
    pub close: watch::Receiver<Option<u16>>,
    /// Identifies this session against a later one of the same server.
    pub generation: u64,
    /// It took over from a session of the same server still open.
    pub replaced: bool,
}

impl Live {
    fn view(&self, id: i64) -> View {
        if let Some(v) = self.servers.read_locked().get(&id) {
            return v.clone();
        }
        let mut w = self.servers.write_locked();
        w.entry(id).or_default().clone()
    }

    /// A known server's view, taken out of the map (not created).
    fn existing(&self, id: i64) -> Option<View> {
        self.servers.read_locked().get(&id).cloned()
    }

    /// Reads one known server's view in place (no copy).
    pub fn read<R>(&self, id: i64, f: impl FnOnce(&ServerView) -> R) -> Option<R> {
        Some(f(&lock(&self.existing(id)?)))
    }

    /// One server's view, if known.
    pub fn get(&self, id: i64) -> Option<ServerView> {
        Some(lock(&self.existing(id)?).clone())
    }

    /// Registers a new session, closing an older one of the same server.
    pub fn attach(&self, base: ServerView, key_id: i64) -> Attached {
        let id = base.id;
        let view = self.view(id);
        let (tx, rx) = mpsc::channel(64);
        let (close_tx, close_rx) = watch::channel(None);
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let mut sessions = self.sessions.locked();
        {
            let mut v = lock(&view);
            let processes = std::mem::take(&mut v.processes);
            *v = ServerView {
                online: true,
                processes,
                generation,
                ..base
            };
        }
        let replaced = sessions.contains_key(&id);
        let old = sessions.insert(
            id,
            Session {
                key_id,
                generation,
                to_agent: tx,
                close: close_tx,
            },
        );
        drop(sessions);
        if let Some(old) = old {
            let _ = old
                .close
                .send(Some(pmr_shared::link::messages::close::REPLACED));
        }
        Attached {
            replaced,
            outbound: rx,
            close: close_rx,
            generation,
        }
    }

    /// Marks a server offline, unless a newer session took over (then
    /// false); forgets the actions it will never answer.
    pub fn detach(&self, id: i64, generation: u64, now: i64) -> bool {
        let mut sessions = self.sessions.locked();
        if sessions
            .get(&id)
            .is_some_and(|s| s.generation == generation)
        {
            sessions.remove(&id);
        }
        let view = self.view(id);
        let mut v = lock(&view);
        let offline = v.generation == generation;
        if offline {
            v.online = false;
            v.last_seen = now;
        }
        drop(v);
        drop(sessions);
        self.pending.locked().retain(|(server, _), _| *server != id);
        offline
    }

    /// The bucket of a known server (cheaper than [`Live::get`]).
    pub fn bucket_of(&self, id: i64) -> Option<String> {
        Some(lock(&self.existing(id)?).bucket.clone())
    }

    /// Runs `f` on one server's view under its lock (created if unknown):
    /// how ingest applies a snapshot.
    pub fn update<R>(&self, id: i64, f: impl FnOnce(&mut ServerView) -> R) -> R {
        f(&mut lock(&self.view(id)))
    }

    /// Notes that a frame arrived.
    pub fn touch(&self, id: i64, now: i64) {
        lock(&self.view(id)).last_seen = now;
    }

    /// The views, taken out of the global map so it is not held meanwhile.
    fn views(&self) -> Vec<View> {
        self.servers.read_locked().values().cloned().collect()
    }

    /// Copies of every server's view (clones taken one server at a time).
    pub fn servers(&self) -> Vec<ServerView> {
        let mut all: Vec<ServerView> = self.views().iter().map(|v| lock(v).clone()).collect();
        all.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        all
    }

    /// Runs `f` over every server; the global map is not held meanwhile.
    pub fn each(&self, mut f: impl FnMut(&ServerView)) {
        for v in &self.views() {
            f(&lock(v));
        }
    }

    /// Connected sessions.
    pub fn connected(&self) -> usize {
        self.sessions.locked().len()
    }

    /// Closes every session with `code` (the database is gone: agents try
    /// another replica); how many.
    pub fn close_all(&self, code: u16) -> usize {
        let sessions = self.sessions.locked();
        sessions
            .values()
            .filter(|s| s.close.send_if_modified(|c| c.replace(code).is_none()))
            .count()
    }

    /// Closes every session authenticated with one of these keys.
    pub fn close_keys(&self, key_ids: &HashSet<i64>, code: u16) -> usize {
        let sessions = self.sessions.locked();
        let mut n = 0;
        for s in sessions.values().filter(|s| key_ids.contains(&s.key_id)) {
            if s.close.send_if_modified(|c| c.replace(code).is_none()) {
                n += 1;
            }
        }
        n
    }

    /// Forgets servers offline for longer than `max_age_ms` (their history
    /// stays in the store).
    pub fn evict_offline(&self, now: i64, max_age_ms: i64) {
        let mut w = self.servers.write_locked();
        w.retain(|_, v| {
            let v = lock(v);
            v.online || now - v.last_seen < max_age_ms
        });
    }

    /// Sends a message to a connected server's session; false when it is
    /// not connected or its queue is full.
    pub fn send(&self, server: i64, msg: HubMsg) -> bool {
        let sessions = self.sessions.locked();
        sessions
            .get(&server)
            .is_some_and(|s| s.to_agent.try_send(msg).is_ok())
    }

    /// Sends an action to a connected server; the receiver yields its result.
    pub fn send_action(
        &self,
        server: i64,
        msg: HubMsg,
        id: String,
    ) -> Option<oneshot::Receiver<ActionResult>> {
        let tx = self.sessions.locked().get(&server)?.to_agent.clone();
        let (done_tx, done_rx) = oneshot::channel();
        let key = (server, id);
        self.pending.locked().insert(key.clone(), done_tx);
        if tx.try_send(msg).is_err() {
            self.pending.locked().remove(&key);
            return None;
        }
        Some(done_rx)
    }

    /// Whether this replica holds a session of `server`.
    pub fn holds(&self, server: i64) -> bool {
        self.sessions.locked().contains_key(&server)
    }

    /// Takes another replica's view of a server it holds; nothing when this
    /// replica holds an as new session of the server itself (an older one
    /// is closed with 4412). Whether the server was online before (`None`:
    /// not taken).
    pub fn mirror(&self, view: ServerView) -> Option<bool> {
        let mut sessions = self.sessions.locked();
        if sessions.contains_key(&view.id) {
            // The agent connected to another replica after connecting here:
            // the newer session wins, as on one hub (4412 across replicas).
            let here = lock(&self.view(view.id)).connected_since;
            if !view.online || view.connected_since < here {
                return None;
            }
            if let Some(old) = sessions.remove(&view.id) {
                let _ = old
                    .close
                    .send(Some(pmr_shared::link::messages::close::REPLACED));
            }
        }
        let v = self.view(view.id);
        let mut v = lock(&v);
        let was = v.online;
        *v = view;
        Some(was)
    }

    /// A waiter for an action another replica sends on to `server`.
    pub fn await_remote(&self, server: i64, id: String) -> oneshot::Receiver<ActionResult> {
        let (tx, rx) = oneshot::channel();
        self.pending.locked().insert((server, id), tx);
        rx
    }

    /// Forgets a waiter (the caller stopped waiting).
    pub fn forget_action(&self, server: i64, id: &str) {
        self.pending.locked().remove(&(server, id.to_string()));
    }

    /// Delivers a result from `server` to whoever waits for it; an agent can
    /// only answer its own actions.
    pub fn action_done(&self, server: i64, result: ActionResult) {
        let key = (server, result.id.clone());
        if let Some(tx) = self.pending.locked().remove(&key) {
            let _ = tx.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_session_ending_late_does_not_take_the_new_one_offline() {
        let live = Live::default();
        let base = || ServerView {
            id: 1,
            name: "s".into(),
            ..Default::default()
        };
        let old = live.attach(base(), 1);
        let new = live.attach(base(), 1);
        live.detach(1, old.generation, 5);
        assert!(live.get(1).unwrap().online);
        assert_eq!(live.connected(), 1);
        live.detach(1, new.generation, 6);
        assert!(!live.get(1).unwrap().online);
        assert_eq!(live.connected(), 0);
    }

    #[test]
    fn actions_are_answered_only_by_their_server_and_never_leak() {
        let live = Live::default();
        let _a = live.attach(
            ServerView {
                id: 1,
                ..Default::default()
            },
            1,
        );
        let rx = live.send_action(1, HubMsg::Resend, "x".into()).unwrap();
        live.action_done(
            2,
            ActionResult {
                id: "x".into(),
                ok: true,
                message: String::new(),
                instances: Vec::new(),
            },
        );
        assert_eq!(
            live.pending.lock().unwrap().len(),
            1,
            "another server cannot answer"
        );
        live.detach(1, 1, 0);
        assert!(live.pending.lock().unwrap().is_empty());
        drop(rx);
    }
}
