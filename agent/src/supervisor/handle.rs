//! [`Handle`]: the daemon's view of one instance, and the only way in.
//! It holds a snapshot of the instance's state behind short-lived locks
//! (never held across an await) and the queue of [`Control`] messages its
//! actor ([`super::task`]) obeys one at a time; the actor alone changes the
//! child, everyone else asks.

use std::sync::{Arc, Mutex, MutexGuard};

use pmr_shared::app::{AppSpec, ProcessInfo, Status};
use tokio::sync::{mpsc, oneshot};

use pmr_shared::sync::Locked;

use super::{adopt, ipc, monitor, policy, spawn, versioning, versioning_dir};

/// Where an instance's files are, resolved once when it is created.
#[derive(Debug, Clone)]
pub struct InstanceFiles {
    /// stdout log, `/dev/null` when disabled.
    pub out: String,
    /// stderr log, `/dev/null` when disabled.
    pub err: String,
    /// Combined log, if any.
    pub combined: Option<String>,
    /// Pid file.
    pub pid: String,
}

/// The mutable facts about one instance.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// Current status.
    pub status: Status,
    /// Pid of the main process, 0 when none runs.
    pub pid: u32,
    /// Restarts counted the pm2 way.
    pub restart_time: u32,
    /// Restart-policy counters.
    pub counters: policy::Counters,
    /// Epoch ms of the last start.
    pub pm_uptime: u64,
    /// Epoch ms of creation or of the last manual restart.
    pub created_at: u64,
    /// Exit code of the last run.
    pub exit_code: Option<i32>,
    /// Signal that ended the last run.
    pub exit_signal: Option<String>,
    /// Last CPU and memory sample.
    pub usage: monitor::Usage,
    /// Why the last start could not run the program, until one does.
    pub start_error: Option<String>,
}

/// Messages an instance's actor obeys; each carries an acknowledgement sent
/// once the action is complete.
#[derive(Debug)]
pub enum Control {
    /// Start if not running.
    Start(oneshot::Sender<()>),
    /// Stop gracefully if running; cancel a pending restart.
    Stop(oneshot::Sender<()>),
    /// Stop if running, then start; the reason goes in the `restart`
    /// event's detail (`pmr_shared::link::messages::restart_reason`).
    Restart(Arc<str>, oneshot::Sender<()>),
    /// Stop if running, then end the actor.
    Delete(oneshot::Sender<()>),
    /// Replace the running child without downtime (cluster mode).
    Reload(oneshot::Sender<Result<(), String>>),
    /// Take over a process an earlier daemon started.
    Adopt(Box<adopt::Adoption>, oneshot::Sender<()>),
}

/// Which environment a snapshot carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvView {
    /// None (the process table does not need it).
    None,
    /// The environment the app was started with (what the dump keeps).
    Given,
    /// What the app really got, with pm2's instance variables.
    Effective,
}

/// The daemon's view of one instance.
#[derive(Debug)]
pub struct Handle {
    /// Stable id.
    pub id: u32,
    /// Index among the app's instances.
    pub instance: u32,
    /// The options it runs with; replaced when an ecosystem file or
    /// `--update-env` brings new ones (taken at the next start).
    pub(super) spec: Mutex<Arc<AppSpec>>,
    /// Its files.
    pub files: InstanceFiles,
    /// Status, pid, counters: written by the actor, read by everyone.
    pub(super) rt: Mutex<Runtime>,
    /// The actor's queue; closed once the actor has ended (deleted).
    pub(super) ctl: mpsc::Sender<Control>,
    /// What the running child published (@pm2/io, notify socket); each run
    /// has its own, swapped in when the run becomes the instance's child.
    pub(super) io: Mutex<Arc<Mutex<ipc::AppIo>>>,
    /// The running child's IPC channel, for messages and triggers.
    pub(super) ipc: Mutex<Option<IpcLink>>,
    /// Git metadata of the app's directory, refreshed at each start.
    pub(super) versioning: Mutex<Option<serde_json::Value>>,
}

/// The parts of a child's IPC channel other tasks use.
#[derive(Debug, Clone)]
pub struct IpcLink {
    /// Messages to the app.
    pub tx: mpsc::Sender<serde_json::Value>,
    /// Replies and `process:msg` messages from the app.
    pub replies: tokio::sync::broadcast::Sender<serde_json::Value>,
    /// How far the app has come (its top-level code ran, it listens...).
    pub ready: tokio::sync::watch::Receiver<ipc::Readiness>,
}

impl Handle {
    /// Locks the runtime facts for a short, synchronous look or update.
    pub fn rt(&self) -> MutexGuard<'_, Runtime> {
        self.rt.locked()
    }

    /// Sends a control message and waits until the actor has carried it out.
    pub async fn control(&self, make: impl FnOnce(oneshot::Sender<()>) -> Control) {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(make(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Hands the instance a process an earlier daemon started, and waits
    /// until it has taken it over.
    pub async fn take_over(&self, a: adopt::Adoption) {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Control::Adopt(Box::new(a), tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// A serializable snapshot for the CLI.
    pub fn info(&self, username: &str, env: EnvView) -> ProcessInfo {
        let rt = self.rt().clone();
        let io = self.app_io().locked().clone();
        let current = self.spec();
        let mut spec = (*current).clone();
        match env {
            EnvView::None => spec.env.clear(),
            EnvView::Given => {}
            EnvView::Effective => spec.env = spawn::instance_env(&current, self.id, self.instance),
        }
        ProcessInfo {
            pm_id: self.id,
            instance: self.instance,
            status: rt.status,
            pid: rt.pid,
            restart_time: rt.restart_time,
            unstable_restarts: rt.counters.unstable_restarts,
            pm_uptime: rt.pm_uptime,
            created_at: rt.created_at,
            exit_code: rt.exit_code,
            exit_signal: rt.exit_signal,
            prev_restart_delay: rt.counters.prev_restart_delay,
            cpu: rt.usage.cpu,
            memory: rt.usage.memory,
            username: username.to_string(),
            out_log: self.files.out.clone(),
            err_log: self.files.err.clone(),
            combined_log: self.files.combined.clone(),
            pid_path: self.files.pid.clone(),
            log_bytes_dropped: 0,
            spec,
            axm_monitor: io.monitor,
            axm_actions: io.actions,
            versioning: self.versioning.locked().clone(),
        }
    }

    /// The options in force.
    pub fn spec(&self) -> Arc<AppSpec> {
        self.spec.locked().clone()
    }

    /// New options for the next start (the name stays).
    pub fn set_spec(&self, spec: Arc<AppSpec>) {
        *self.spec.locked() = spec;
    }

    /// Reads the git metadata of the app's directory again (off the
    /// daemon's thread) and keeps it; returns the previous revision and the
    /// new one.
    pub async fn refresh_versioning(&self) -> (Option<String>, Option<String>) {
        let dir = versioning_dir(&self.spec());
        let fresh = tokio::task::spawn_blocking(move || versioning::read(&dir))
            .await
            .ok()
            .flatten();
        let rev = |v: &Option<serde_json::Value>| {
            v.as_ref()
                .and_then(|v| v["revision"].as_str())
                .map(String::from)
        };
        let now = rev(&fresh);
        let mut slot = self.versioning.locked();
        let before = rev(&slot);
        *slot = fresh;
        (before, now)
    }

    /// What the current child published.
    pub fn app_io(&self) -> Arc<Mutex<ipc::AppIo>> {
        self.io.locked().clone()
    }

    /// Makes `io` what the instance shows: the new run's, when it becomes the child.
    pub(crate) fn set_app_io(&self, io: Arc<Mutex<ipc::AppIo>>) {
        *self.io.locked() = io;
    }

    /// The running child's IPC channel, if it has one.
    pub fn ipc(&self) -> Option<IpcLink> {
        self.ipc.locked().clone()
    }

    /// Publishes the running child's IPC channel (or that there is none).
    pub(crate) fn set_ipc(&self, ipc: Option<&ipc::Ipc>) {
        *self.ipc.locked() = ipc.map(|i| IpcLink {
            tx: i.tx.clone(),
            replies: i.replies.clone(),
            ready: i.ready.clone(),
        });
    }

    /// Waits, at most `within`, until a Node app's top-level code has run
    /// (so that a signal sent next finds its handlers), or it has ended.
    /// Apps without the IPC channel return at once.
    pub async fn started(&self, within: std::time::Duration) {
        let ready = self.ipc.locked().as_ref().map(|l| l.ready.clone());
        if let Some(mut ready) = ready {
            let _ = tokio::time::timeout(within, ready.wait_for(|r| *r >= ipc::STARTED)).await;
        }
    }

    /// Asks the actor for a zero-downtime reload and waits for the outcome.
    pub async fn reload(&self) -> Result<(), String> {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Control::Reload(tx)).await.is_err() {
            return Err(format!(
                "[{}]({}) is being removed",
                self.spec().name,
                self.id
            ));
        }
        rx.await.unwrap_or_else(|_| {
            Err(format!(
                "[{}]({}) is being removed",
                self.spec().name,
                self.id
            ))
        })
    }

    /// Zeroes the restart counters (`pmr reset`).
    pub fn reset(&self) {
        let mut rt = self.rt();
        rt.restart_time = 0;
        rt.counters = policy::Counters::default();
    }
}
