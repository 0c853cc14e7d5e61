//! The per-instance actor: waits on its child, its control queue and its
//! timers (restart delay, readiness deadline, cron, file changes), never
//! on anything else, so one slow app cannot hold up another.
//!
//! This file holds the actor's state and its event loop; what each event
//! does lives beside it: starting or taking over a child (`child`), its
//! unasked exit and the restart policy (`exit`), stop and restart
//! (`stopping`), zero-downtime reload (`reload`), cron and watch
//! restarts (`triggers`), and the lifecycle events it publishes
//! (`events`).

mod child;
mod events;
mod exit;
mod reload;
mod stopping;
mod triggers;

use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use pmr_shared::app::{AppSpec, Status};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::policy;
use super::{Control, Handle, InstanceFiles, LifeKind, Runtime};
use crate::clock::now_ms;
use crate::logs::StreamSink;

/// Everything needed to create an instance.
pub struct Launch {
    /// Stable id.
    pub id: u32,
    /// Index among the app's instances.
    pub instance: u32,
    /// Options.
    pub spec: Arc<AppSpec>,
    /// Resolved files.
    pub files: InstanceFiles,
    /// Where stdout goes.
    pub out: StreamSink,
    /// Where stderr goes.
    pub err: StreamSink,
    /// Restart count carried over (resurrect keeps it).
    pub restart_time: u32,
    /// Where lifecycle events go.
    pub events: tokio::sync::broadcast::Sender<super::Lifecycle>,
}

/// Creates the instance's actor; it stays stopped until told to start.
pub fn launch(l: Launch) -> Arc<Handle> {
    let (tx, rx) = mpsc::channel(8);
    let now = now_ms();
    let handle = Arc::new(Handle {
        id: l.id,
        instance: l.instance,
        spec: Mutex::new(l.spec),
        files: l.files,
        rt: Mutex::new(Runtime {
            status: Status::Stopped,
            pid: 0,
            restart_time: l.restart_time,
            counters: policy::Counters::default(),
            pm_uptime: now,
            created_at: now,
            exit_code: None,
            exit_signal: None,
            usage: Default::default(),
            start_error: None,
        }),
        ctl: tx,
        io: Default::default(),
        ipc: Default::default(),
        versioning: Default::default(),
    });
    let actor = Actor {
        h: handle.clone(),
        out: l.out,
        err: l.err,
        child: None,
        wake: None,
        events: l.events,
        cron_at: None,
        watch: None,
        ready_by: None,
        last_exception: Default::default(),
    };
    tokio::spawn(actor.run(rx));
    handle
}

/// One run of the instance's child, and what lives exactly as long as it:
/// its log pumps, IPC channel, notify routing and shared sockets.
struct Running {
    /// The process, waited for by the actor alone.
    child: super::proc::Proc,
    /// Its pid, which leads its process group.
    pid: u32,
    /// When it started (for an adopted one, when the earlier daemon
    /// started it): its uptime decides whether an exit was unstable.
    started: Instant,
    /// The stdout and stderr pumps, awaited (briefly) so a stop or a crash
    /// report sees the last lines written.
    pumps: [tokio::task::JoinHandle<()>; 2],
    /// Keeps the cluster's shared socket open while this child runs.
    _listener: Option<Arc<crate::supervisor::cluster::Shared>>,
    /// Keeps the orphan reaper off `child` while this run lasts.
    _managed: super::orphans::Managed,
    /// The Node IPC channel, for Node apps.
    ipc: Option<super::ipc::Ipc>,
    /// What this child published (metrics, actions).
    io: Arc<Mutex<super::ipc::AppIo>>,
    /// Readiness, raised by the IPC channel or the notify socket.
    ready: tokio::sync::watch::Receiver<super::ipc::Readiness>,
    /// Routes this child's notify-socket messages here while it runs.
    _notify: super::notify::Registration,
    /// Shared sockets an earlier daemon held, kept while an adopted child runs.
    _binds: Vec<Arc<crate::supervisor::cluster::Shared>>,
    /// The keeper's copies of its pipes, released when this run ends.
    _parked: Option<crate::keeper::link::Parked>,
}

impl Running {
    /// Readiness this child has reached.
    fn readiness(&self) -> super::ipc::Readiness {
        *self.ready.borrow()
    }
}

/// How long a stop waits for the last output of the app to be written.
const DRAIN_LIMIT: Duration = Duration::from_secs(1);

/// The instance's state, owned by its task alone; the [`Handle`] is what
/// others see of it.
struct Actor {
    /// What the rest of the daemon sees of this instance.
    h: Arc<Handle>,
    /// Where the app's stdout goes (files, followers).
    out: StreamSink,
    /// Where the app's stderr goes.
    err: StreamSink,
    /// The current run, `None` while stopped, errored or waiting to restart.
    child: Option<Running>,
    /// When a delayed automatic restart is due.
    wake: Option<Instant>,
    /// Where lifecycle events go (the hub link and other listeners).
    events: tokio::sync::broadcast::Sender<super::Lifecycle>,
    /// Next cron restart, while the app runs with a cron pattern.
    cron_at: Option<Instant>,
    /// File watching, while the app runs with `watch`.
    watch: Option<super::watch::Watch>,
    /// With `wait_ready`: when a launching app is declared online anyway.
    ready_by: Option<Instant>,
    /// When the app last reported an exception over IPC, Unix ms.
    last_exception: Arc<std::sync::atomic::AtomicU64>,
}

/// What the running child did.
enum ChildEvent {
    /// It ended (or waiting for it failed).
    Exited(std::io::Result<ExitStatus>),
    /// Its readiness changed (IPC `ready`, listening, notify socket).
    Readiness,
}

/// The running child exited, or (while `readiness` is wanted) its
/// readiness changed.
async fn child_event(child: &mut Option<Running>, readiness: bool) -> ChildEvent {
    let Some(run) = child else {
        return std::future::pending().await;
    };
    let ready = async {
        if !readiness || run.ready.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        status = run.child.wait() => ChildEvent::Exited(status),
        () = ready => ChildEvent::Readiness,
    }
}

/// Waits until `wake`, or forever when there is none.
async fn wait_wake(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Actor {
    /// The event loop: one control message or one event at a time.
    async fn run(mut self, mut rx: mpsc::Receiver<Control>) {
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    let Some(msg) = msg else {
                        self.stop().await;
                        return;
                    };
                    if !self.obey(msg).await {
                        return;
                    }
                }
                event = child_event(&mut self.child, self.ready_by.is_some()) => match event {
                    ChildEvent::Exited(status) => self.exited(status),
                    ChildEvent::Readiness => {
                        if self.child.as_ref().is_some_and(|r| r.readiness() >= super::ipc::READY) {
                            self.now_online("ready");
                        }
                    }
                },
                () = wait_wake(self.ready_by) => self.now_online("listen_timeout"),
                () = wait_wake(self.wake) => {
                    // A delayed restart counts when it happens, as in pm2.
                    self.wake = None;
                    self.h.rt().restart_time += 1;
                    self.start();
                }
                () = triggers::wait_change(&mut self.watch) => self.on_change().await,
                () = wait_wake(self.cron_at) => self.on_cron().await,
            }
        }
    }

    /// Carries out one control message; false ends the actor.
    async fn obey(&mut self, msg: Control) -> bool {
        match msg {
            Control::Start(ack) => {
                if self.child.is_none() {
                    self.wake = None;
                    self.fresh_counters();
                    self.start();
                }
                let _ = ack.send(());
            }
            Control::Stop(ack) => {
                self.stop().await;
                let _ = ack.send(());
            }
            Control::Restart(why, ack) => {
                self.restart(&why).await;
                let _ = ack.send(());
            }
            Control::Reload(ack) => {
                let outcome = self.reload().await;
                let _ = ack.send(outcome);
            }
            Control::Adopt(a, ack) => {
                if self.child.is_none() {
                    self.take_over(*a);
                }
                let _ = ack.send(());
            }
            Control::Delete(ack) => {
                self.stop().await;
                self.emit(LifeKind::Deleted, None, None);
                let _ = ack.send(());
                return false;
            }
        }
        true
    }

    /// A start asked for by someone starts the restart policy afresh.
    fn fresh_counters(&mut self) {
        let mut rt = self.h.rt();
        rt.created_at = now_ms();
        rt.counters = policy::Counters::default();
    }
}
