//! Stopping the instance's child when asked (stop, restart, delete): the
//! stop signal or `shutdown` message, SIGKILL after `kill_timeout`, its last
//! output written, what it abandoned stopped too.
//!
//! A stop clears what would start the app again on its own (a pending
//! restart, a readiness wait, file watching) but not the cron: pm2 starts
//! a stopped app again when its cron fires. A process that survives SIGKILL
//! (uninterruptible sleep) is left to be reaped in the background and the
//! instance is marked `errored`, so the actor never hangs on it.

use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use pmr_shared::app::Status;

use super::{Actor, DRAIN_LIMIT, Running};
use crate::supervisor::{LifeKind, stop};

impl Actor {
    /// A requested restart: stop, then start; counted only when it ran.
    /// `why` says who asked (the event's detail).
    pub(super) async fn restart(&mut self, why: &str) {
        let was_running = self.child.is_some();
        self.stop().await;
        self.fresh_counters();
        if was_running {
            self.h.rt().restart_time += 1;
        }
        self.emit_detail(LifeKind::Restart, why);
        self.start();
    }

    /// Stops the child (if any) and leaves the instance stopped: no
    /// pending restart, no readiness wait, no watching.
    pub(super) async fn stop(&mut self) {
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
    pub(super) async fn shut(&mut self, mut run: Running) -> Option<(Option<i32>, Option<String>)> {
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
            crate::supervisor::orphans::stop_abandoned(self.h.id, sig, grace).await;
        }
        Some(self.exit_noted(Some(&status)))
    }
}

/// `PMR_KILL_USE_MESSAGE=true` in the daemon's environment (pm2's
/// `PM2_KILL_USE_MESSAGE`): apps are stopped with the `shutdown` message.
fn kill_use_message() -> bool {
    std::env::var("PMR_KILL_USE_MESSAGE").is_ok_and(|v| v == "true" || v == "1")
}
