//! The change feed: every change ingest makes, once, in order, typed.
//! Subscribers (the dashboard's live channel, `/metrics` counters, later
//! the alert engine) each get a bounded queue; one that falls behind is told
//! how many changes it missed and catches up from the live state and store.

use pmr_shared::link::messages::Event;
use serde::Serialize;
use tokio::sync::broadcast;

/// Changes a slow subscriber may fall behind by before it misses some.
pub const CAPACITY: usize = 8192;

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    /// An agent's session began.
    ServerUp {
        /// Server id.
        server_id: i64,
        /// Display name.
        name: String,
        /// Bucket name.
        bucket: String,
    },
    /// An agent's session ended and no newer one took over.
    ServerDown {
        /// Server id.
        server_id: i64,
    },
    /// A process appeared or its status changed.
    ProcessStatus {
        /// Server id.
        server_id: i64,
        /// Instance id.
        pm_id: u32,
        /// App name.
        app: String,
        /// The status before; none for a new process.
        was: Option<String>,
        /// The status now.
        status: String,
    },
    /// A process's restart counter went up.
    Restart {
        /// Server id.
        server_id: i64,
        /// Instance id.
        pm_id: u32,
        /// App name.
        app: String,
        /// The counter now.
        restarts: u32,
    },
    /// A process left the agent's list.
    ProcessRemoved {
        /// Server id.
        server_id: i64,
        /// Instance id.
        pm_id: u32,
        /// App name.
        app: String,
    },
    /// The revision a process runs changed.
    Version {
        /// Server id.
        server_id: i64,
        /// Instance id.
        pm_id: u32,
        /// App name.
        app: String,
        /// The revision now, if known.
        revision: Option<String>,
    },
    /// A snapshot's samples (CPU, memory, host) are in the live state.
    Sample {
        /// Server id.
        server_id: i64,
        /// Agent clock of the snapshot, Unix ms.
        at: i64,
    },
    /// An event was stored.
    Event {
        /// Server id.
        server_id: i64,
        /// The event as the agent sent it.
        event: Event,
    },
    /// An action's outcome came back.
    ActionResult {
        /// Server id.
        server_id: i64,
        /// Action id.
        id: String,
        /// Outcome.
        ok: bool,
        /// What happened.
        message: String,
    },
}

impl Change {
    /// The server the change is about.
    pub fn server_id(&self) -> i64 {
        match self {
            Change::ServerUp { server_id, .. }
            | Change::ServerDown { server_id }
            | Change::ProcessStatus { server_id, .. }
            | Change::Restart { server_id, .. }
            | Change::ProcessRemoved { server_id, .. }
            | Change::Version { server_id, .. }
            | Change::Sample { server_id, .. }
            | Change::Event { server_id, .. }
            | Change::ActionResult { server_id, .. } => *server_id,
        }
    }
}

/// Names each kind once: [`Change::KINDS`] and [`Change::kind`] both come
/// from this one list, which is the API's and the dashboard's list too.
macro_rules! kinds {
    ($($variant:ident => $name:literal),* $(,)?) => {
        impl Change {
            /// Every kind's name, as `/api/v1/changes` sends it (`event:`)
            /// and takes it (`kinds=`), and as the dashboard asks for it.
            pub const KINDS: &[&str] = &[$($name),*];

            /// This change's kind, for counters and the event name.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Change::$variant { .. } => $name,)*
                }
            }
        }
    };
}

kinds! {
    ServerUp => "server_up",
    ServerDown => "server_down",
    ProcessStatus => "process_status",
    Restart => "restart",
    ProcessRemoved => "process_removed",
    Version => "version",
    Sample => "sample",
    Event => "event",
    ActionResult => "action_result",
}

/// A change as subscribers get it: one shared copy, with room for its
/// text as the change streams send it, made once by the first stream that
/// sends it (a storm of 10,000 changes to 20 pages is 10,000 encodings,
/// not 200,000).
#[derive(Debug)]
pub struct Published {
    /// The change.
    pub change: Change,
    /// Its event data as `api/changes` sends it (`None`: not sent).
    pub sse: std::sync::OnceLock<Option<String>>,
    /// It happened on another replica's agent (passed on, never back).
    pub remote: bool,
}

impl std::ops::Deref for Published {
    type Target = Change;
    fn deref(&self) -> &Change {
        &self.change
    }
}

/// What subscribers receive.
pub type Item = std::sync::Arc<Published>;

/// The sending side.
pub struct Feed(broadcast::Sender<Item>);

impl Default for Feed {
    fn default() -> Self {
        Self(broadcast::channel(CAPACITY).0)
    }
}

impl Feed {
    /// A new subscriber, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Item> {
        self.0.subscribe()
    }

    /// Publishes a change (nothing happens without subscribers).
    pub fn publish(&self, change: Change) {
        self.send(change, false);
    }

    /// Publishes a change another replica's agent made.
    pub fn publish_remote(&self, change: Change) {
        self.send(change, true);
    }

    fn send(&self, change: Change, remote: bool) {
        let sse = std::sync::OnceLock::new();
        let item = Published {
            change,
            sse,
            remote,
        };
        let _ = self.0.send(std::sync::Arc::new(item));
    }
}
