//! `pmr start`'s app options (named as pm2 names them, [`AppFlags`]) and
//! the spec they make ([`from_flags`]): what runs is found in [`program`];
//! here the flags, and the `PMR_*` variables that stand in for some of
//! them, become the spec's policy, log files, cluster and watch settings.

mod args;
mod program;

use std::path::Path;

use anyhow::Context;
use pmr_shared::app::AppSpec;

pub use args::AppFlags;

use super::{absolute, deep_monitoring_env, parse_instances, parse_ms, shell_env};
use crate::paths::Paths;

/// Turns app options into an [`AppSpec`] for `target` (none: `rest` is the
/// whole command), resolving paths against `shell_cwd`.
pub fn from_flags(
    args: &AppFlags,
    target: Option<&String>,
    rest: &[String],
    shell_cwd: &Path,
) -> anyhow::Result<AppSpec> {
    let cwd = program::working_dir(args.cwd.as_ref(), shell_cwd)?;
    let mut spec = AppSpec {
        cwd: cwd.to_string_lossy().into_owned(),
        ..AppSpec::default()
    };
    let default_name = program::what_runs(&mut spec, &cwd, target, rest)?;
    program::interpreter(
        &mut spec,
        args.interpreter.as_ref(),
        args.interpreter_args.as_ref(),
    );
    spec.name = args.name.clone().unwrap_or(default_name);
    if let Some(ns) = &args.namespace {
        spec.namespace = ns.clone();
    }
    spec.env = shell_env();
    policy(&mut spec, args)?;
    log_files(&mut spec, args, &cwd)?;
    cluster(&mut spec, args)?;
    watch(&mut spec, args, &cwd)?;
    spec.deep_monitoring = deep_monitoring_env();
    spec.disable_source_map_support = args.disable_source_map_support;
    spec.pmx = !args.no_pmx;
    spec.automation = !args.no_automation;
    spec.vizion = !args.no_vizion;
    Ok(spec)
}

/// When the app restarts and how it stops; `PMR_KILL_TIMEOUT` and
/// `PMR_KILL_SIGNAL` stand in for the flags when they are not given.
fn policy(spec: &mut AppSpec, args: &AppFlags) -> anyhow::Result<()> {
    spec.autorestart = !args.no_autorestart;
    spec.autostart = !args.no_autostart;
    if let Some(n) = args.max_restarts {
        spec.max_restarts = n;
    }
    let durations = [
        (&args.min_uptime, "min-uptime", &mut spec.min_uptime),
        (
            &args.restart_delay,
            "restart-delay",
            &mut spec.restart_delay,
        ),
        (
            &args.exp_backoff_restart_delay,
            "exp-backoff-restart-delay",
            &mut spec.exp_backoff_restart_delay,
        ),
    ];
    for (given, flag, field) in durations {
        if let Some(v) = given {
            *field = parse_ms(flag, v)?;
        }
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
    spec.treekill = !args.no_treekill;
    spec.cron_restart = args.cron_restart.clone().filter(|c| c != "0");
    if let Some(m) = &args.max_memory_restart {
        spec.max_memory_restart = Some(pmr_shared::app::parse_bytes(m).with_context(|| {
            format!("--max-memory-restart: {m:?} is not a size (bytes, or 100M, 1G...)")
        })?);
    }
    spec.wait_ready = args.wait_ready;
    if let Some(v) = &args.listen_timeout {
        spec.listen_timeout = parse_ms("listen-timeout", v)?;
    }
    spec.shutdown_with_message = args.shutdown_with_message;
    Ok(())
}

/// Log and pid files under the app's directory (`NULL`/`/dev/null` kept
/// as they are); `-l` without a value is the default combined log, named
/// after the app. `PMR_LOG_DATE_FORMAT` stands in for `--log-date-format`.
fn log_files(spec: &mut AppSpec, args: &AppFlags, cwd: &Path) -> anyhow::Result<()> {
    spec.time = args.time;
    spec.log_date_format = args
        .log_date_format
        .clone()
        .or_else(|| std::env::var("PMR_LOG_DATE_FORMAT").ok());
    let file_opt = |o: &Option<String>| {
        o.as_ref().map(|p| {
            if crate::logs::is_null_path(p) {
                p.clone()
            } else {
                absolute(cwd, p)
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
    spec.pid_file = args.pid.as_ref().map(|p| absolute(cwd, p));
    spec.log_type = args.log_type.clone().filter(|t| t == "json");
    Ok(())
}

/// Instances, cluster mode and the shared port (`PORT`); logs merge when
/// asked or when there is one instance.
fn cluster(spec: &mut AppSpec, args: &AppFlags) -> anyhow::Result<()> {
    if let Some(i) = &args.instances {
        spec.instances = parse_instances(i)?;
        // Cluster mode as pm2 picks it for Node; another language with
        // more than one instance shares a port only when asked (`--port`),
        // else its instances run in fork mode, as under pm2. `-x` keeps fork.
        let node = crate::node::is_node(spec);
        if !args.execute_command && (node || (spec.instances > 1 && args.port.is_some())) {
            spec.exec_mode = "cluster_mode".into();
        }
    }
    if let Some(port) = args.port {
        spec.env.insert("PORT".into(), port.to_string());
    }
    spec.shared_port = !args.no_shared_port;
    spec.merge_logs = args.merge_logs || spec.instances == 1;
    Ok(())
}

/// `--watch` paths under the app's directory (the directory itself when
/// none is named), what to ignore, and the quiet time before a restart.
fn watch(spec: &mut AppSpec, args: &AppFlags, cwd: &Path) -> anyhow::Result<()> {
    if let Some(paths) = &args.watch {
        spec.watch = if paths.is_empty() {
            vec![spec.cwd.clone()]
        } else {
            paths.iter().map(|p| absolute(cwd, p)).collect()
        };
    }
    spec.ignore_watch = args.ignore_watch.clone();
    if let Some(d) = &args.watch_delay {
        spec.watch_delay = parse_ms("watch-delay", d)?;
    }
    Ok(())
}
