//! `pmr start` of new apps (a script, a command, an ecosystem file): each
//! spec is registered and started, restarts a stopped copy of itself, or
//! (an ecosystem file read again) updates the known app.

use std::sync::Arc;

use pmr_shared::app::{AppSpec, Status};
use pmr_shared::ipc::{ErrorKind, Response};

use super::act::restarter;
use super::checkout::reload_all;
use super::scale::scale;
use crate::daemon::recreate::validate;
use crate::daemon::reply::{done, error, run_all, start_errors};
use crate::daemon::state::{Daemon, NewInstance};
use crate::supervisor::{Control, EnvView, Handle};

/// Longest a cluster-mode start waits for an instance's top-level code.
const STARTED_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What a start request does, spec by spec, decided before anything runs.
#[derive(Default)]
struct Plan {
    /// What the user reads, in order.
    messages: Vec<String>,
    /// New instances to register and start.
    to_create: Vec<NewInstance>,
    /// Stopped copies of a spec, started again.
    to_restart: Vec<Arc<Handle>>,
    /// Known apps that took an ecosystem file's options.
    refreshed: Vec<Arc<Handle>>,
    /// Known apps whose file asks for another number of instances.
    rescale: Vec<(String, u32)>,
}

/// Registers and starts new apps. Every spec is validated before anything
/// is registered; the plan (refresh, restart a stopped copy, or create)
/// is then made spec by spec, and a refusal midway leaves the earlier
/// specs' refreshes in place.
pub(super) async fn start(
    d: &Arc<Daemon>,
    apps: Vec<AppSpec>,
    force: bool,
    update: bool,
    reload: bool,
) -> Response {
    if d.is_closing() {
        return error(ErrorKind::Unavailable, "the daemon is shutting down");
    }
    for spec in &apps {
        if let Err(e) = validate(spec) {
            return error(ErrorKind::Invalid, e);
        }
    }
    let mut plan = Plan::default();
    for spec in apps {
        let Some(spec) = (if update {
            plan.refresh(d, spec)
        } else {
            Some(spec)
        }) else {
            continue;
        };
        let Some(spec) = (match plan.restart_stopped(d, spec, force) {
            Ok(left) => left,
            Err(refused) => return refused,
        }) else {
            continue;
        };
        plan.create(spec);
    }
    if let Err(refused) = create_and_start(d, std::mem::take(&mut plan.to_create)).await {
        return refused;
    }
    run_all(plan.to_restart, Control::Start).await;
    let mut messages = plan.messages;
    if reload {
        match reload_all(d, plan.refreshed).await {
            Ok(m) => messages.extend(m),
            Err(e) => return e.into(),
        }
    } else {
        run_all(plan.refreshed, restarter(None)).await;
    }
    for (name, n) in plan.rescale {
        match scale(d, &name, &n.to_string()).await {
            Response::Done { messages: m, .. } => messages.extend(m),
            other => return other,
        }
    }
    messages.push("Done.".into());
    done(messages, d.list(EnvView::None))
}

impl Plan {
    /// An ecosystem file re-read: a known app takes its options and
    /// restarts; an unknown spec is handed back.
    fn refresh(&mut self, d: &Daemon, spec: AppSpec) -> Option<AppSpec> {
        let known: Vec<Arc<Handle>> = d
            .handles()
            .into_iter()
            .filter(|h| h.spec().name == spec.name)
            .collect();
        if known.is_empty() {
            return Some(spec);
        }
        self.messages
            .push(format!("Restarting {} with the file's options", spec.name));
        // A changed `instances` scales the app afterwards.
        if known.len() != spec.instances as usize {
            self.rescale.push((spec.name.clone(), spec.instances));
        }
        let spec = Arc::new(spec);
        known.iter().for_each(|h| h.set_spec(spec.clone()));
        self.refreshed.extend(known);
        None
    }

    /// The same script under the same name: started again when every copy
    /// is down, refused while one runs (unless forced); a spec with no
    /// copy is handed back.
    fn restart_stopped(
        &mut self,
        d: &Daemon,
        spec: AppSpec,
        force: bool,
    ) -> Result<Option<AppSpec>, Response> {
        let same: Vec<Arc<Handle>> = d
            .handles()
            .into_iter()
            .filter(|h| h.spec().script == spec.script && h.spec().name == spec.name)
            .collect();
        if force || same.is_empty() {
            return Ok(Some(spec));
        }
        let all_down = same
            .iter()
            .all(|h| matches!(h.rt().status, Status::Stopped | Status::Errored));
        if !all_down {
            return Err(error(
                ErrorKind::Conflict,
                "Script already launched, add -f option to force re-execution",
            ));
        }
        self.messages
            .push(format!("Restarting stopped app {}", spec.name));
        // `start app.js --watch` on a stopped app turns watching on, as in pm2.
        if !spec.watch.is_empty() {
            for h in &same {
                let mut known = (*h.spec()).clone();
                known.watch = spec.watch.clone();
                h.set_spec(Arc::new(known));
            }
        }
        self.to_restart.extend(same);
        Ok(None)
    }

    /// A new app: its instances, and what the user should know of it.
    fn create(&mut self, spec: AppSpec) {
        self.messages.push(format!(
            "Starting {} in {} ({} instance{})",
            spec.script,
            spec.exec_mode,
            spec.instances,
            if spec.instances == 1 { "" } else { "s" }
        ));
        let env = crate::supervisor::spawn_env(&spec, 0, 0);
        if let Some(port) = crate::supervisor::cluster::shared_port(&spec, &env) {
            self.messages.push(format!(
                "Port {port} is bound once and shared by every instance (fd 3, LISTEN_FDS); an app that binds it itself needs --no-shared-port"
            ));
        }
        let spec = Arc::new(spec);
        for instance in 0..spec.instances {
            self.to_create.push(NewInstance {
                spec: spec.clone(),
                instance,
                wanted_id: None,
                restart_time: 0,
            });
        }
    }
}

/// Registers the new instances and starts those with `autostart`; the
/// instances whose program could not be run are removed again and the
/// request is an error (the ones that did start keep running).
/// In cluster mode, as under pm2, it returns once each instance is online:
/// its top-level code has run, so its signal handlers exist.
async fn create_and_start(d: &Arc<Daemon>, new: Vec<NewInstance>) -> Result<(), Response> {
    let created = d.create(new).map_err(|e| error(ErrorKind::Internal, e))?;
    // `autostart: false` apps are registered, stopped, until asked for.
    let created: Vec<_> = created.into_iter().filter(|h| h.spec().autostart).collect();
    run_all(created.clone(), Control::Start).await;
    let (failed, created): (Vec<_>, Vec<_>) = created
        .into_iter()
        .partition(|h| h.rt().start_error.is_some());
    if !failed.is_empty() {
        let why = start_errors(&failed);
        failed.iter().for_each(|h| d.forget(h.id));
        run_all(failed, Control::Delete).await;
        let why = format!("{why}; nothing was added for it");
        return Err(error(ErrorKind::Internal, why));
    }
    let cluster = created
        .iter()
        .filter(|h| h.spec().exec_mode == "cluster_mode");
    futures_util::future::join_all(cluster.map(|h| h.started(STARTED_WAIT))).await;
    Ok(())
}
