//! How a request is answered: the reply shapes and the one way to act on
//! many instances at once, shared by every handler.

use std::sync::Arc;

use pmr_shared::ipc::Response;
use tokio::task::JoinSet;

use crate::supervisor::{Control, Handle};

/// A failed request, with what went wrong.
pub(super) fn error(message: impl Into<String>) -> Response {
    Response::Error {
        message: message.into(),
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
