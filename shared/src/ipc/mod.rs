//! The local socket protocol between `pmr` and its daemon.
//!
//! One JSON document per line, capped at [`MAX_FRAME`] bytes. The first frame
//! each way is a hello carrying [`crate::PROTOCOL_VERSION`]; its shape never
//! changes, so two versions can always tell each other apart.

mod error;
#[cfg(feature = "ipc")]
pub mod framing;

pub use error::ErrorKind;

use serde::{Deserialize, Serialize};

use crate::app::{AppSpec, ProcessInfo};

/// Largest frame either side accepts, so a confused peer cannot make the other
/// allocate without bound.
pub const MAX_FRAME: usize = 16 * 1024 * 1024;

/// Actions that take a list of targets (names, ids, namespaces, `/regex/`, `all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Start stopped instances; restart running ones (pm2's `start <name>`).
    Start,
    /// Graceful stop.
    Stop,
    /// Stop then start; counts a restart when it was running.
    Restart,
    /// Stop and forget.
    Delete,
    /// Zero the restart counters.
    Reset,
    /// Zero-downtime replacement, one instance at a time (cluster mode);
    /// a restart in fork mode.
    Reload,
}

impl Action {
    /// The verb pm2 prints for this action.
    pub fn pm2_method(self) -> &'static str {
        match self {
            Action::Start => "restartProcessId",
            Action::Stop => "stopProcessId",
            Action::Restart => "restartProcessId",
            Action::Delete => "deleteProcessId",
            Action::Reset => "resetMetaProcessId",
            Action::Reload => "reloadProcessId",
        }
    }
}

/// Where `Checkout` moves the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckoutMove {
    /// Fetch, then fast-forward to the upstream (or to this commit).
    Pull {
        /// A commit to move to instead of the upstream's head.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<String>,
    },
    /// The previous commit.
    Backward,
    /// The next commit towards the upstream.
    Forward,
}

/// Options an action changes on the apps it names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Overrides {
    /// A new cron pattern; `"0"` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron_restart: Option<String>,
    /// New interpreter (node) arguments as typed; `null` removes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_args: Option<String>,
    /// Turn deep monitoring on (`PMR_DEEP_MONITORING=true pmr restart app`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deep_monitoring: Option<bool>,
    /// A new name (`restart 0 --name new`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A request from the CLI.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// First frame: who is calling.
    Hello {
        /// The caller's [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// The caller's release version.
        version: String,
    },
    /// Liveness check.
    Ping,
    /// Register and start new apps.
    Start {
        /// One spec per app; each may ask for several instances.
        apps: Vec<AppSpec>,
        /// Start even when the same script already runs.
        force: bool,
        /// Apps already known by name take these options and restart (an
        /// ecosystem file re-read), instead of being refused.
        #[serde(default)]
        update: bool,
        /// With `update`: known apps reload (zero-downtime) instead of restarting.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        reload: bool,
    },
    /// Apply an action to the instances the targets name.
    Act {
        /// What to do.
        action: Action,
        /// Names, ids, namespaces, `/regex/` or `all`.
        targets: Vec<String>,
        /// `--update-env`: the caller's environment, laid over the apps' own
        /// before a restart.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        update_env: Option<std::collections::BTreeMap<String, String>>,
        /// `--watch`: `restart` toggles watching, `stop` ends it, as in pm2.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        watch: bool,
        /// App options given with the action (`restart app --cron-restart 0`),
        /// applied before it, as pm2 does.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        options: Option<Overrides>,
        /// Who asked, when not the local command line: a hub user's name
        /// for an action sent through the link. A restart says so in its
        /// event's detail.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    /// Instances, optionally with their environment.
    List {
        /// Include each instance's environment (for `jlist`, `env`, `describe`).
        full: bool,
        /// Names, ids, namespaces, `/regex/` or `all`; empty for every instance.
        #[serde(default)]
        targets: Vec<String>,
    },
    /// Truncate the log files of the target (or of every app).
    Flush {
        /// Name, id or namespace; `None` for all.
        target: Option<String>,
    },
    /// Reopen every log file (after an external rotation).
    ReloadLogs,
    /// Stream log lines as they are written, until the client hangs up.
    Logs {
        /// Name, id or namespace; `None` for all.
        target: Option<String>,
    },
    /// Write the process list to the dump file.
    Save {
        /// Write even an empty list over the dump.
        #[serde(default)]
        force: bool,
    },
    /// Start the apps of the dump file that are not running.
    Resurrect,
    /// Stop every app, then the daemon.
    Kill,
    /// Hand the apps, their descriptors and the state over to the binary
    /// `exe` (`pmr update`): no app restarts.
    Update {
        /// The new binary.
        exe: String,
    },
    /// Store the hub link settings and (re)connect.
    Link {
        /// Where and how to connect.
        settings: LinkSettings,
    },
    /// Disconnect from the hub and forget the settings.
    Unlink,
    /// Read `config.toml` again.
    ReloadConfig,
    /// Set an app's number of instances: `N`, `+N` or `-N`.
    Scale {
        /// App name.
        name: String,
        /// `N`, `+N` or `-N`.
        count: String,
    },
    /// Run an action an app registered (@pm2/io `io.action`) and collect
    /// each instance's reply.
    Trigger {
        /// Names, ids, namespaces, `/regex/` or `all`.
        target: String,
        /// Action name.
        action: String,
        /// Optional parameter, given to two-argument handlers.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        param: Option<String>,
    },
    /// Send a message to one instance (`process.on('message')`), pm2's
    /// `sendDataToProcessId` packet shape.
    SendData {
        /// Instance id.
        id: u32,
        /// The packet's `topic`.
        topic: String,
        /// The packet's `data`.
        data: serde_json::Value,
    },
    /// Read the git metadata of apps again.
    RefreshVersioning {
        /// Names, ids, namespaces, `/regex/` or `all`.
        targets: Vec<String>,
    },
    /// Move an app's checkout (`pull`, `backward`, `forward`), run its
    /// `post_update` commands, reload it.
    Checkout {
        /// App name or id.
        target: String,
        /// Which way.
        to: CheckoutMove,
    },
    /// Send a signal to every instance's main process.
    Signal {
        /// `SIGUSR2`, `USR2` or a number.
        signal: String,
        /// Names, ids, namespaces, `/regex/` or `all`.
        targets: Vec<String>,
    },
    /// How the link is doing.
    LinkStatus,
}

/// How an agent reaches its hub; stored in `$PMR_HOME/link.json` (mode 0600).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSettings {
    /// Bucket secret key (`S...`); never sent to the hub.
    pub secret_key: String,
    /// Bucket public key (`P...`).
    pub public_key: String,
    /// Name shown in the hub.
    pub machine_name: String,
    /// `wss://host:port` (or `ws://` when asked for), or several replicas'
    /// addresses separated by commas, tried in turn.
    pub hub: String,
    /// PEM file of the CA that signed the hub's certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<String>,
    /// SHA-256 fingerprint of the hub's certificate, to pin it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// What `pmr link status` shows.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkState {
    /// A link is configured.
    pub configured: bool,
    /// Hub URL.
    pub hub: String,
    /// Machine name.
    pub machine_name: String,
    /// Connected now.
    pub connected: bool,
    /// Since when (connected or not), Unix ms.
    pub since: i64,
    /// Last error, with the hub's reason when it gave one.
    pub last_error: Option<String>,
    /// Events and rollups waiting for the hub's acknowledgement.
    pub queued: u64,
    /// Entries dropped because the queue was full.
    pub dropped: u64,
    /// Next attempt, Unix ms, while disconnected.
    pub next_attempt: Option<i64>,
}

/// One frame from the daemon.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Response {
    /// Answer to [`Request::Hello`].
    Hello {
        /// The daemon's [`crate::PROTOCOL_VERSION`].
        protocol: u32,
        /// The daemon's release version.
        version: String,
        /// The daemon's pid.
        pid: u32,
    },
    /// Answer to [`Request::Ping`].
    Pong,
    /// Success with a message for the user.
    Done {
        /// What happened, one line per item.
        messages: Vec<String>,
        /// The instances the request touched, as they are now.
        processes: Vec<ProcessInfo>,
        /// The instances an action applied to, a deleted one included, so
        /// that a caller (the hub link) need not read them out of
        /// `messages`; empty for other requests.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        acted_on: Vec<InstanceRef>,
    },
    /// Answer to [`Request::List`].
    Processes {
        /// All instances, ordered by id.
        list: Vec<ProcessInfo>,
    },
    /// One chunk of whole log lines, for [`Request::Logs`].
    Log {
        /// Instance id.
        pm_id: u32,
        /// App name.
        name: String,
        /// `out` or `err`.
        stream: String,
        /// Whole lines, newline-terminated.
        data: String,
        /// Where the stream's log file goes on after these lines: a follower
        /// that loses the daemon reads the file on from here, so a line
        /// written but never streamed is not lost (absent from old daemons).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        end: Option<u64>,
    },
    /// Answer to [`Request::LinkStatus`].
    Link {
        /// The link's state.
        state: LinkState,
    },
    /// The request failed; nothing was changed unless the message says so.
    Error {
        /// What the caller may do about it; absent from older daemons.
        #[serde(default)]
        kind: ErrorKind,
        /// What went wrong and where.
        message: String,
    },
}

/// One instance by id and name, which outlive it in a reply about its deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceRef {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: String,
}

impl Response {
    /// A failed request of this kind, with the message the user reads.
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Response::Error {
            kind,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hello_shape_is_stable() {
        // Older and newer CLIs rely on this exact text to detect a mismatch.
        let text = serde_json::to_string(&Request::Hello {
            protocol: 7,
            version: "x".into(),
        })
        .unwrap();
        assert_eq!(text, r#"{"cmd":"hello","protocol":7,"version":"x"}"#);
        let reply: Response =
            serde_json::from_str(r#"{"reply":"hello","protocol":9,"version":"9.9.9","pid":4}"#)
                .unwrap();
        assert!(matches!(
            reply,
            Response::Hello {
                protocol: 9,
                pid: 4,
                ..
            }
        ));
    }

    #[test]
    fn status_uses_pm2_spelling() {
        let s = serde_json::to_string(&crate::app::Status::WaitingRestart).unwrap();
        assert_eq!(s, r#""waiting restart""#);
    }
}
