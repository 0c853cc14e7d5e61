//! How a request is answered: the reply shapes (a failure carries the kind
//! the CLI branches on) and the one way to act on many instances at once,
//! shared by every handler.

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};
use tokio::task::JoinSet;

use crate::supervisor::{Control, Handle};

/// A failed request: what the caller may do about it, and what went wrong.
pub(super) fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::error(kind, message)
}

/// A step of a request that failed, on its way to becoming the reply: the
/// kind travels with the words so that no caller has to guess it again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Failure {
    /// What the caller may do about it.
    pub(crate) kind: ErrorKind,
    /// What the user reads.
    pub(crate) message: String,
}

impl Failure {
    /// A failure of this kind.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Failure {
            kind,
            message: message.into(),
        }
    }
}

impl From<Failure> for Response {
    fn from(f: Failure) -> Self {
        Response::error(f.kind, f.message)
    }
}

/// A request done: what to say, and the instances it touched.
pub(super) fn done(
    messages: Vec<String>,
    processes: Vec<pmr_shared::app::ProcessInfo>,
) -> Response {
    Response::Done {
        messages,
        processes,
        acted_on: Vec::new(),
    }
}

/// Runs one control on many instances at once and waits for all.
pub(super) async fn run_all(
    handles: Vec<Arc<Handle>>,
    make: impl Fn(tokio::sync::oneshot::Sender<()>) -> Control + Clone + Send + 'static,
) {
    let mut set = JoinSet::new();
    for h in handles {
        let make = make.clone();
        set.spawn(async move { h.control(make).await });
    }
    while set.join_next().await.is_some() {}
}

/// What could not be started, and why, one instance after the other.
pub(crate) fn start_errors(failed: &[Arc<Handle>]) -> String {
    failed
        .iter()
        .map(|h| {
            let why = h.rt().start_error.clone().unwrap_or_default();
            format!("[{}]({}) could not start: {why}", h.spec().name, h.id)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// After a start or restart: an error naming every instance that could not
/// start, if any did not.
pub(crate) fn started_all(handles: &[Arc<Handle>]) -> Result<(), Response> {
    let failed: Vec<_> = handles
        .iter()
        .filter(|h| h.rt().start_error.is_some())
        .cloned()
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(error(ErrorKind::Internal, start_errors(&failed)))
}
