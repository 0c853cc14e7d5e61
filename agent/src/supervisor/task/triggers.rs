//! Restarts nobody asked for by message: a file change under a watched
//! path (after a quiet time, once per burst) and a cron pattern firing
//! (which also starts an app that exited or was stopped, as pm2 does).

use std::time::Duration;

use pmr_shared::app::AppSpec;
use pmr_shared::link::messages::restart_reason;
use tokio::time::Instant;

use super::Actor;
use crate::supervisor::LifeKind;

impl Actor {
    /// A watched file changed: restart once the writes settle. The settle
    /// sleep (`watch_delay`, at least 100 ms) runs inside the actor, so a
    /// control message sent meanwhile waits for it.
    pub(super) async fn on_change(&mut self) {
        // Let a burst of writes settle, then restart once.
        let quiet = Duration::from_millis(self.h.spec().watch_delay.max(100));
        tokio::time::sleep(quiet).await;
        if let Some(w) = self.watch.as_mut() {
            while w.changed.try_recv().is_ok() {}
        }
        if self.child.is_some() {
            tracing::info!("Change detected, restarting App [{}]", self.label());
            // `stop` drops the watcher (a stopped app is not watched):
            // keep this one across the restart.
            let watch = self.watch.take();
            self.stop().await;
            self.watch = watch;
            self.h.rt().restart_time += 1;
            self.emit_detail(LifeKind::Restart, restart_reason::WATCH);
            self.start();
        }
    }

    /// The cron pattern fired: restart the app, or start it if it is down.
    pub(super) async fn on_cron(&mut self) {
        // Cleared here; the start below arms the next occurrence.
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

    /// Starts watching `spec.watch` (once per instance; a stop ends it),
    /// leaving out the instance's own log and pid files and `PMR_HOME`.
    pub(super) fn start_watch(&mut self, spec: &AppSpec) {
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
            match crate::supervisor::watch::start(spec, own) {
                Ok(w) => self.watch = Some(w),
                Err(e) => {
                    tracing::warn!("App [{}]: cannot watch {:?}: {e}", self.label(), spec.watch)
                }
            }
        }
    }
}

/// Waits for a change under a watched path, or forever when not watching.
pub(super) async fn wait_change(watch: &mut Option<crate::supervisor::watch::Watch>) {
    match watch {
        Some(w) => {
            if w.changed.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending().await,
    }
}

/// When a cron pattern next fires, as a timer deadline. Computed in local
/// time, as pm2 reads `cron_restart`; an unparsable pattern never fires
/// (it was refused when the app was registered).
pub(super) fn next_cron(pattern: &str) -> Option<Instant> {
    let cron = crate::clock::parse_cron(pattern).ok()?;
    let now = chrono::Local::now();
    let next = cron.find_next_occurrence(&now, false).ok()?;
    let wait = (next - now).to_std().ok()?;
    Some(Instant::now() + wait)
}
