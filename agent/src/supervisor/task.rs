//! The per-instance actor: waits on its child, its control queue and its
//! restart timer, never on anything else.

use std::process::ExitStatus;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::Signal;
use pmr_shared::app::{AppSpec, Status};
use pmr_shared::link::messages::restart_reason;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::logs::StreamSink;
use super::policy::{self, Decision};
use super::{Control, Handle, InstanceFiles, LifeKind, Runtime, now_ms, spawn, stop};

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

struct Running {
    child: super::proc::Proc,
    pid: u32,
    started: Instant,
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

struct Actor {
    h: Arc<Handle>,
    out: StreamSink,
    err: StreamSink,
    child: Option<Running>,
    wake: Option<Instant>,
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

enum ChildEvent {
    Exited(std::io::Result<ExitStatus>),
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

async fn wait_wake(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Actor {
    fn emit_detail(&self, kind: super::LifeKind, detail: &str) {
        self.publish(kind, None, None, Some(detail.into()));
    }

    fn emit(&self, kind: super::LifeKind, code: Option<i32>, signal: Option<String>) {
        self.publish(kind, code, signal, None);
    }

    /// Publishes a lifecycle event, if anyone listens.
    fn publish(
        &self,
        kind: super::LifeKind,
        code: Option<i32>,
        signal: Option<String>,
        detail: Option<String>,
    ) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(super::Lifecycle {
                pm_id: self.h.id,
                name: self.h.spec().name.as_str().into(),
                namespace: self.h.spec().namespace.as_str().into(),
                at: now_ms(),
                kind,
                code,
                signal,
                detail,
            });
        }
    }

    /// Refreshes the git metadata in the background; a changed revision is
    /// a `deploy` event (sent once per app, by its first instance).
    fn refresh_versioning(&self, spec: &AppSpec) {
        if !spec.vizion {
            return;
        }
        let (h, events, first) = (self.h.clone(), self.events.clone(), self.h.instance == 0);
        tokio::spawn(async move {
            let (before, now) = h.refresh_versioning().await;
            if let (true, Some(before), Some(now)) = (first, before, now)
                && before != now
                && events.receiver_count() > 0
            {
                tracing::info!("App [{}:{}] now runs revision {now}", h.spec().name, h.id);
                let _ = events.send(super::Lifecycle {
                    pm_id: h.id,
                    name: h.spec().name.as_str().into(),
                    namespace: h.spec().namespace.as_str().into(),
                    at: now_ms(),
                    kind: LifeKind::Deploy,
                    code: None,
                    signal: None,
                    detail: Some(now),
                });
            }
        });
    }

    /// Where this instance's exception reports go.
    fn reporter(&self) -> super::exceptions::Reporter {
        super::exceptions::Reporter {
            events: self.events.clone(),
            pm_id: self.h.id,
            name: self.h.spec().name.as_str().into(),
            namespace: self.h.spec().namespace.as_str().into(),
            last_ipc: self.last_exception.clone(),
        }
    }

    /// Logs an exit the way pm2 words it and publishes it.
    fn exit_noted(&self, status: Option<&ExitStatus>) -> (Option<i32>, Option<String>) {
        let (code, signal) = describe(status);
        tracing::info!(
            "App [{}] exited with code [{}] via signal [{}]",
            self.label(),
            code.map_or("null".into(), |c| c.to_string()),
            signal.as_deref().unwrap_or("null"),
        );
        self.emit(LifeKind::Exit, code, signal.clone());
        (code, signal)
    }

    fn label(&self) -> String {
        format!("{}:{}", self.h.spec().name, self.h.id)
    }

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
                () = wait_change(&mut self.watch) => {
                    // Let a burst of writes settle, then restart once.
                    let quiet = Duration::from_millis(self.h.spec().watch_delay.max(100));
                    tokio::time::sleep(quiet).await;
                    if let Some(w) = self.watch.as_mut() {
                        while w.changed.try_recv().is_ok() {}
                    }
                    if self.child.is_some() {
                        tracing::info!("Change detected, restarting App [{}]", self.label());
                        let watch = self.watch.take();
                        self.stop().await;
                        self.watch = watch;
                        self.h.rt().restart_time += 1;
                        self.emit_detail(LifeKind::Restart, restart_reason::WATCH);
                        self.start();
                    }
                }
                () = wait_wake(self.cron_at) => {
                    self.cron_at = None;
                    if self.child.is_some() {
                        tracing::info!("App [{}] restarted by cron_restart", self.label());
                        self.stop().await;
                        self.h.rt().restart_time += 1;
                        self.emit_detail(LifeKind::Restart, restart_reason::CRON);
                    } else {
                        // An app that exited (a job run with --no-autorestart)
                        // or was stopped runs again, as under pm2.
                        tracing::info!("App [{}] started by cron_restart", self.label());
                    }
                    self.start();
                }
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

    fn fresh_counters(&mut self) {
        let mut rt = self.h.rt();
        rt.created_at = now_ms();
        rt.counters = policy::Counters::default();
    }

    /// Spawns a child for the current options, with its log pumps and
    /// IPC channel; of the instance's state, only its published metrics
    /// are reset.
    fn spawn_running(&self, spec: &AppSpec) -> std::io::Result<Running> {
        self.running(spec, spawn::spawn(spec, self.h.id, self.h.instance)?)
    }

    /// Output pumps, IPC channel and notify routing for a spawned (or
    /// adopted) child.
    fn running(&self, spec: &AppSpec, s: spawn::Spawned) -> std::io::Result<Running> {
        // Metrics and actions belong to one run: the new child publishes
        // into its own, which replaces the old one's when it is adopted.
        let io: Arc<Mutex<super::ipc::AppIo>> = Default::default();
        let pumps = [
            tokio::spawn(super::logs::pump(s.stdout, self.out.for_spec(spec))),
            tokio::spawn(super::logs::pump(s.stderr, self.err.for_spec(spec))),
        ];
        let (ready_tx, ready) = tokio::sync::watch::channel(0);
        let ipc = match s.ipc {
            Some(stream) => Some(super::ipc::serve(
                stream,
                io.clone(),
                ready_tx.clone(),
                super::cluster::shares(spec),
            )?),
            None => None,
        };
        if let Some(ipc) = &ipc {
            self.reporter()
                .watch(&ipc.replies, self.h.files.err.clone());
        }
        Ok(Running {
            child: s.child,
            pid: s.pid,
            started: Instant::now(),
            pumps,
            _listener: s.listener,
            _managed: s.managed,
            ipc,
            ready,
            _notify: super::notify::register(s.pid, ready_tx, io.clone()),
            io,
            _binds: s.binds,
            _parked: s.parked,
        })
    }

    /// Carries on with a process an earlier daemon started: same pid,
    /// uptime and counters; its exit (even one that happened while no
    /// daemon ran) goes through the restart policy as usual.
    fn take_over(&mut self, a: super::adopt::Adoption) {
        let spec = self.h.spec();
        let (pid, since) = (a.pid, a.pm_uptime);
        let run = match super::adopt::spawned(a).and_then(|s| self.running(&spec, s)) {
            Ok(run) => run,
            Err(e) => {
                tracing::error!("App [{}] pid {pid} not taken over: {e}", self.label());
                return;
            }
        };
        self.adopt(run, &spec);
        if let Some(run) = self.child.as_mut() {
            let age = Duration::from_millis(now_ms().saturating_sub(since));
            run.started = Instant::now().checked_sub(age).unwrap_or(run.started);
        }
        let mut rt = self.h.rt();
        rt.pm_uptime = since;
        rt.status = Status::Online;
        drop(rt);
        tracing::info!("App [{}] taken over, pid {pid}", self.label());
    }

    /// Makes `run` the instance's child: pid file, state, cron and watch.
    fn adopt(&mut self, run: Running, spec: &AppSpec) {
        if let Err(err) = std::fs::write(&self.h.files.pid, run.pid.to_string()) {
            tracing::warn!(path = %self.h.files.pid, %err, "cannot write pid file");
        }
        self.h.set_ipc(run.ipc.as_ref());
        self.h.set_app_io(run.io.clone());
        self.ready_by = None;
        {
            let mut rt = self.h.rt();
            rt.pid = run.pid;
            rt.pm_uptime = now_ms();
            rt.usage = Default::default();
        }
        self.child = Some(run);
        self.refresh_versioning(spec);
        self.cron_at = spec.cron_restart.as_deref().and_then(next_cron);
        if self.watch.is_none() && !spec.watch.is_empty() {
            let home = std::env::var_os("PMR_HOME").map(std::path::PathBuf::from);
            let files = &self.h.files;
            let own: Vec<std::path::PathBuf> = [
                Some(files.out.clone()),
                Some(files.err.clone()),
                files.combined.clone(),
                Some(files.pid.clone()),
            ]
            .into_iter()
            .flatten()
            .map(std::path::PathBuf::from)
            .chain(home)
            .collect();
            match super::watch::start(spec, own) {
                Ok(w) => self.watch = Some(w),
                Err(e) => {
                    tracing::warn!("App [{}]: cannot watch {:?}: {e}", self.label(), spec.watch)
                }
            }
        }
    }

    /// After a failed reload the old child keeps serving: whatever marked
    /// it (the memory check sets `stopping`) is undone.
    fn still_serving(&mut self) {
        if self.child.is_some() && self.ready_by.is_none() {
            self.h.rt().status = Status::Online;
        }
    }

    /// A launching instance becomes online (ready, or waited long enough).
    fn now_online(&mut self, why: &str) {
        self.ready_by = None;
        if self.child.is_none() {
            return;
        }
        self.h.rt().status = Status::Online;
        tracing::info!("App [{}] online ({why})", self.label());
        self.emit(LifeKind::Online, None, None);
    }

    fn start(&mut self) {
        let spec = self.h.spec();
        self.h.rt().status = Status::Launching;
        tracing::info!("App [{}] starting in -{}-", self.label(), spec.exec_mode);
        match self.spawn_running(&spec) {
            Ok(run) => {
                self.h.rt().start_error = None;
                self.adopt(run, &spec);
                if spec.wait_ready {
                    // pm2: launching until `ready`, online after listen_timeout anyway.
                    self.ready_by =
                        Some(Instant::now() + Duration::from_millis(spec.listen_timeout));
                } else {
                    self.h.rt().status = Status::Online;
                    tracing::info!("App [{}] online", self.label());
                    self.emit(LifeKind::Online, None, None);
                }
            }
            Err(err) => {
                let line = format!("[PMR] {} failed to start: {err}\n", spec.name);
                if let Some(f) = &self.err.file {
                    f.write(line.as_bytes());
                }
                tracing::error!("App [{}] failed to start: {err}", self.label());
                let mut rt = self.h.rt();
                rt.status = Status::Errored;
                rt.pid = 0;
                rt.start_error = Some(err.to_string());
            }
        }
    }

    /// A requested restart: stop, then start; counted only when it ran.
    /// `why` says who asked (the event's detail).
    async fn restart(&mut self, why: &str) {
        let was_running = self.child.is_some();
        self.stop().await;
        self.fresh_counters();
        if was_running {
            self.h.rt().restart_time += 1;
        }
        self.emit_detail(LifeKind::Restart, why);
        self.start();
    }

    /// Zero-downtime replacement in cluster mode: a new child starts beside
    /// the old one, and the old one is stopped only once the new one is
    /// ready (or `listen_timeout` has passed). In fork mode, a restart.
    async fn reload(&mut self) -> Result<(), String> {
        let spec = self.h.spec();
        if self.child.is_none() || spec.exec_mode != "cluster_mode" {
            self.restart(restart_reason::RELOAD).await;
            return Ok(());
        }
        tracing::info!(
            "App [{}] reloading: starting a new instance beside the old one",
            self.label()
        );
        let mut new = match self.spawn_running(&spec) {
            Ok(run) => run,
            Err(e) => {
                self.still_serving();
                return Err(format!(
                    "[{}]({}): the new instance could not start: {e}",
                    spec.name, self.h.id
                ));
            }
        };
        let want = if spec.wait_ready {
            super::ipc::READY
        } else {
            super::ipc::LISTENING
        };
        let deadline = Instant::now() + Duration::from_millis(spec.listen_timeout);
        loop {
            if new.readiness() >= want {
                break;
            }
            let ready = async {
                if new.ready.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                status = new.child.wait() => {
                    for pump in new.pumps {
                        let _ = tokio::time::timeout(DRAIN_LIMIT, pump).await;
                    }
                    let (code, _) = describe(status.as_ref().ok());
                    self.still_serving();
                    tracing::warn!("App [{}]: the new instance exited (code {code:?}) before it was ready; the old one keeps serving", self.label());
                    return Err(format!(
                        "[{}]({}): the new instance exited before it was ready (code {}); the old one keeps running",
                        spec.name,
                        self.h.id,
                        code.map_or("none".into(), |c| c.to_string())
                    ));
                }
                () = ready => {}
                () = tokio::time::sleep_until(deadline) => {
                    tracing::info!("App [{}]: no readiness after {}ms (listen_timeout); switching anyway", self.label(), spec.listen_timeout);
                    break;
                }
            }
        }
        if let Some(old) = self.child.take() {
            self.h.rt().status = Status::Online;
            self.adopt(new, &spec);
            // The old child stops gracefully while the new one serves.
            let _ = self.shut(old).await;
        } else {
            self.adopt(new, &spec);
        }
        let mut rt = self.h.rt();
        rt.status = Status::Online;
        rt.restart_time += 1;
        drop(rt);
        tracing::info!("App [{}] reloaded", self.label());
        self.emit(LifeKind::Reload, None, None);
        self.emit(LifeKind::Online, None, None);
        Ok(())
    }

    /// The child ended without being asked to: apply the restart policy.
    fn exited(&mut self, status: std::io::Result<ExitStatus>) {
        let Some(run) = self.child.take() else { return };
        // Nothing can reach a dead child: no messages, no stale metrics.
        self.ready_by = None;
        self.h.set_ipc(None);
        self.h.set_app_io(Default::default());
        let spec = self.h.spec();
        if spec.treekill {
            // Leftovers of the group get the stop signal and their grace, in
            // the background: the restart does not wait for them.
            let sig = Signal::from_str(&spec.kill_signal).unwrap_or(Signal::SIGINT);
            tokio::spawn(stop::drain_group(
                run.pid,
                sig,
                Duration::from_millis(spec.kill_timeout),
            ));
        }
        let _ = std::fs::remove_file(&self.h.files.pid);
        let uptime_ms = run.started.elapsed().as_millis() as u64;
        let (code, signal) = self.exit_noted(status.as_ref().ok());
        if code.is_some_and(|c| c != 0) || signal.as_deref().is_some_and(|s| s == "SIGABRT") {
            self.reporter()
                .after_crash(run.pumps, self.h.files.err.clone());
        }
        let mut rt = self.h.rt();
        rt.pid = 0;
        rt.exit_code = code;
        rt.exit_signal = signal;
        rt.usage = Default::default();
        let decision = policy::on_exit(&spec, &mut rt.counters, policy::Exit { code, uptime_ms });
        drop(rt);
        match decision {
            Decision::Restart { .. } => self.emit_detail(LifeKind::Restart, restart_reason::CRASH),
            // Stopped by its own exit, not by anyone's stop: the hub can
            // tell the two apart by this detail.
            Decision::Stop => self.emit_detail(
                LifeKind::Stopped,
                pmr_shared::link::messages::STOPPED_ITSELF,
            ),
            Decision::Errored => self.emit(LifeKind::Errored, None, None),
        }
        let mut rt = self.h.rt();
        match decision {
            Decision::Restart { delay_ms } => {
                if delay_ms == 0 {
                    rt.restart_time += 1;
                    drop(rt);
                    self.start();
                } else {
                    rt.status = Status::WaitingRestart;
                    drop(rt);
                    tracing::info!("App [{}] will restart in {delay_ms}ms", self.label());
                    self.wake = Some(Instant::now() + Duration::from_millis(delay_ms));
                }
            }
            Decision::Stop => rt.status = Status::Stopped,
            Decision::Errored => {
                rt.status = Status::Errored;
                drop(rt);
                tracing::warn!(
                    "Script {} had too many unstable restarts ({}). Stopped. \"errored\"",
                    spec.script,
                    spec.max_restarts
                );
            }
        }
    }

    async fn stop(&mut self) {
        self.wake = None;
        self.ready_by = None;
        // The cron keeps firing on a stopped app, as in pm2 (its own
        // e2e suite checks that a stopped app is started again).
        // A stopped app is not watched (pm2's `stop --watch`).
        self.watch = None;
        let Some(run) = self.child.take() else {
            self.h.rt().status = Status::Stopped;
            return;
        };
        self.h.rt().status = Status::Stopping;
        tracing::info!("Stopping app:{} id:{}", self.h.spec().name, self.h.id);
        let _ = std::fs::remove_file(&self.h.files.pid);
        self.h.set_ipc(None);
        let Some((code, signal)) = self.shut(run).await else {
            let mut rt = self.h.rt();
            rt.status = Status::Errored;
            rt.pid = 0;
            return;
        };
        self.emit(LifeKind::Stopped, None, None);
        let mut rt = self.h.rt();
        rt.status = Status::Stopped;
        rt.pid = 0;
        rt.exit_code = code;
        rt.exit_signal = signal;
        rt.usage = Default::default();
    }

    /// Ends one child gracefully (the stop signal, or the `shutdown`
    /// message with `shutdown_with_message`; SIGKILL after `kill_timeout`)
    /// and waits for its last output. `None` if it survived SIGKILL.
    async fn shut(&mut self, mut run: Running) -> Option<(Option<i32>, Option<String>)> {
        let spec = self.h.spec();
        let sig = Signal::from_str(&spec.kill_signal).unwrap_or(Signal::SIGINT);
        let grace = Duration::from_millis(spec.kill_timeout);
        // An app that stopped reading its channel gets the signal instead.
        // pm2's PM2_KILL_USE_MESSAGE: every app is asked by message.
        let by_message = spec.shutdown_with_message || kill_use_message();
        let by_message = match (&run.ipc, by_message) {
            (Some(ipc), true) => ipc.tx.try_send(serde_json::json!("shutdown")).is_ok(),
            _ => false,
        };
        let first = if by_message { None } else { Some(sig) };
        let status = stop::terminate(&mut run.child, run.pid, first, grace, spec.treekill).await;
        let Ok(status) = status else {
            // Unkillable (uninterruptible sleep): pm2 calls that errored.
            // Someone must still reap it, but not this actor.
            tracing::error!("App [{}] survived SIGKILL; marked errored", self.label());
            let mut child = run.child;
            tokio::spawn(async move {
                let _ = child.wait().await;
            });
            return None;
        };
        // The app's last words (its shutdown messages) reach the log before
        // the stop is acknowledged.
        for pump in run.pumps {
            let _ = tokio::time::timeout(DRAIN_LIMIT, pump).await;
        }
        // What it forked off and abandoned (now our child) goes with it.
        if spec.treekill {
            super::orphans::stop_abandoned(self.h.id, sig, grace).await;
        }
        Some(self.exit_noted(Some(&status)))
    }
}

/// `PMR_KILL_USE_MESSAGE=true` in the daemon's environment (pm2's
/// `PM2_KILL_USE_MESSAGE`): apps are stopped with the `shutdown` message.
fn kill_use_message() -> bool {
    std::env::var("PMR_KILL_USE_MESSAGE").is_ok_and(|v| v == "true" || v == "1")
}

async fn wait_change(watch: &mut Option<super::watch::Watch>) {
    match watch {
        Some(w) => {
            if w.changed.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// When a cron pattern next fires, as a timer deadline.
fn next_cron(pattern: &str) -> Option<Instant> {
    let cron = super::parse_cron(pattern).ok()?;
    let now = chrono::Local::now();
    let next = cron.find_next_occurrence(&now, false).ok()?;
    let wait = (next - now).to_std().ok()?;
    Some(Instant::now() + wait)
}

fn describe(status: Option<&ExitStatus>) -> (Option<i32>, Option<String>) {
    use std::os::unix::process::ExitStatusExt;
    let Some(status) = status else {
        return (None, None);
    };
    let signal = status
        .signal()
        .and_then(|s| Signal::try_from(s).ok())
        .map(|s| s.as_str().to_string());
    (status.code(), signal)
}
