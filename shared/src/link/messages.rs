//! Messages on the agent–hub websocket: one enum per direction, internally
//! tagged by `type`, JSON text frames. Streams that the hub must not lose
//! (events, rollups) carry sequence numbers that it acknowledges.

use serde::{Deserialize, Serialize};

/// Version of the link protocol, sent in `hello` and `auth`.
pub const LINK_PROTOCOL: u32 = 1;
/// Largest frame either side accepts.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Websocket close codes that tell the agent why it was refused.
pub mod close {
    /// The signature does not verify (or the auth message is malformed).
    pub const BAD_SIGNATURE: u16 = 4401;
    /// The key is revoked.
    pub const REVOKED: u16 = 4403;
    /// The key is unknown to this hub.
    pub const UNKNOWN_KEY: u16 = 4404;
    /// The nonce was already used or has expired.
    pub const NONCE: u16 = 4408;
    /// The agent's clock is too far from the hub's.
    pub const CLOCK_SKEW: u16 = 4409;
    /// The protocol versions do not match.
    pub const PROTOCOL: u16 = 4426;
    /// Too many attempts from this address or key.
    pub const RATE_LIMITED: u16 = 4429;
    /// A frame was not valid JSON, not a known message, or broke a field
    /// limit (the close reason names the field).
    pub const BAD_FRAME: u16 = 4400;
    /// The handshake took too long.
    pub const TIMEOUT: u16 = 4410;
    /// No frame came for 30 s: the session is dead.
    pub const IDLE: u16 = 4411;
    /// A newer session of the same machine (bucket and `machine_id`) took over.
    pub const REPLACED: u16 = 4412;
    /// A frame over [`super::MAX_FRAME_BYTES`] (RFC 6455's "message too big").
    pub const TOO_BIG: u16 = 1009;
    /// The hub needed this pending handshake's place for a fairer newcomer
    /// (RFC 6455's "try again later").
    pub const TRY_AGAIN: u16 = 1013;
    /// The hub failed (RFC 6455's "internal error"); the agent is not to blame.
    pub const INTERNAL: u16 = 1011;

    /// A human reason for a close code, shown by `pmr link status`.
    pub fn reason(code: u16) -> &'static str {
        match code {
            BAD_SIGNATURE => {
                "the hub refused the signature: is the secret key right for this public key?"
            }
            REVOKED => "the key was revoked on the hub",
            UNKNOWN_KEY => "the hub does not know this public key",
            NONCE => "the handshake nonce was reused or expired",
            CLOCK_SKEW => "this machine's clock is more than 60 s off the hub's",
            PROTOCOL => "the hub speaks another link protocol version",
            RATE_LIMITED => "too many connection attempts; backing off",
            BAD_FRAME => "the hub refused a frame (malformed, or a field over its limit)",
            TIMEOUT => "the handshake took too long",
            IDLE => "no frame from this agent for 30 s",
            REPLACED => "a newer session of this machine (same bucket and machine id) took over",
            TOO_BIG => "a frame was larger than 1 MiB",
            TRY_AGAIN => "the hub is busy with other handshakes; try again later",
            INTERNAL => "the hub failed; it will take the agent back when it recovers",
            _ => "closed by the hub",
        }
    }
}

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

/// Host metrics in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Host name.
    pub hostname: String,
    /// Logical CPUs.
    pub cpus: u32,
    /// CPU busy, percent of all CPUs.
    pub cpu: f32,
    /// Total memory, bytes.
    pub mem_total: u64,
    /// Used memory, bytes.
    pub mem_used: u64,
    /// 1, 5, 15 minute load averages.
    pub load: [f32; 3],
    /// Total bytes of the file system holding `$PMR_HOME`.
    pub disk_total: u64,
    /// Used bytes of that file system.
    pub disk_used: u64,
    /// Seconds since boot.
    pub uptime: u64,
}

/// One process in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Proc {
    /// Instance id on the agent.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// pm2 status text.
    pub status: String,
    /// Main pid, 0 when none.
    pub pid: u32,
    /// Restart counter.
    pub restart_time: u32,
    /// Consecutive unstable restarts.
    pub unstable_restarts: u32,
    /// Epoch ms of the last start.
    pub pm_uptime: u64,
    /// CPU percent of one core.
    pub cpu: f32,
    /// Resident bytes.
    pub memory: u64,
    /// `fork_mode` or `cluster_mode`.
    pub exec_mode: String,
    /// Custom metrics by name.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Git metadata, pm2's `versioning` shape, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<serde_json::Value>,
    /// Names of the custom actions the app registered (@pm2/io), for `trigger`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

/// Live state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases by one per snapshot of this session.
    pub seq: u64,
    /// True: `processes` is everything; false: only what changed.
    pub full: bool,
    /// Agent clock, Unix ms.
    pub at: i64,
    /// Host metrics.
    pub host: Host,
    /// Processes (all, or the changed ones).
    pub processes: Vec<Proc>,
    /// Ids gone since the last snapshot (deltas only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<u32>,
}

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

/// Min/max/avg/last of one value over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Agg {
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean of the samples.
    pub avg: f64,
    /// Last sample.
    pub last: f64,
}

/// One process's 10-second aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcRollup {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// CPU percent.
    pub cpu: Agg,
    /// Resident bytes.
    pub memory: Agg,
}

/// 10-second aggregates of every process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Sequence number on the rollups stream.
    pub seq: u64,
    /// Start of the window, Unix ms.
    pub start: i64,
    /// Window length, ms.
    pub span_ms: u32,
    /// One entry per process.
    pub processes: Vec<ProcRollup>,
}

/// Remote actions the hub may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteAction {
    /// Restart.
    Restart,
    /// Zero-downtime reload (a restart in fork mode).
    Reload,
    /// Stop.
    Stop,
    /// Start.
    Start,
    /// Delete.
    Delete,
    /// Set the number of instances.
    Scale,
    /// Empty the log files.
    Flush,
    /// Run an app-defined action.
    Trigger,
    /// Zero the counters.
    Reset,
}

/// An action request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// Id the result refers to.
    pub id: String,
    /// What to do.
    pub action: RemoteAction,
    /// Names, ids, namespaces, `/regex/` or `all`.
    pub targets: Vec<String>,
    /// Action parameters (instances for scale, name and argument for trigger).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
    /// The hub user who asked (their name, as in the audit log), so the
    /// agent's restart event says who restarted the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// An action's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The request's id.
    pub id: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, or the error.
    pub message: String,
    /// The instances the action touched, as they are after it (none for
    /// a failure, a trigger, or an agent older than this field): the hub
    /// words the outcome from them ("api restarted on web-1: 1 instance,
    /// new pid 2841").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Touched>,
}

/// One instance an action touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touched {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// Its pid now, 0 when not running.
    pub pid: u32,
    /// Its status now (pm2's words).
    pub status: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixtures_parse_and_round_trip() {
        // One example of every message, as docs/protocol.md shows them.
        let agent: Vec<AgentMsg> =
            serde_json::from_str(include_str!("../../tests/data/agent_messages.json")).unwrap();
        let hub: Vec<HubMsg> =
            serde_json::from_str(include_str!("../../tests/data/hub_messages.json")).unwrap();
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
