//! Starting the instance's child (or carrying on with one an earlier
//! daemon started) and making it the instance's run: log pumps, IPC,
//! notify routing, pid file, cron and watch; then launching → online.
//!
//! `Actor::child` is `Some` exactly while a run is the instance's, and
//! `adopt` is the one place that makes it so, for a fresh spawn, a reload's
//! new child and a process taken over from an earlier daemon alike: it
//! writes the pid file, publishes the run's IPC channel and metrics to the
//! [`Handle`](crate::supervisor::Handle), and arms cron and watch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use pmr_shared::app::{AppSpec, Status};
use tokio::time::Instant;

use super::triggers::next_cron;
use super::{Actor, Running};
use crate::clock::now_ms;
use crate::supervisor::{LifeKind, spawn};

impl Actor {
    /// Spawns a child for the current options, with its log pumps and
    /// IPC channel; of the instance's state, only its published metrics
    /// are reset.
    pub(super) fn spawn_running(&self, spec: &AppSpec) -> std::io::Result<Running> {
        self.running(spec, spawn::spawn(spec, self.h.id, self.h.instance)?)
    }

    /// Output pumps, IPC channel and notify routing for a spawned (or
    /// adopted) child.
    fn running(&self, spec: &AppSpec, s: spawn::Spawned) -> std::io::Result<Running> {
        // Metrics and actions belong to one run: the new child publishes
        // into its own, which replaces the old one's when it is adopted.
        let io: Arc<Mutex<crate::supervisor::ipc::AppIo>> = Default::default();
        let pumps = [
            tokio::spawn(crate::logs::pump(s.stdout, self.out.for_spec(spec))),
            tokio::spawn(crate::logs::pump(s.stderr, self.err.for_spec(spec))),
        ];
        let (ready_tx, ready) = tokio::sync::watch::channel(0);
        let ipc = match s.ipc {
            Some(stream) => Some(crate::supervisor::ipc::serve(
                stream,
                io.clone(),
                ready_tx.clone(),
                crate::supervisor::cluster::shares(spec),
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
            _notify: crate::supervisor::notify::register(s.pid, ready_tx, io.clone()),
            io,
            _binds: s.binds,
            _parked: s.parked,
        })
    }

    /// Carries on with a process an earlier daemon started: same pid,
    /// uptime and counters; its exit (even one that happened while no
    /// daemon ran) goes through the restart policy as usual.
    pub(super) fn take_over(&mut self, a: crate::supervisor::adopt::Adoption) {
        let spec = self.h.spec();
        let (pid, since) = (a.pid, a.pm_uptime);
        let run = match crate::supervisor::adopt::spawned(a).and_then(|s| self.running(&spec, s)) {
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
    pub(super) fn adopt(&mut self, run: Running, spec: &AppSpec) {
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
        self.start_watch(spec);
    }

    /// A launching instance becomes online (ready, or waited long enough).
    pub(super) fn now_online(&mut self, why: &str) {
        self.ready_by = None;
        if self.child.is_none() {
            return;
        }
        self.h.rt().status = Status::Online;
        tracing::info!("App [{}] online ({why})", self.label());
        self.emit(LifeKind::Online, None, None);
    }

    /// Spawns a child for the current options: online at once, or (with
    /// `wait_ready`) launching until it says ready; errored if it cannot run.
    pub(super) fn start(&mut self) {
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
}
