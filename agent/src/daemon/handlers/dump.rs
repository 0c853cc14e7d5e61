//! The daemon's whole set of apps at once: `save` and `resurrect` of the
//! dump file, `kill` (every app, then the daemon) and `update` (every app
//! handed over to a new binary).

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};

use pmr_shared::sync::Locked;

use super::{After, Answer};
use crate::daemon::persist;
use crate::daemon::recreate::recreate;
use crate::daemon::reply::{done, error, run_all};
use crate::daemon::state::Daemon;
use crate::supervisor::{Control, EnvView};

/// `pmr save [--force]`: writes the list to the dump file, with each app's
/// given environment (not pm2's instance variables, which a resurrect
/// sets again). An empty list needs `--force`: a `save` after a `delete
/// all` would otherwise wipe what the next boot restores.
pub(super) fn save(d: &Arc<Daemon>, force: bool) -> Response {
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

/// `pmr resurrect`: starts the dump's apps that are not running.
pub(super) async fn resurrect(d: &Arc<Daemon>) -> Response {
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

/// `pmr kill`: every app stopped and deleted, then the daemon stops.
pub(super) async fn kill(d: &Arc<Daemon>) -> Answer {
    stop_all(d).await;
    Answer::Final(
        done(
            vec!["All processes have been stopped and deleted".into()],
            vec![],
        ),
        After::Shutdown,
    )
}

/// `pmr update`: once the new binary answers, the daemon hands every app
/// over to it and stops.
pub(super) async fn update(d: &Arc<Daemon>, exe: String) -> Answer {
    match crate::daemon::handover::probe(&exe).await {
        Ok(version) => {
            *d.handover.locked() = Some(exe);
            let msg = format!("Handing every app over to pmr {version}");
            Answer::Final(done(vec![msg], vec![]), After::Shutdown)
        }
        Err(why) => Answer::Final(why.into(), After::Continue),
    }
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
