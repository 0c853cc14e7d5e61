//! The daemon as the link sees it: a channel of requests, answered exactly
//! as the CLI's are, and subscriptions to its lifecycle events and log
//! lines. The link knows nothing else of the daemon, and the daemon nothing
//! of the link's insides.

use std::path::PathBuf;

use pmr_shared::app::ProcessInfo;
use pmr_shared::ipc::{ErrorKind, Request, Response};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::logs::LogEvent;
use crate::logs::recent::RecentLine;
use crate::supervisor::Lifecycle;

/// The last lines (at most the count given) an instance wrote to a log
/// file, with when the daemon read each; `None` when the daemon has no such
/// file open.
pub(crate) type Recent =
    std::sync::Arc<dyn Fn(&str, u32, usize) -> Option<Vec<RecentLine>> + Send + Sync>;

/// A request and where its answer goes.
pub type Asked = (Request, oneshot::Sender<Response>);

/// What the link may use of the daemon.
#[derive(Clone)]
pub struct Port {
    /// `$PMR_HOME`: the link's queue and machine id live there.
    pub home: PathBuf,
    /// Requests, served by the daemon's request handlers.
    pub requests: mpsc::Sender<Asked>,
    /// Lifecycle events of every instance.
    pub events: broadcast::Sender<Lifecycle>,
    /// Log lines as they are written.
    pub logs: broadcast::Sender<LogEvent>,
    /// Lines written before: what a log view that opens shows first.
    pub recent: Recent,
}

impl Port {
    /// Asks the daemon; a daemon going away answers with an error.
    pub async fn ask(&self, req: Request) -> Response {
        let (tx, rx) = oneshot::channel();
        let gone = || Response::error(ErrorKind::Unavailable, "the daemon is stopping");
        if self.requests.send((req, tx)).await.is_err() {
            return gone();
        }
        rx.await.unwrap_or_else(|_| gone())
    }

    /// Every instance, without environments.
    pub async fn list(&self) -> Vec<ProcessInfo> {
        match self
            .ask(Request::List {
                full: false,
                targets: Vec::new(),
            })
            .await
        {
            Response::Processes { list } => list,
            _ => Vec::new(),
        }
    }
}
