//! `pmr start`'s app options as clap reads them, named as pm2 names them,
//! so a pm2 command line works unchanged; [`super::from_flags`] turns them
//! into a spec.

use clap::Args;

/// The options of one app, from flags: `start`, and `restart`/`reload` of a
/// known app (`--name`, `--node-args`...).
#[derive(Debug, Clone, Args, Default)]
pub struct AppFlags {
    /// App name (default: the script's name without extension).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Program that runs the script; `none` executes it directly.
    #[arg(long)]
    pub interpreter: Option<String>,
    /// Flags for the interpreter.
    #[arg(long, visible_alias = "node-args", allow_hyphen_values = true)]
    pub interpreter_args: Option<String>,
    /// Working directory of the app.
    #[arg(long)]
    pub cwd: Option<String>,
    /// Namespace of the app.
    #[arg(long)]
    pub namespace: Option<String>,
    /// Do not restart the app when it exits.
    #[arg(long)]
    pub no_autorestart: bool,
    /// Add the app without starting it (listed as stopped).
    #[arg(long)]
    pub no_autostart: bool,
    /// Unstable restarts allowed before `errored`.
    #[arg(long, allow_hyphen_values = true)]
    pub max_restarts: Option<u32>,
    /// A run shorter than this is unstable (ms, or 1s/2m/1h).
    #[arg(long, allow_hyphen_values = true)]
    pub min_uptime: Option<String>,
    /// Pause before an automatic restart (ms, or 1s...).
    #[arg(long, allow_hyphen_values = true)]
    pub restart_delay: Option<String>,
    /// First delay of an exponential restart backoff (ms, or 1s...).
    #[arg(long, allow_hyphen_values = true)]
    pub exp_backoff_restart_delay: Option<String>,
    /// Grace between the stop signal and SIGKILL (ms, or 1s...).
    #[arg(short = 'k', long, allow_hyphen_values = true)]
    pub kill_timeout: Option<String>,
    /// Stop signal (default SIGINT, as pm2).
    #[arg(long)]
    pub kill_signal: Option<String>,
    /// Exit codes that mean "stopped": no restart.
    #[arg(long, num_args = 1.., allow_negative_numbers = true)]
    pub stop_exit_codes: Vec<i32>,
    /// Prefix log lines with the time.
    #[arg(long)]
    pub time: bool,
    /// Prefix log lines with a date in this (dayjs) format.
    #[arg(long)]
    pub log_date_format: Option<String>,
    /// stdout log file (`NULL` for none).
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// stderr log file (`NULL` for none).
    #[arg(short = 'e', long)]
    pub error: Option<String>,
    /// Combined log file (default path when no value).
    #[arg(short = 'l', long, num_args = 0..=1, default_missing_value = "")]
    pub log: Option<String>,
    /// One log file per stream for all instances.
    #[arg(long)]
    pub merge_logs: bool,
    /// Pid file path.
    #[arg(short = 'p', long)]
    pub pid: Option<String>,
    /// Number of instances (`max` for one per CPU).
    #[arg(short = 'i', long, allow_hyphen_values = true)]
    pub instances: Option<String>,
    /// Restart a running app on this cron pattern (seconds optional; 0 = none).
    #[arg(short = 'c', long = "cron-restart", visible_alias = "cron")]
    pub cron_restart: Option<String>,
    /// Restart on file changes under these paths (the app's directory when none).
    #[arg(long, num_args = 0.., value_delimiter = ',')]
    pub watch: Option<Vec<String>>,
    /// Paths, names or `*.ext` patterns whose changes do not count.
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub ignore_watch: Vec<String>,
    /// Quiet time after a change before restarting (ms, or 1s...).
    #[arg(long, allow_hyphen_values = true)]
    pub watch_delay: Option<String>,
    /// `json`: one JSON object per log line (message, timestamp, type, process_id, app_name).
    #[arg(long, value_parser = ["json", "raw"])]
    pub log_type: Option<String>,
    /// Restart when memory exceeds this (bytes, or 100M, 1G...).
    #[arg(long)]
    pub max_memory_restart: Option<String>,
    /// Signal only the main process, not its process group.
    #[arg(long)]
    pub no_treekill: bool,
    /// Skip git metadata.
    #[arg(long)]
    pub no_vizion: bool,
    /// Map Node stack traces through source maps (the default).
    #[arg(long, conflicts_with = "disable_source_map_support")]
    pub source_map_support: bool,
    /// Node stack traces as written, not mapped through source maps.
    #[arg(long)]
    pub disable_source_map_support: bool,
    /// No exception reports; an unhandled rejection ends a Node app as Node would.
    #[arg(long)]
    pub no_pmx: bool,
    /// Same as `--no-pmx` (pm2's other name).
    #[arg(long)]
    pub no_automation: bool,
    /// Online only once the app says `ready` (or after --listen-timeout).
    #[arg(long)]
    pub wait_ready: bool,
    /// Longest wait for readiness at start and during reload (ms, or 1s...).
    #[arg(long, allow_hyphen_values = true)]
    pub listen_timeout: Option<String>,
    /// Stop by sending the IPC message `shutdown` instead of a signal.
    #[arg(long)]
    pub shutdown_with_message: bool,
    /// Keep fork mode even with `-i`.
    #[arg(short = 'x', long = "execute-command")]
    pub execute_command: bool,
    /// Port the app listens on (sets `PORT`); in cluster mode every instance shares it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// In cluster mode, let each instance bind `PORT` itself (with SO_REUSEPORT)
    /// instead of sharing the socket the daemon binds.
    #[arg(long)]
    pub no_shared_port: bool,
}
