//! `pmr start`'s app options (named as pm2 names them) and the spec they
//! make.

use std::path::Path;

use anyhow::{Context, bail};
use clap::Args;
use pmr_shared::app::AppSpec;

use super::{
    absolute, deep_monitoring_env, find_in_path, interpreter_for, parse_instances, parse_ms,
    shell_env, stem,
};
use crate::paths::Paths;

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

/// Turns app options into an [`AppSpec`] for `target` (none: `rest` is the
/// whole command), resolving paths against `shell_cwd`.
pub fn from_flags(
    args: &AppFlags,
    target: Option<&String>,
    rest: &[String],
    shell_cwd: &Path,
) -> anyhow::Result<AppSpec> {
    let mut spec = AppSpec::default();
    let cwd = match &args.cwd {
        Some(c) => {
            let c = shell_cwd.join(c);
            if !c.is_dir() {
                bail!("--cwd: {} is not a directory", c.display());
            }
            c
        }
        None => shell_cwd.to_path_buf(),
    };
    spec.cwd = cwd.to_string_lossy().into_owned();
    let default_name;
    match target {
        None => {
            // `pmr start -- cmd args`: run the command itself.
            let program = &rest[0];
            spec.script = find_in_path(program)
                .map(|p| p.to_string_lossy().into_owned())
                .or_else(|| cwd.join(program).is_file().then(|| absolute(&cwd, program)))
                .with_context(|| format!("command not found: {program}"))?;
            spec.args = rest[1..].to_vec();
            spec.interpreter = "none".into();
            default_name = stem(program);
        }
        Some(target) => {
            let file = cwd.join(target);
            if file.is_file() {
                spec.script = file.to_string_lossy().into_owned();
                spec.interpreter = interpreter_for(&file);
                default_name = stem(target);
            } else if target.contains(' ') {
                spec.script = target.to_string();
                spec.interpreter = "bash".into();
                spec.interpreter_args = Some(vec!["-c".into()]);
                default_name = target.to_string();
            } else if let Some(bin) = find_in_path(target) {
                spec.script = bin.to_string_lossy().into_owned();
                spec.interpreter = interpreter_for(&bin);
                default_name = stem(target);
            } else {
                bail!("Script not found: {}", file.display());
            }
            spec.args = rest.to_vec();
        }
    }
    if let Some(i) = &args.interpreter {
        spec.interpreter = i.clone();
        if i != "none" {
            spec.interpreter_args = Some(Vec::new());
        }
    }
    if let Some(ia) = &args.interpreter_args {
        spec.interpreter_args = pmr_shared::app::parse_node_args(ia);
    }
    spec.name = args.name.clone().unwrap_or(default_name);
    if let Some(ns) = &args.namespace {
        spec.namespace = ns.clone();
    }
    spec.env = shell_env();
    spec.autorestart = !args.no_autorestart;
    spec.autostart = !args.no_autostart;
    if let Some(n) = args.max_restarts {
        spec.max_restarts = n;
    }
    if let Some(v) = &args.min_uptime {
        spec.min_uptime = parse_ms("min-uptime", v)?;
    }
    if let Some(v) = &args.restart_delay {
        spec.restart_delay = parse_ms("restart-delay", v)?;
    }
    if let Some(v) = &args.exp_backoff_restart_delay {
        spec.exp_backoff_restart_delay = parse_ms("exp-backoff-restart-delay", v)?;
    }
    let env_timeout = std::env::var("PMR_KILL_TIMEOUT").ok();
    if let Some(v) = args.kill_timeout.as_ref().or(env_timeout.as_ref()) {
        spec.kill_timeout = parse_ms("kill-timeout", v)?;
    }
    let env_signal = std::env::var("PMR_KILL_SIGNAL").ok();
    if let Some(sig) = args.kill_signal.as_ref().or(env_signal.as_ref()) {
        let sig = sig.to_ascii_uppercase();
        spec.kill_signal = if sig.starts_with("SIG") {
            sig
        } else {
            format!("SIG{sig}")
        };
    }
    spec.stop_exit_codes = args.stop_exit_codes.clone();
    spec.time = args.time;
    spec.log_date_format = args
        .log_date_format
        .clone()
        .or_else(|| std::env::var("PMR_LOG_DATE_FORMAT").ok());
    let file_opt = |o: &Option<String>| {
        o.as_ref().map(|p| {
            if crate::supervisor::logs::is_null_path(p) {
                p.clone()
            } else {
                absolute(&cwd, p)
            }
        })
    };
    spec.out_file = file_opt(&args.output);
    spec.error_file = file_opt(&args.error);
    spec.log_file = match args.log.as_deref() {
        Some("") => Some(
            Paths::from_env()?
                .logs_dir()
                .join(format!("{}.log", crate::paths::file_safe_name(&spec.name)))
                .to_string_lossy()
                .into_owned(),
        ),
        Some(_) => file_opt(&args.log),
        None => None,
    };
    spec.pid_file = args.pid.as_ref().map(|p| absolute(&cwd, p));
    if let Some(i) = &args.instances {
        spec.instances = parse_instances(i)?;
        // Cluster mode as pm2 picks it for Node; another language with
        // more than one instance shares a port only when asked (`--port`),
        // else its instances run in fork mode, as under pm2. `-x` keeps fork.
        let node = crate::supervisor::node::is_node(&spec);
        if !args.execute_command && (node || (spec.instances > 1 && args.port.is_some())) {
            spec.exec_mode = "cluster_mode".into();
        }
    }
    if let Some(port) = args.port {
        spec.env.insert("PORT".into(), port.to_string());
    }
    spec.shared_port = !args.no_shared_port;
    spec.wait_ready = args.wait_ready;
    if let Some(v) = &args.listen_timeout {
        spec.listen_timeout = parse_ms("listen-timeout", v)?;
    }
    spec.shutdown_with_message = args.shutdown_with_message;
    spec.merge_logs = args.merge_logs || spec.instances == 1;
    spec.treekill = !args.no_treekill;
    spec.deep_monitoring = deep_monitoring_env();
    spec.disable_source_map_support = args.disable_source_map_support;
    spec.pmx = !args.no_pmx;
    spec.automation = !args.no_automation;
    spec.cron_restart = args.cron_restart.clone().filter(|c| c != "0");
    spec.log_type = args.log_type.clone().filter(|t| t == "json");
    if let Some(paths) = &args.watch {
        spec.watch = if paths.is_empty() {
            vec![spec.cwd.clone()]
        } else {
            paths.iter().map(|p| absolute(&cwd, p)).collect()
        };
    }
    spec.ignore_watch = args.ignore_watch.clone();
    if let Some(d) = &args.watch_delay {
        spec.watch_delay = parse_ms("watch-delay", d)?;
    }
    if let Some(m) = &args.max_memory_restart {
        spec.max_memory_restart = Some(pmr_shared::app::parse_bytes(m).with_context(|| {
            format!("--max-memory-restart: {m:?} is not a size (bytes, or 100M, 1G...)")
        })?);
    }
    spec.vizion = !args.no_vizion;
    Ok(spec)
}
