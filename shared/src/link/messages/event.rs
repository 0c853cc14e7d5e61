//! Lifecycle events, the stream the agent never drops while the hub is
//! away, and the words their `detail` uses for stops and restarts.

use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A process started and runs.
    Online,
    /// A process ended (code or signal in the event).
    Exit,
    /// An automatic or requested restart.
    Restart,
    /// Gave up after too many unstable restarts.
    Errored,
    /// Stopped on request or by a stop exit code.
    Stopped,
    /// Replaced by a reload.
    Reload,
    /// Removed from the list.
    Delete,
    /// The running revision changed.
    Deploy,
    /// An exception reported by the app.
    Exception,
}

/// One event; never dropped by the agent while the hub is away.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Sequence number on the events stream.
    pub seq: u64,
    /// Agent clock, Unix ms.
    pub at: i64,
    /// Kind.
    pub kind: EventKind,
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// The app's namespace, sent with the event so the hub labels it
    /// without looking the app up (absent from agents before 0.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Exit code, for `exit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Signal name, for `exit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Free text (a revision, an exception message...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The `detail` of a `stopped` event when the app's own exit stopped it
/// (no one asked): an alert can tell it from a stop someone made.
pub const STOPPED_ITSELF: &str = "exited and was not restarted";

/// Why an instance restarted: the `detail` of a `restart` event, so the
/// hub can say who or what restarted an app.
pub mod restart_reason {
    /// It exited on its own and the restart policy started it again.
    pub const CRASH: &str = "crash";
    /// Its `cron_restart` schedule.
    pub const CRON: &str = "cron";
    /// A watched file changed.
    pub const WATCH: &str = "watch";
    /// It used more than its `max_memory_restart`.
    pub const MEMORY: &str = "memory";
    /// Someone asked on the server's command line (`pmr restart`).
    pub const CLI: &str = "cli";
    /// A reload of a fork-mode app (a reload there is a restart).
    pub const RELOAD: &str = "reload";
    /// Before a hub user's name (`user:ada@example.com`): an action sent
    /// from the hub's dashboard or API.
    pub const USER: &str = "user:";
}
