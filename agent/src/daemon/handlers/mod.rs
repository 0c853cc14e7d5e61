//! One module per kind of request; this one holds the dispatch and what
//! every request that changes apps goes through (the list file written
//! before and after). The socket server only frames and dispatches here.

mod act;
mod app_io;
mod checkout;
mod dump;
mod link;
mod logs;
mod scale;
mod start;

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Request, Response};

use super::reply::{done, error};
use super::state::Daemon;
use crate::supervisor::EnvView;

pub(crate) use dump::stop_all;

/// What the server should do after answering.
pub(crate) enum After {
    /// Keep serving this client.
    Continue,
    /// Switch this connection to streaming log lines.
    FollowLogs(Option<String>),
    /// Shut the daemon down.
    Shutdown,
}

/// A handler's answer: a reply that then goes through the list file check
/// (for requests that change apps), or one that ends the exchange as it is.
enum Answer {
    /// Recorded after, like every ordinary reply.
    Reply(Response),
    /// Returned as is, with what the server does next.
    Final(Response, After),
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
    let reply = match answer(d, req).await {
        Answer::Reply(r) => r,
        Answer::Final(r, after) => return (r, after),
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

/// The handler of each request.
async fn answer(d: &Arc<Daemon>, req: Request) -> Answer {
    Answer::Reply(match req {
        Request::Hello { .. } => error(ErrorKind::Invalid, "hello sent twice"),
        Request::Ping => Response::Pong,
        Request::Start {
            apps,
            force,
            update,
            reload,
        } => start::start(d, apps, force, update, reload).await,
        Request::Act {
            action,
            targets,
            update_env,
            watch,
            options,
            by,
        } => act::act_request(d, action, &targets, update_env, watch, options, by).await,
        Request::List { full, targets } => list(d, full, &targets).await,
        Request::Flush { target } => logs::flush(d, target),
        Request::ReloadLogs => logs::reload_logs(d),
        Request::Logs { target } => return logs::follow(d, target),
        Request::Save { force } => dump::save(d, force),
        Request::Resurrect => dump::resurrect(d).await,
        Request::Link { settings } => link::link(d, settings),
        Request::Unlink => link::unlink(d),
        Request::Scale { name, count } => scale::scale(d, &name, &count).await,
        Request::Signal { signal, targets } => app_io::send_signal(d, &signal, &targets).await,
        Request::Trigger {
            target,
            action,
            param,
        } => app_io::trigger(d, &target, &action, param).await,
        Request::SendData { id, topic, data } => app_io::send_data(d, id, topic, data).await,
        Request::RefreshVersioning { targets } => checkout::refresh_versioning(d, &targets).await,
        Request::Checkout { target, to } => checkout::checkout(d, &target, to).await,
        Request::LinkStatus => Response::Link {
            state: d.link.status(),
        },
        Request::ReloadConfig => reload_config(d),
        Request::Update { exe } => return dump::update(d, exe).await,
        Request::Kill => return dump::kill(d).await,
    })
}

/// `jlist`, `describe`...: every instance (with fresh usage figures), or
/// those the targets name.
async fn list(d: &Arc<Daemon>, full: bool, targets: &[String]) -> Response {
    if targets.is_empty() {
        d.fresh_usage().await;
        return Response::Processes {
            list: d.list(env_view(full)),
        };
    }
    match d.resolve(targets) {
        Ok(hs) => Response::Processes {
            list: hs.iter().map(|h| d.info(h, env_view(full))).collect(),
        },
        Err(e) => e.into(),
    }
}

/// `pmr reload-config`: reads `config.toml` again.
fn reload_config(d: &Arc<Daemon>) -> Response {
    match crate::config::load(&d.paths).and_then(|c| crate::config::apply(&c)) {
        Ok(()) => done(vec!["Settings reloaded".into()], vec![]),
        Err(e) => error(ErrorKind::Invalid, format!("{e:#}")),
    }
}

/// Returns the heap's free pages to the system after a request that
/// changed something: parsing a request of many apps leaves free chunks
/// between live ones, which glibc keeps resident otherwise.
#[allow(unsafe_code)]
fn give_back_free_memory() {
    // SAFETY: glibc's malloc_trim only walks and trims its own heap.
    unsafe { libc::malloc_trim(0) };
}

/// Which environment a listing shows.
fn env_view(full: bool) -> EnvView {
    if full {
        EnvView::Effective
    } else {
        EnvView::None
    }
}
