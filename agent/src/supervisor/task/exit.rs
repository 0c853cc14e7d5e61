//! The child ended without being asked to: its leftovers are drained, the
//! exit is logged and published, a crash is reported, and the restart
//! policy ([`crate::supervisor::policy`]) decides what happens next.
//!
//! The order is fixed: the `exit` event, then what the policy decided
//! (`restart`, `stopped` with the `STOPPED_ITSELF` detail, so the hub can
//! tell it from a requested stop, or `errored`). `restart_time` counts a
//! restart when it happens, not when it is decided: a delayed restart
//! counts when its timer fires (`WaitingRestart` until then), as in pm2.

use std::process::ExitStatus;
use std::str::FromStr;
use std::time::Duration;

use nix::sys::signal::Signal;
use pmr_shared::app::Status;
use pmr_shared::link::messages::restart_reason;
use tokio::time::Instant;

use super::Actor;
use crate::supervisor::policy::{self, Decision};
use crate::supervisor::{LifeKind, stop};

impl Actor {
    /// The child ended without being asked to: apply the restart policy.
    pub(super) fn exited(&mut self, status: std::io::Result<ExitStatus>) {
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
}
