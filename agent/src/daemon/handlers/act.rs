//! Actions on instances the targets name (`start`, `stop`, `restart`,
//! `delete`, `reset`, `reload` of known apps), and the options that come
//! with them (`--update-env`, `--watch`, `--cron-restart`...).

use std::sync::Arc;

use pmr_shared::app::Status;
use pmr_shared::ipc::{Action, ErrorKind, InstanceRef, Response};

use super::checkout::reload_all;

use crate::daemon::recreate::validate;
use crate::daemon::reply::{error, run_all, started_all};
use crate::daemon::state::Daemon;
use crate::supervisor::{Control, EnvView};

/// `start|stop|restart|delete|reset|reload <targets>` with what comes with
/// them: `--update-env`, `--watch`, and app options. Every target's new
/// spec is made and checked first; a request refused (a bad option, a
/// daemon shutting down) changes nothing.
pub(super) async fn act_request(
    d: &Arc<Daemon>,
    action: Action,
    targets: &[String],
    update_env: Option<std::collections::BTreeMap<String, String>>,
    watch: bool,
    options: Option<pmr_shared::ipc::Overrides>,
    by: Option<String>,
) -> Response {
    if d.is_closing() && matches!(action, Action::Start | Action::Restart) {
        return error(ErrorKind::Unavailable, "the daemon is shutting down");
    }
    let toggles_watch = watch || action == Action::Stop;
    if update_env.is_none() && !toggles_watch && options.is_none() {
        return act(d, action, targets, restarter(by)).await;
    }
    let handles = match d.resolve(targets) {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let mut specs = Vec::with_capacity(handles.len());
    for h in &handles {
        let mut spec = (*h.spec()).clone();
        // `--update-env`: the caller's variables laid over the app's own
        // (as pm2 does, none is removed), in force from the next start.
        if let Some(env) = &update_env {
            spec.env
                .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        // `--watch` toggles; a plain stop also ends watching, as in pm2.
        if toggles_watch {
            toggle_watch(&mut spec, action);
        }
        if let Some(o) = &options {
            apply_options(&mut spec, o);
            if let Err(e) = validate(&spec) {
                return error(ErrorKind::Invalid, e);
            }
        }
        specs.push(spec);
    }
    for (h, spec) in handles.iter().zip(specs) {
        h.set_spec(Arc::new(spec));
    }
    act(d, action, targets, restarter(by)).await
}

/// App options given with an action (`--cron-restart`, `--node-args`,
/// `--name`, `--deep-monitoring`), laid over an app's spec.
fn apply_options(spec: &mut pmr_shared::app::AppSpec, o: &pmr_shared::ipc::Overrides) {
    if let Some(c) = &o.cron_restart {
        spec.cron_restart = (c != "0").then(|| c.clone());
    }
    if let Some(a) = &o.node_args {
        spec.interpreter_args = pmr_shared::app::parse_node_args(a);
    }
    if let Some(n) = &o.name {
        spec.name = n.clone();
    }
    if let Some(on) = o.deep_monitoring {
        spec.deep_monitoring = on;
    }
}

/// pm2's `--watch` on an action: `restart` turns watching on (the app's
/// directory) or off, `stop` turns it off; the restart or stop that follows
/// starts or drops the watcher.
fn toggle_watch(spec: &mut pmr_shared::app::AppSpec, action: Action) {
    spec.watch = match action {
        Action::Restart if spec.watch.is_empty() => vec![spec.cwd.clone()],
        Action::Restart | Action::Stop => Vec::new(),
        _ => return,
    };
}

/// A restart that says who asked: a hub user by name, else the CLI.
pub(super) fn restarter(
    by: Option<String>,
) -> impl Fn(tokio::sync::oneshot::Sender<()>) -> Control + Clone + Send + 'static {
    use pmr_shared::link::messages::restart_reason::{CLI, USER};
    let why: Arc<str> = by.map_or(CLI.into(), |u| format!("{USER}{u}").into());
    move |ack| Control::Restart(why.clone(), ack)
}

/// Applies `action` to the instances `targets` names, all at once. The
/// reply names each as `[name](id) ✓` (pm2's words) and lists them in
/// `acted_on` (for the hub link); a start or restart that fails turns the
/// whole reply into an error.
async fn act(
    d: &Arc<Daemon>,
    action: Action,
    targets: &[String],
    restart: impl Fn(tokio::sync::oneshot::Sender<()>) -> Control + Clone + Send + 'static,
) -> Response {
    let handles = match d.resolve(targets) {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let mut messages = vec![format!(
        "Applying action {} on app [{}](ids: [ {} ])",
        action.pm2_method(),
        targets.join(", "),
        handles
            .iter()
            .map(|h| h.id.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )];
    let acted_on: Vec<InstanceRef> = handles
        .iter()
        .map(|h| InstanceRef {
            pm_id: h.id,
            name: h.spec().name.clone(),
        })
        .collect();
    messages.extend(
        acted_on
            .iter()
            .map(|i| format!("[{}]({}) ✓", i.name, i.pm_id)),
    );
    match action {
        Action::Reset => handles.iter().for_each(|h| h.reset()),
        Action::Stop => run_all(handles, Control::Stop).await,
        Action::Restart => {
            run_all(handles.clone(), restart).await;
            if let Err(failed) = started_all(&handles) {
                return failed;
            }
        }
        Action::Reload => match reload_all(d, handles).await {
            Ok(m) => messages.extend(m),
            Err(e) => return e.into(),
        },
        Action::Start => {
            // As in pm2, `start` of a running instance restarts it.
            let (running, idle): (Vec<_>, Vec<_>) = handles.into_iter().partition(|h| {
                matches!(
                    h.rt().status,
                    Status::Online | Status::Launching | Status::WaitingRestart
                )
            });
            let all: Vec<_> = running.iter().chain(&idle).cloned().collect();
            tokio::join!(run_all(running, restart), run_all(idle, Control::Start));
            if let Err(failed) = started_all(&all) {
                return failed;
            }
        }
        Action::Delete => {
            // Out of the registry first, so nothing else reaches a dying actor.
            handles.iter().for_each(|h| d.forget(h.id));
            run_all(handles, Control::Delete).await;
        }
    }
    Response::Done {
        messages,
        processes: d.list(EnvView::None),
        acted_on,
    }
}
