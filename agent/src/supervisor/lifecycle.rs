//! Lifecycle events: what happened to an instance (online, exit, restart,
//! errored, deploy, exception…), broadcast by its actor to the hub link and
//! anyone else who listens; sending never waits on a listener.

use std::sync::Arc;

/// What happened to an instance, published for the hub link (and whoever
/// else listens); sending never waits, and nothing is kept without listeners.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: Arc<str>,
    /// The app's namespace, so every label of the event travels with it.
    pub namespace: Arc<str>,
    /// When, Unix ms.
    pub at: u64,
    /// What.
    pub kind: LifeKind,
    /// Exit code, for `Exit`.
    pub code: Option<i32>,
    /// Signal name, for `Exit`.
    pub signal: Option<String>,
    /// The new revision, for `Deploy`; the message and stack, for `Exception`.
    pub detail: Option<String>,
}

/// Kinds of [`Lifecycle`] events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeKind {
    /// Spawned and running.
    Online,
    /// The process ended.
    Exit,
    /// Restarted (automatically or on request).
    Restart,
    /// Gave up after unstable restarts.
    Errored,
    /// Stopped (on request or by a stop exit code).
    Stopped,
    /// Removed from the list.
    Deleted,
    /// Replaced without downtime by a reload.
    Reload,
    /// The revision checked out under the app changed.
    Deploy,
    /// The app reported an exception (over IPC), or died with a stack
    /// trace in its last error lines.
    Exception,
}
