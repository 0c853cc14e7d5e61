//! Zero-downtime reload in cluster mode: the new child starts beside the
//! old one, which stops only once the new one is ready; if the new one
//! fails, the old one keeps serving and the caller is told why.
//!
//! Only cluster-mode apps reload this way; in fork mode a reload is a
//! restart. The new child is awaited until it is `LISTENING` (or `READY`
//! with `wait_ready`), at most `listen_timeout`, after which the switch
//! happens anyway, as pm2 does. A reload counts as one restart.

use std::time::Duration;

use pmr_shared::app::Status;
use pmr_shared::link::messages::restart_reason;
use tokio::time::Instant;

use super::events::describe;
use super::{Actor, DRAIN_LIMIT};
use crate::supervisor::LifeKind;

impl Actor {
    /// Zero-downtime replacement in cluster mode: a new child starts beside
    /// the old one, and the old one is stopped only once the new one is
    /// ready (or `listen_timeout` has passed). In fork mode, a restart.
    pub(super) async fn reload(&mut self) -> Result<(), String> {
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
            crate::supervisor::ipc::READY
        } else {
            crate::supervisor::ipc::LISTENING
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

    /// After a failed reload the old child keeps serving: whatever marked
    /// it (the memory check sets `stopping`) is undone.
    fn still_serving(&mut self) {
        if self.child.is_some() && self.ready_by.is_none() {
            self.h.rt().status = Status::Online;
        }
    }
}
