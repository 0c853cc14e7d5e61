//! The app model: what the user asked for ([`AppSpec`]) and what runs
//! ([`ProcessInfo`]).
//!
//! Field names follow pm2's `pm2_env` keys (`pm_exec_path`, `exec_interpreter`,
//! `pm_cwd`...) so that the dump file and `jlist` read the same to pm2 users
//! and their scripts.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// pm2's default for `min_uptime`, in milliseconds.
pub const DEFAULT_MIN_UPTIME_MS: u64 = 1000;
/// pm2's default for `max_restarts`.
pub const DEFAULT_MAX_RESTARTS: u32 = 16;
/// pm2's default for `kill_timeout`, in milliseconds.
pub const DEFAULT_KILL_TIMEOUT_MS: u64 = 1600;
/// pm2's default for `listen_timeout`, in milliseconds.
pub const DEFAULT_LISTEN_TIMEOUT_MS: u64 = 3000;
/// The `--time` shortcut's date format, as pm2 defines it.
pub const TIME_DATE_FORMAT: &str = "YYYY-MM-DDTHH:mm:ss";

/// Everything needed to (re)start one app, as the user described it.
///
/// One spec may run as several instances; the daemon derives per-instance
/// names of files and variables from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSpec {
    /// Identity used by most commands.
    pub name: String,
    /// Group label that commands accept in place of a name.
    pub namespace: String,
    /// Absolute script path, binary, or shell command line.
    #[serde(rename = "pm_exec_path")]
    pub script: String,
    /// Arguments passed to the script.
    pub args: Vec<String>,
    /// Program that runs the script; `none` executes the script itself.
    #[serde(rename = "exec_interpreter")]
    pub interpreter: String,
    /// Flags for the interpreter, before the script path; `None` once
    /// removed (`--node-args=null`), which pm2 shows as no `node_args` key.
    #[serde(rename = "node_args")]
    pub interpreter_args: Option<Vec<String>>,
    /// Working directory of the app.
    #[serde(rename = "pm_cwd")]
    pub cwd: String,
    /// The complete environment the app starts with.
    pub env: BTreeMap<String, String>,
    /// Variables the configuration gave as JSON numbers or booleans: shown
    /// with that type (`PORT: 3000`), as pm2 shows them.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub typed_env: BTreeSet<String>,
    /// How many copies run.
    pub instances: u32,
    /// `fork_mode` or `cluster_mode`, as pm2 spells it.
    pub exec_mode: String,
    /// Restart when the app exits on its own.
    pub autorestart: bool,
    /// Spawn the app when it is added; `false` registers it stopped.
    pub autostart: bool,
    /// Online only once the app says `ready` (Node `process.send('ready')`,
    /// or `READY=1` on the notify socket), or after `listen_timeout`.
    pub wait_ready: bool,
    /// Longest wait, in ms, for readiness at start (`wait_ready`) and for
    /// each new instance during a reload.
    pub listen_timeout: u64,
    /// Stop by sending the IPC message `shutdown` instead of a signal.
    pub shutdown_with_message: bool,
    /// Shell commands run in the repository after `pull`/`forward`/`backward`
    /// moved the checkout, before the app reloads (`npm install`...).
    pub post_update: Vec<String>,
    /// In cluster mode with `PORT` set, the daemon binds the port once and
    /// passes it to every instance (fd 3, `LISTEN_FDS`); `false` leaves the
    /// binding to the app (with `SO_REUSEPORT`).
    pub shared_port: bool,
    /// Consecutive unstable restarts allowed before the app is `errored`.
    pub max_restarts: u32,
    /// A run shorter than this (ms) is an unstable start.
    pub min_uptime: u64,
    /// Pause (ms) before an automatic restart.
    pub restart_delay: u64,
    /// First delay (ms) of the exponential backoff; 0 turns it off.
    pub exp_backoff_restart_delay: u64,
    /// Grace (ms) between the stop signal and SIGKILL.
    pub kill_timeout: u64,
    /// Signal that asks the app to stop.
    pub kill_signal: String,
    /// Exit codes that mean "stopped on purpose": no restart.
    pub stop_exit_codes: Vec<i32>,
    /// Prefix every log line with `--time`'s format.
    pub time: bool,
    /// dayjs-style format for a date prefix on each log line.
    pub log_date_format: Option<String>,
    /// Path of the stdout log, `None` for the default name.
    #[serde(rename = "pm_out_log_path")]
    pub out_file: Option<String>,
    /// Path of the stderr log, `None` for the default name.
    #[serde(rename = "pm_err_log_path")]
    pub error_file: Option<String>,
    /// Path of a combined stdout+stderr log, if any.
    #[serde(rename = "pm_log_path")]
    pub log_file: Option<String>,
    /// All instances share one file per stream instead of one each.
    pub merge_logs: bool,
    /// Path of the pid file, `None` for the default name.
    #[serde(rename = "pm_pid_path")]
    pub pid_file: Option<String>,
    /// Variable holding the instance index.
    pub instance_var: String,
    /// Variable incremented per instance, from its value in `env` (or 0).
    pub increment_var: Option<String>,
    /// Restart when the process tree's resident memory exceeds this (bytes).
    pub max_memory_restart: Option<u64>,
    /// Cron pattern (seconds optional) on which a running app restarts.
    pub cron_restart: Option<String>,
    /// `json` writes one JSON object per log line.
    pub log_type: Option<String>,
    /// Paths whose changes restart the app; empty = no watching.
    pub watch: Vec<String>,
    /// Path parts, names or `*.ext` patterns whose changes are ignored.
    pub ignore_watch: Vec<String>,
    /// Quiet time (ms) after a change before the restart.
    pub watch_delay: u64,
    /// Signal the whole process group, not only the main pid.
    pub treekill: bool,
    /// Collect git metadata for the app.
    pub vizion: bool,
    /// Node stack traces as written, not mapped through source maps
    /// (pm2's default maps them).
    pub disable_source_map_support: bool,
    /// pm2's @pm2/io injection, which pmr's preload stands for: exceptions
    /// reported, an unhandled rejection logged without ending the app.
    pub pmx: bool,
    /// pm2's other name for `pmx` (`--no-automation`); both must hold.
    pub automation: bool,
    /// A Node app reports its event-loop delay, heap and handles as metrics
    /// (pm2's `deep_monitoring`, also `PMR_DEEP_MONITORING=true`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deep_monitoring: bool,
}

impl AppSpec {
    /// The interpreter's flags, none when unset.
    pub fn node_args(&self) -> &[String] {
        self.interpreter_args.as_deref().unwrap_or_default()
    }
}

/// `--node-args` as pm2 takes it: `null` removes them, else words.
pub fn parse_node_args(a: &str) -> Option<Vec<String>> {
    (a != "null").then(|| a.split_whitespace().map(String::from).collect())
}

impl Default for AppSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            namespace: "default".into(),
            script: String::new(),
            args: Vec::new(),
            interpreter: "none".into(),
            interpreter_args: Some(Vec::new()),
            cwd: String::new(),
            env: BTreeMap::new(),
            typed_env: BTreeSet::new(),
            instances: 1,
            exec_mode: "fork_mode".into(),
            autorestart: true,
            autostart: true,
            wait_ready: false,
            listen_timeout: DEFAULT_LISTEN_TIMEOUT_MS,
            shutdown_with_message: false,
            post_update: Vec::new(),
            shared_port: true,
            max_restarts: DEFAULT_MAX_RESTARTS,
            min_uptime: DEFAULT_MIN_UPTIME_MS,
            restart_delay: 0,
            exp_backoff_restart_delay: 0,
            kill_timeout: DEFAULT_KILL_TIMEOUT_MS,
            kill_signal: "SIGINT".into(),
            stop_exit_codes: Vec::new(),
            time: false,
            log_date_format: None,
            out_file: None,
            error_file: None,
            log_file: None,
            merge_logs: true,
            pid_file: None,
            instance_var: "NODE_APP_INSTANCE".into(),
            increment_var: None,
            max_memory_restart: None,
            cron_restart: None,
            log_type: None,
            watch: Vec::new(),
            ignore_watch: Vec::new(),
            watch_delay: 0,
            treekill: true,
            vizion: true,
            disable_source_map_support: false,
            pmx: true,
            automation: true,
            deep_monitoring: false,
        }
    }
}

/// Bytes from pm2's memory notation: `1024`, `512K`, `100M`, `1G` (also `MB`, `KiB`...).
pub fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(digits);
    let n: f64 = num
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let mult: f64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

impl AppSpec {
    /// The date format in effect for log prefixes, if any.
    pub fn date_format(&self) -> Option<&str> {
        self.log_date_format
            .as_deref()
            .or(self.time.then_some(TIME_DATE_FORMAT))
    }
}

/// Lifecycle states, spelled as pm2 spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Spawned, not yet confirmed running.
    #[serde(rename = "launching")]
    Launching,
    /// Running.
    #[serde(rename = "online")]
    Online,
    /// Stop signal sent, waiting for the exit.
    #[serde(rename = "stopping")]
    Stopping,
    /// Not running, on purpose.
    #[serde(rename = "stopped")]
    Stopped,
    /// Not running: too many unstable restarts or a failed spawn.
    #[serde(rename = "errored")]
    Errored,
    /// Exited; an automatic restart is scheduled.
    #[serde(rename = "waiting restart")]
    WaitingRestart,
}

impl Status {
    /// pm2's text for this status.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Launching => "launching",
            Status::Online => "online",
            Status::Stopping => "stopping",
            Status::Stopped => "stopped",
            Status::Errored => "errored",
            Status::WaitingRestart => "waiting restart",
        }
    }
}

/// One running (or registered) instance as the daemon sees it now.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Stable id, unique in this daemon.
    pub pm_id: u32,
    /// Index of this instance among its app's instances.
    pub instance: u32,
    /// Current status.
    pub status: Status,
    /// Pid of the main process, 0 when none runs.
    pub pid: u32,
    /// Automatic restarts plus restarts of a running app.
    pub restart_time: u32,
    /// Consecutive runs shorter than `min_uptime`.
    pub unstable_restarts: u32,
    /// Epoch ms of the last start.
    pub pm_uptime: u64,
    /// Epoch ms when this instance was created (reset on a manual restart).
    pub created_at: u64,
    /// Exit code of the last run, if it ended with one.
    pub exit_code: Option<i32>,
    /// Signal that ended the last run, if any.
    pub exit_signal: Option<String>,
    /// Delay (ms) used before the last automatic restart.
    pub prev_restart_delay: u64,
    /// CPU use of the instance's process tree, percent of one core.
    pub cpu: f32,
    /// Resident memory of the instance's process tree, bytes.
    pub memory: u64,
    /// User the daemon (and so the app) runs as.
    pub username: String,
    /// Resolved stdout log path; `/dev/null` when disabled.
    pub out_log: String,
    /// Resolved stderr log path; `/dev/null` when disabled.
    pub err_log: String,
    /// Resolved combined log path, if any.
    pub combined_log: Option<String>,
    /// Resolved pid file path.
    pub pid_path: String,
    /// Log bytes this instance's files could not take (a full disk).
    #[serde(default)]
    pub log_bytes_dropped: u64,
    /// The options this instance was started with.
    pub spec: AppSpec,
    /// Custom metrics the app publishes (@pm2/io, or the notify socket):
    /// name → `{value, unit, type, historic}`, pm2's `axm_monitor`.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub axm_monitor: serde_json::Map<String, serde_json::Value>,
    /// Actions the app registered for `pmr trigger`, pm2's `axm_actions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub axm_actions: Vec<serde_json::Value>,
    /// Git metadata of the app's directory (pm2's `versioning`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn memory_notation() {
        assert_eq!(parse_bytes("1024"), Some(1024));
        assert_eq!(parse_bytes("512K"), Some(512 * 1024));
        assert_eq!(parse_bytes("100M"), Some(100 * 1024 * 1024));
        assert_eq!(parse_bytes("1G"), Some(1 << 30));
        assert_eq!(parse_bytes("1.5GB"), Some(3 << 29));
        assert_eq!(parse_bytes("100MiB"), Some(100 << 20));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("10X"), None);
    }
}
