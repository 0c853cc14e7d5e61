//! Requests about the apps' log files: flush, reopen, and the check before
//! a connection turns into a stream of log lines.

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};

use super::{After, Answer};
use crate::daemon::reply::{done, error};
use crate::daemon::state::Daemon;

/// `pmr logs [target]`: the connection follows the target's lines, once
/// the target is known to name something (an unknown name is answered as
/// an error, not by a stream that never shows anything).
pub(super) fn follow(d: &Arc<Daemon>, target: Option<String>) -> Answer {
    if let Some(t) = &target
        && let Err(e) = d.resolve(std::slice::from_ref(t))
    {
        return Answer::Final(e.into(), After::Continue);
    }
    Answer::Final(done(vec![], vec![]), After::FollowLogs(target))
}

/// `pmr flush [target]`: empties the target's files (or all), through the
/// open writers so the apps keep writing at the start of the same file. A
/// file the target shares with other apps is emptied for them too; the
/// first failure ends the request.
pub(super) fn flush(d: &Arc<Daemon>, target: Option<String>) -> Response {
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

/// `pmr reloadLogs`: reopens every file (after an outside rotation).
pub(super) fn reload_logs(d: &Arc<Daemon>) -> Response {
    for f in d.open_log_files() {
        if let Err(e) = f.reopen() {
            let why = format!("cannot reopen {}: {e}", f.path().display());
            return error(ErrorKind::Internal, why);
        }
    }
    done(vec!["Logs reloaded".into()], vec![])
}
