//! Supervision of app instances: one actor task per instance owns its child
//! process and pipes and is driven by [`Control`] messages.
//!
//! The rest of the daemon sees an instance only through its [`Handle`]: a
//! snapshot of its state behind a short-lived lock (never held across an
//! await) and a queue of control messages.

pub mod adopt;
pub mod cluster;
pub mod exceptions;
pub mod ipc;
pub mod monitor;
pub mod notify;
pub mod orphans;
pub mod policy;
mod proc;
mod spawn;
mod stop;
pub mod task;
pub mod versioning;
mod watch;

use std::sync::{Arc, Mutex, MutexGuard};

use pmr_shared::app::{AppSpec, ProcessInfo, Status};
use tokio::sync::{mpsc, oneshot};

pub use task::launch;

// Old paths, kept only for files being rewritten on other branches
// (`task.rs`, `spawn.rs`, `appspec/`, `cli/render.rs`); drop them once
// those merge and use `crate::logs`, `crate::clock` and `crate::node`.
pub use crate::clock::{now_ms, parse_cron};
pub use crate::{logs, node};

/// Stops an app's process a previous daemon left running (not a child of
/// this one, so it cannot be waited for): its stop signal to its process
/// group, SIGKILL after `kill_timeout` ms. Gone means gone or a zombie:
/// whoever inherited it reaps it.
pub async fn stop_leftover(pid: u32, kill_signal: &str, kill_timeout: u64) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    use std::str::FromStr;
    let sig = Signal::from_str(kill_signal).unwrap_or(Signal::SIGINT);
    let gone = || {
        crate::procfs::read_stat(pid).is_none_or(|l| crate::procfs::stat_field(&l, 3) == Some("Z"))
    };
    let _ = killpg(Pid::from_raw(pid as i32), sig);
    let grace = std::time::Duration::from_millis(kill_timeout);
    let deadline = tokio::time::Instant::now() + grace;
    while !gone() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}

/// Where an app's repository is looked for: the script's directory when the
/// script is a file (`pmr start ~/repo/app.js` from anywhere), else its cwd.
pub fn versioning_dir(spec: &AppSpec) -> std::path::PathBuf {
    let script = std::path::Path::new(&spec.script);
    match script.parent() {
        Some(dir) if script.is_absolute() && script.is_file() => dir.to_path_buf(),
        _ => std::path::PathBuf::from(&spec.cwd),
    }
}

/// The environment an instance would get (the spec's, plus pm2's instance
/// variables), for callers outside the supervisor.
pub fn spawn_env(
    spec: &AppSpec,
    id: u32,
    instance: u32,
) -> std::collections::BTreeMap<String, String> {
    spawn::instance_env(spec, id, instance)
}

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

/// What happened to an instance, published for the hub link (and whoever
/// else listens); sending never waits, and nothing is kept without listeners.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: Arc<str>,
    /// The app's namespace, so every label of the event travels with it.
    pub namespace: Arc<str>,
    /// When, Unix ms.
    pub at: u64,
    /// What.
    pub kind: LifeKind,
    /// Exit code, for `Exit`.
    pub code: Option<i32>,
    /// Signal name, for `Exit`.
    pub signal: Option<String>,
    /// The new revision, for `Deploy`; the message and stack, for `Exception`.
    pub detail: Option<String>,
}

/// Kinds of [`Lifecycle`] events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeKind {
    /// Spawned and running.
    Online,
    /// The process ended.
    Exit,
    /// Restarted (automatically or on request).
    Restart,
    /// Gave up after unstable restarts.
    Errored,
    /// Stopped (on request or by a stop exit code).
    Stopped,
    /// Removed from the list.
    Deleted,
    /// Replaced without downtime by a reload.
    Reload,
    /// The revision checked out under the app changed.
    Deploy,
    /// The app reported an exception (over IPC), or died with a stack
    /// trace in its last error lines.
    Exception,
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
    spec: Mutex<Arc<AppSpec>>,
    /// Its files.
    pub files: InstanceFiles,
    rt: Mutex<Runtime>,
    ctl: mpsc::Sender<Control>,
    /// What the running child published (@pm2/io, notify socket); each run
    /// has its own, swapped in when the run becomes the instance's child.
    io: Mutex<Arc<Mutex<ipc::AppIo>>>,
    /// The running child's IPC channel, for messages and triggers.
    ipc: Mutex<Option<IpcLink>>,
    /// Git metadata of the app's directory, refreshed at each start.
    versioning: Mutex<Option<serde_json::Value>>,
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
        self.rt.lock().unwrap_or_else(|e| e.into_inner())
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
        let io = self
            .app_io()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
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
            versioning: self
                .versioning
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }

    /// The options in force.
    pub fn spec(&self) -> Arc<AppSpec> {
        self.spec.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// New options for the next start (the name stays).
    pub fn set_spec(&self, spec: Arc<AppSpec>) {
        *self.spec.lock().unwrap_or_else(|e| e.into_inner()) = spec;
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
        let mut slot = self.versioning.lock().unwrap_or_else(|e| e.into_inner());
        let before = rev(&slot);
        *slot = fresh;
        (before, now)
    }

    /// What the current child published.
    pub fn app_io(&self) -> Arc<Mutex<ipc::AppIo>> {
        self.io.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_app_io(&self, io: Arc<Mutex<ipc::AppIo>>) {
        *self.io.lock().unwrap_or_else(|e| e.into_inner()) = io;
    }

    /// The running child's IPC channel, if it has one.
    pub fn ipc(&self) -> Option<IpcLink> {
        self.ipc.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn set_ipc(&self, ipc: Option<&ipc::Ipc>) {
        *self.ipc.lock().unwrap_or_else(|e| e.into_inner()) = ipc.map(|i| IpcLink {
            tx: i.tx.clone(),
            replies: i.replies.clone(),
            ready: i.ready.clone(),
        });
    }

    /// Waits, at most `within`, until a Node app's top-level code has run
    /// (so that a signal sent next finds its handlers), or it has ended.
    /// Apps without the IPC channel return at once.
    pub async fn started(&self, within: std::time::Duration) {
        let ready = self
            .ipc
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|l| l.ready.clone());
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
