//! Messages on the agent–hub websocket: one enum per direction, internally
//! tagged by `type`, JSON text frames. Streams that the hub must not lose
//! (events, rollups) carry sequence numbers that it acknowledges.

use serde::{Deserialize, Serialize};

/// Version of the link protocol, sent in `hello` and `auth`.
pub const LINK_PROTOCOL: u32 = 1;
/// Largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

mod action;
pub mod close;
mod event;
mod state;

pub use action::{ActionRequest, ActionResult, RemoteAction, Touched};
pub use event::{Event, EventKind, STOPPED_ITSELF, restart_reason};
pub use state::{Agg, Host, Proc, ProcRollup, Rollup, Snapshot};

/// Hub to agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum HubMsg {
    /// First frame: the challenge.
    Hello {
        /// [`LINK_PROTOCOL`] of the hub.
        proto: u32,
        /// Stable id of the hub (signed by the agent).
        hub_id: String,
        /// 32 random bytes, hex; single use, answered within the hello deadline.
        nonce: String,
        /// Hub clock, Unix ms.
        ts: i64,
    },
    /// The agent is in.
    Welcome {
        /// Id of this session, for logs.
        session_id: String,
        /// Last sequence numbers the hub holds, so the agent replays the rest.
        resume: Resume,
    },
    /// The hub has stored everything up to `seq` of a stream.
    Ack {
        /// Which stream.
        stream: Stream,
        /// Highest stored sequence number.
        seq: u64,
    },
    /// Send a full snapshot next.
    Resend,
    /// Run an action on the agent.
    Action(ActionRequest),
    /// Follow the output of these apps (`*`: every app) until the next
    /// `logs`; an empty list stops. Sent while someone watches a log view.
    Logs {
        /// App names, or `*`.
        apps: Vec<String>,
    },
}

/// Agent to hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AgentMsg {
    /// Answer to `hello`; see [`super::handshake`] for what `sig` covers.
    Auth {
        /// [`LINK_PROTOCOL`] of the agent.
        proto: u32,
        /// Bucket public key, text form.
        public_key: String,
        /// Stable machine id.
        machine_id: String,
        /// Display name.
        machine_name: String,
        /// Agent release version.
        agent_version: String,
        /// Agent clock, Unix ms.
        ts: i64,
        /// The hub's nonce, echoed so a stale or replayed answer is named as such.
        nonce: String,
        /// ed25519 signature, hex.
        sig: String,
    },
    /// Live state: every process (full) or what changed (delta).
    Snapshot(Snapshot),
    /// Something happened to a process.
    Event(Event),
    /// 10-second aggregates, replayed after an outage.
    Rollup(Rollup),
    /// Outcome of an [`HubMsg::Action`].
    ActionResult(ActionResult),
    /// Lines of followed apps' output (see [`HubMsg::Logs`]).
    Logs(LogBatch),
}

/// Output lines of followed apps, a few times a second at most.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogBatch {
    /// The lines, oldest first.
    pub lines: Vec<LogLine>,
    /// Lines left out since the last batch (over the rate or size limits).
    #[serde(default)]
    pub dropped: u64,
}

/// One line an app wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// When the agent's daemon read the line from the app's pipe (agent
    /// clock, Unix ms), so lines sent late still show when they were printed.
    pub at: i64,
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub app: String,
    /// `out` or `err`.
    pub stream: String,
    /// The line, without its newline; control characters other than tab removed.
    pub line: String,
}

/// Streams the hub acknowledges.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// [`Event`]s.
    Events,
    /// [`Rollup`]s.
    Rollups,
}

/// Last stored sequence number per stream (0 = none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    /// Events stream.
    pub events: u64,
    /// Rollups stream.
    pub rollups: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_parse_and_round_trip() {
        // One example of every message, as docs/protocol.md shows them.
        let agent: Vec<AgentMsg> =
            serde_json::from_str(include_str!("../../../tests/data/agent_messages.json")).unwrap();
        let hub: Vec<HubMsg> =
            serde_json::from_str(include_str!("../../../tests/data/hub_messages.json")).unwrap();
        assert_eq!(agent.len(), 5);
        assert_eq!(hub.len(), 5);
        for m in &agent {
            let again: AgentMsg = serde_json::from_str(&serde_json::to_string(m).unwrap()).unwrap();
            assert_eq!(&again, m);
        }
        for m in &hub {
            let again: HubMsg = serde_json::from_str(&serde_json::to_string(m).unwrap()).unwrap();
            assert_eq!(&again, m);
        }
    }

    #[test]
    fn unknown_type_is_an_error() {
        assert!(serde_json::from_str::<AgentMsg>(r#"{"type":"nope"}"#).is_err());
    }
}
