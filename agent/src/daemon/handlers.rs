//! One function per request; the socket server only frames and dispatches.

use std::sync::Arc;

use pmr_shared::app::{AppSpec, Status};
use pmr_shared::ipc::{Action, ErrorKind, Request, Response};

use super::app_ops::{checkout, reload_all, scale, send_data, send_signal, trigger};
use super::persist;
use super::recreate::{recreate, validate};
use super::reply::{Failure, done, error, run_all};
use super::state::{Daemon, NewInstance};
use crate::supervisor::{Control, EnvView, Handle};

/// Longest a cluster-mode start waits for an instance's top-level code.
const STARTED_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// What the server should do after answering.
pub(crate) enum After {
    /// Keep serving this client.
    Continue,
    /// Switch this connection to streaming log lines.
    FollowLogs(Option<String>),
    /// Shut the daemon down.
    Shutdown,
}

/// Answers one request.
pub(crate) async fn handle(d: &Arc<Daemon>, req: Request) -> (Response, After) {
    let reading = matches!(
        req,
        Request::Ping | Request::List { .. } | Request::Logs { .. }
    );
    if let Err(why) = super::list_file::writable_before(d, &req).await {
        return (error(ErrorKind::Internal, why), After::Continue);
    }
    let reply = match req {
        Request::Hello { .. } => error(ErrorKind::Invalid, "hello sent twice"),
        Request::Ping => Response::Pong,
        Request::Start {
            apps,
            force,
            update,
            reload,
        } => start(d, apps, force, update, reload).await,
        Request::Act {
            action,
            targets,
            update_env,
            watch,
            options,
            by,
        } => {
            if let Some(env) = update_env {
                refresh_env(d, &targets, env);
            }
            // `--watch` toggles; a plain stop also ends watching, as in pm2.
            if watch || action == Action::Stop {
                toggle_watch(d, action, &targets);
            }
            match options.map(|o| apply_options(d, &targets, &o)) {
                Some(Err(e)) => e.into(),
                _ => act(d, action, &targets, restarter(by)).await,
            }
        }
        Request::List { full, targets } if targets.is_empty() => {
            d.fresh_usage().await;
            Response::Processes {
                list: d.list(env_view(full)),
            }
        }
        Request::List { full, targets } => match d.resolve(&targets) {
            Ok(hs) => Response::Processes {
                list: hs.iter().map(|h| d.info(h, env_view(full))).collect(),
            },
            Err(e) => e.into(),
        },
        Request::Flush { target } => flush(d, target),
        Request::ReloadLogs => reload_logs(d),
        Request::Logs { target } => {
            if let Some(t) = &target
                && let Err(e) = d.resolve(std::slice::from_ref(t))
            {
                return (e.into(), After::Continue);
            }
            return (done(vec![], vec![]), After::FollowLogs(target));
        }
        Request::Save { force } => save(d, force),
        Request::Resurrect => resurrect(d).await,
        Request::Link { settings } => link(d, settings),
        Request::Unlink => {
            d.link.stop();
            let _ = std::fs::remove_file(crate::link::settings::path(&d.paths.home));
            done(
                vec!["Link removed: this machine no longer reports to a hub".into()],
                vec![],
            )
        }
        Request::Scale { name, count } => scale(d, &name, &count).await,
        Request::Signal { signal, targets } => send_signal(d, &signal, &targets).await,
        Request::Trigger {
            target,
            action,
            param,
        } => trigger(d, &target, &action, param).await,
        Request::SendData { id, topic, data } => send_data(d, id, topic, data).await,
        Request::RefreshVersioning { targets } => match d.resolve(&targets) {
            Ok(hs) => {
                let mut messages = Vec::new();
                for h in hs {
                    let (_, now) = h.refresh_versioning().await;
                    messages.push(match now {
                        Some(rev) => format!("[{}]({}) at revision {rev}", h.spec().name, h.id),
                        None => format!("[{}]({}) is not in a git repository", h.spec().name, h.id),
                    });
                }
                done(messages, d.list(EnvView::None))
            }
            Err(e) => e.into(),
        },
        Request::Checkout { target, to } => checkout(d, &target, to).await,
        Request::LinkStatus => Response::Link {
            state: d.link.status(),
        },
        Request::ReloadConfig => {
            match crate::config::load(&d.paths).and_then(|c| crate::config::apply(&c)) {
                Ok(()) => done(vec!["Settings reloaded".into()], vec![]),
                Err(e) => error(ErrorKind::Invalid, format!("{e:#}")),
            }
        }
        Request::Update { exe } => {
            return match super::handover::probe(&exe).await {
                Ok(version) => {
                    *d.handover.lock().unwrap_or_else(|e| e.into_inner()) = Some(exe);
                    let msg = format!("Handing every app over to pmr {version}");
                    (done(vec![msg], vec![]), After::Shutdown)
                }
                Err(why) => (error(ErrorKind::Invalid, why), After::Continue),
            };
        }
        Request::Kill => {
            stop_all(d).await;
            return (
                done(
                    vec!["All processes have been stopped and deleted".into()],
                    vec![],
                ),
                After::Shutdown,
            );
        }
    };
    if !reading {
        if let Err(why) = super::list_file::recorded_after(d, &reply).await {
            return (error(ErrorKind::Internal, why), After::Continue);
        }
        // A new app, or a new memory limit: the sampler looks again.
        d.apps_changed.notify_one();
        give_back_free_memory();
    }
    (reply, After::Continue)
}

/// Returns the heap's free pages to the system after a request that
/// changed something: parsing a request of many apps leaves free chunks
/// between live ones, which glibc keeps resident otherwise.
#[allow(unsafe_code)]
fn give_back_free_memory() {
    // SAFETY: glibc's malloc_trim only walks and trims its own heap.
    unsafe { libc::malloc_trim(0) };
}

fn env_view(full: bool) -> EnvView {
    if full {
        EnvView::Effective
    } else {
        EnvView::None
    }
}

/// `--update-env`: the caller's variables laid over each target's own (as
/// pm2 does, none is removed), in force from the next start.
fn refresh_env(
    d: &Arc<Daemon>,
    targets: &[String],
    env: std::collections::BTreeMap<String, String>,
) {
    for h in d.resolve(targets).unwrap_or_default() {
        let mut spec = (*h.spec()).clone();
        spec.env
            .extend(env.iter().map(|(k, v)| (k.clone(), v.clone())));
        h.set_spec(Arc::new(spec));
    }
}

/// App options given with an action, applied to each app it names first;
/// none is applied if one is invalid.
fn apply_options(
    d: &Arc<Daemon>,
    targets: &[String],
    o: &pmr_shared::ipc::Overrides,
) -> Result<(), Failure> {
    let handles = d.resolve(targets)?;
    let mut specs = Vec::new();
    for h in &handles {
        let mut spec = (*h.spec()).clone();
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
        validate(&spec).map_err(|e| Failure::new(ErrorKind::Invalid, e))?;
        specs.push(spec);
    }
    for (h, spec) in handles.iter().zip(specs) {
        h.set_spec(Arc::new(spec));
    }
    Ok(())
}

/// pm2's `--watch` on an action: `restart` turns watching on (the app's
/// directory) or off, `stop` turns it off; the restart or stop that follows
/// starts or drops the watcher.
fn toggle_watch(d: &Arc<Daemon>, action: Action, targets: &[String]) {
    for h in d.resolve(targets).unwrap_or_default() {
        let mut spec = (*h.spec()).clone();
        spec.watch = match action {
            Action::Restart if spec.watch.is_empty() => vec![spec.cwd.clone()],
            Action::Restart | Action::Stop => Vec::new(),
            _ => continue,
        };
        h.set_spec(Arc::new(spec));
    }
}

async fn start(
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
    let mut messages = Vec::new();
    let mut to_create = Vec::new();
    let mut to_restart = Vec::new();
    let mut refreshed = Vec::new();
    let mut rescale = Vec::new();
    for spec in apps {
        if update {
            // An ecosystem file re-read: known apps take its options and restart.
            let known: Vec<Arc<Handle>> = d
                .handles()
                .into_iter()
                .filter(|h| h.spec().name == spec.name)
                .collect();
            if !known.is_empty() {
                messages.push(format!("Restarting {} with the file's options", spec.name));
                // A changed `instances` scales the app afterwards.
                if known.len() != spec.instances as usize {
                    rescale.push((spec.name.clone(), spec.instances));
                }
                let spec = Arc::new(spec);
                known.iter().for_each(|h| h.set_spec(spec.clone()));
                refreshed.extend(known);
                continue;
            }
        }
        let same: Vec<Arc<Handle>> = d
            .handles()
            .into_iter()
            .filter(|h| h.spec().script == spec.script && h.spec().name == spec.name)
            .collect();
        if !force && !same.is_empty() {
            let all_down = same
                .iter()
                .all(|h| matches!(h.rt().status, Status::Stopped | Status::Errored));
            if !all_down {
                return error(
                    ErrorKind::Conflict,
                    "Script already launched, add -f option to force re-execution",
                );
            }
            messages.push(format!("Restarting stopped app {}", spec.name));
            // `start app.js --watch` on a stopped app turns watching on, as in pm2.
            if !spec.watch.is_empty() {
                for h in &same {
                    let mut known = (*h.spec()).clone();
                    known.watch = spec.watch.clone();
                    h.set_spec(Arc::new(known));
                }
            }
            to_restart.extend(same);
            continue;
        }
        messages.push(format!(
            "Starting {} in {} ({} instance{})",
            spec.script,
            spec.exec_mode,
            spec.instances,
            if spec.instances == 1 { "" } else { "s" }
        ));
        let env = crate::supervisor::spawn_env(&spec, 0, 0);
        if let Some(port) = crate::supervisor::cluster::shared_port(&spec, &env) {
            messages.push(format!(
                "Port {port} is bound once and shared by every instance (fd 3, LISTEN_FDS); an app that binds it itself needs --no-shared-port"
            ));
        }
        let spec = Arc::new(spec);
        for instance in 0..spec.instances {
            to_create.push(NewInstance {
                spec: spec.clone(),
                instance,
                wanted_id: None,
                restart_time: 0,
            });
        }
    }
    let created = match d.create(to_create) {
        Ok(c) => c,
        Err(e) => return error(ErrorKind::Internal, e),
    };
    // `autostart: false` apps are registered, stopped, until asked for.
    let created: Vec<_> = created.into_iter().filter(|h| h.spec().autostart).collect();
    run_all(created.clone(), Control::Start).await;
    // A program that could not be run is an error, and nothing is left
    // half-done: those new instances are removed again.
    let (failed, created): (Vec<_>, Vec<_>) = created
        .into_iter()
        .partition(|h| h.rt().start_error.is_some());
    if !failed.is_empty() {
        let why = start_errors(&failed);
        failed.iter().for_each(|h| d.forget(h.id));
        run_all(failed, Control::Delete).await;
        return error(
            ErrorKind::Internal,
            format!("{why}; nothing was added for it"),
        );
    }
    // In cluster mode, as under pm2, a start returns once each instance is
    // online: its top-level code has run, so its signal handlers exist.
    let cluster = created
        .iter()
        .filter(|h| h.spec().exec_mode == "cluster_mode");
    futures_util::future::join_all(cluster.map(|h| h.started(STARTED_WAIT))).await;
    run_all(to_restart, Control::Start).await;
    if reload {
        match reload_all(d, refreshed).await {
            Ok(m) => messages.extend(m),
            Err(e) => return e.into(),
        }
    } else {
        run_all(refreshed, restarter(None)).await;
    }
    for (name, n) in rescale {
        match scale(d, &name, &n.to_string()).await {
            Response::Done { messages: m, .. } => messages.extend(m),
            other => return other,
        }
    }
    messages.push("Done.".into());
    done(messages, d.list(EnvView::None))
}

/// What could not be started, and why, one instance after the other.
fn start_errors(failed: &[Arc<Handle>]) -> String {
    failed
        .iter()
        .map(|h| {
            let why = h.rt().start_error.clone().unwrap_or_default();
            format!("[{}]({}) could not start: {why}", h.spec().name, h.id)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A restart that says who asked: a hub user by name, else the CLI.
fn restarter(
    by: Option<String>,
) -> impl Fn(tokio::sync::oneshot::Sender<()>) -> Control + Clone + Send + 'static {
    use pmr_shared::link::messages::restart_reason::{CLI, USER};
    let why: Arc<str> = by.map_or(CLI.into(), |u| format!("{USER}{u}").into());
    move |ack| Control::Restart(why.clone(), ack)
}

async fn act(
    d: &Arc<Daemon>,
    action: Action,
    targets: &[String],
    restart: impl Fn(tokio::sync::oneshot::Sender<()>) -> Control + Clone + Send + 'static,
) -> Response {
    if d.is_closing() && matches!(action, Action::Start | Action::Restart) {
        return error(ErrorKind::Unavailable, "the daemon is shutting down");
    }
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
    messages.extend(
        handles
            .iter()
            .map(|h| format!("[{}]({}) ✓", h.spec().name, h.id)),
    );
    match action {
        Action::Reset => handles.iter().for_each(|h| h.reset()),
        Action::Stop => run_all(handles, Control::Stop).await,
        Action::Restart => {
            run_all(handles.clone(), restart).await;
            let failed: Vec<_> = handles
                .into_iter()
                .filter(|h| h.rt().start_error.is_some())
                .collect();
            if !failed.is_empty() {
                return error(ErrorKind::Internal, start_errors(&failed));
            }
        }
        Action::Reload => match reload_all(d, handles).await {
            Ok(m) => messages.extend(m),
            Err(e) => return e.into(),
        },
        Action::Start => {
            let (running, idle): (Vec<_>, Vec<_>) = handles.into_iter().partition(|h| {
                matches!(
                    h.rt().status,
                    Status::Online | Status::Launching | Status::WaitingRestart
                )
            });
            let all: Vec<_> = running.iter().chain(&idle).cloned().collect();
            tokio::join!(run_all(running, restart), run_all(idle, Control::Start));
            let failed: Vec<_> = all
                .into_iter()
                .filter(|h| h.rt().start_error.is_some())
                .collect();
            if !failed.is_empty() {
                return error(ErrorKind::Internal, start_errors(&failed));
            }
        }
        Action::Delete => {
            // Out of the registry first, so nothing else reaches a dying actor.
            handles.iter().for_each(|h| d.forget(h.id));
            run_all(handles, Control::Delete).await;
        }
    }
    done(messages, d.list(EnvView::None))
}

fn link(d: &Arc<Daemon>, settings: pmr_shared::ipc::LinkSettings) -> Response {
    if let Err(e) = crate::link::settings::validate(&settings) {
        return error(ErrorKind::Invalid, format!("{e:#}"));
    }
    // Started first, stored second: a link that cannot start is not kept.
    if let Err(e) = d.link.start(super::port(d), settings.clone()) {
        return error(ErrorKind::Internal, format!("{e:#}"));
    }
    match crate::link::settings::save(&d.paths.home, &settings) {
        Ok(()) => done(
            vec![format!(
                "Linking to {} as {}",
                settings.hub, settings.machine_name
            )],
            vec![],
        ),
        Err(e) => {
            d.link.stop();
            error(ErrorKind::Internal, format!("{e:#}"))
        }
    }
}

fn flush(d: &Arc<Daemon>, target: Option<String>) -> Response {
    let handles = match &target {
        Some(t) => match d.resolve(std::slice::from_ref(t)) {
            Ok(h) => h,
            Err(e) => return e.into(),
        },
        None => d.handles(),
    };
    let mut paths: Vec<&str> = Vec::new();
    for h in &handles {
        paths.push(&h.files.out);
        paths.push(&h.files.err);
        if let Some(c) = &h.files.combined {
            paths.push(c);
        }
    }
    let mut messages = Vec::new();
    for f in d.open_log_files() {
        if paths.iter().any(|p| std::path::Path::new(p) == f.path()) {
            match f.truncate() {
                Ok(()) => messages.push(format!("Flushing {}", f.path().display())),
                Err(e) => {
                    let why = format!("cannot flush {}: {e}", f.path().display());
                    return error(ErrorKind::Internal, why);
                }
            }
        }
    }
    messages.push("Logs flushed".into());
    done(messages, vec![])
}

fn reload_logs(d: &Arc<Daemon>) -> Response {
    for f in d.open_log_files() {
        if let Err(e) = f.reopen() {
            let why = format!("cannot reopen {}: {e}", f.path().display());
            return error(ErrorKind::Internal, why);
        }
    }
    done(vec!["Logs reloaded".into()], vec![])
}

fn save(d: &Arc<Daemon>, force: bool) -> Response {
    let list = d.list(EnvView::Given);
    if list.is_empty() && !force {
        return error(
            ErrorKind::Conflict,
            "no process to save: that would empty the dump; use --force to do it anyway",
        );
    }
    match persist::save(&d.paths, &list) {
        Ok(()) => done(
            vec![format!(
                "Successfully saved in {}",
                d.paths.dump().display()
            )],
            vec![],
        ),
        Err(e) => error(ErrorKind::Internal, format!("{e:#}")),
    }
}

async fn resurrect(d: &Arc<Daemon>) -> Response {
    if d.is_closing() {
        return error(ErrorKind::Unavailable, "the daemon is shutting down");
    }
    let (entries, notes) = match persist::load(&d.paths) {
        Ok(e) => e,
        Err(e) => return error(ErrorKind::Internal, format!("{e:#}")),
    };
    let mut messages = vec![format!(
        "Restoring processes located in {}",
        d.paths.dump().display()
    )];
    messages.extend(notes);
    if let Err(e) = recreate(d, entries, &mut messages, Default::default()).await {
        return error(ErrorKind::Internal, e);
    }
    messages.push("Done.".into());
    done(messages, d.list(EnvView::None))
}

/// Stops every instance in parallel; `forget` also removes them.
pub(crate) async fn stop_all(d: &Arc<Daemon>) {
    // From here on nothing new starts, and every app is stopped and
    // forgotten, including one started by a request already under way.
    d.closing.store(true, std::sync::atomic::Ordering::SeqCst);
    loop {
        let handles = d.handles();
        if handles.is_empty() {
            return;
        }
        handles.iter().for_each(|h| d.forget(h.id));
        run_all(handles, Control::Delete).await;
    }
}
