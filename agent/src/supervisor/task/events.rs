//! What the actor tells the rest of the daemon: lifecycle events on the
//! broadcast channel (the hub link and `pmr logs` listen), exits in pm2's
//! words in the daemon log, a new git revision as a `deploy` event.
//!
//! Publishing never waits: with no listener the event is dropped, and a
//! slow listener loses the oldest events (a broadcast channel), never
//! holding up the actor.

use std::process::ExitStatus;

use nix::sys::signal::Signal;
use pmr_shared::app::AppSpec;

use super::Actor;
use crate::clock::now_ms;
use crate::supervisor::LifeKind;

impl Actor {
    /// Publishes an event with a detail (who asked for a restart, why).
    pub(super) fn emit_detail(&self, kind: crate::supervisor::LifeKind, detail: &str) {
        self.publish(kind, None, None, Some(detail.into()));
    }

    /// Publishes an event with the exit code and signal, if any.
    pub(super) fn emit(
        &self,
        kind: crate::supervisor::LifeKind,
        code: Option<i32>,
        signal: Option<String>,
    ) {
        self.publish(kind, code, signal, None);
    }

    /// Publishes a lifecycle event, if anyone listens.
    fn publish(
        &self,
        kind: crate::supervisor::LifeKind,
        code: Option<i32>,
        signal: Option<String>,
        detail: Option<String>,
    ) {
        if self.events.receiver_count() > 0 {
            let _ = self.events.send(crate::supervisor::Lifecycle {
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
    pub(super) fn refresh_versioning(&self, spec: &AppSpec) {
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
                let _ = events.send(crate::supervisor::Lifecycle {
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
    pub(super) fn reporter(&self) -> crate::supervisor::exceptions::Reporter {
        crate::supervisor::exceptions::Reporter {
            events: self.events.clone(),
            pm_id: self.h.id,
            name: self.h.spec().name.as_str().into(),
            namespace: self.h.spec().namespace.as_str().into(),
            last_ipc: self.last_exception.clone(),
        }
    }

    /// Logs an exit the way pm2 words it and publishes it.
    pub(super) fn exit_noted(&self, status: Option<&ExitStatus>) -> (Option<i32>, Option<String>) {
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

    /// `name:id`, as pm2 names an instance in its log.
    pub(super) fn label(&self) -> String {
        format!("{}:{}", self.h.spec().name, self.h.id)
    }
}

/// An exit status as pm2 reports it: the code, or the signal's name.
pub(super) fn describe(status: Option<&ExitStatus>) -> (Option<i32>, Option<String>) {
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
