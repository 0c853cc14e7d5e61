//! `pmr start`: a new app from a script, a binary or a command; or known
//! apps by name, id or namespace.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use pmr_shared::app::AppSpec;
use pmr_shared::ipc::{Action, Request};

use super::report;
use crate::cli::{Client, StartArgs};
use crate::paths::Paths;

/// `reload`: known apps of an ecosystem file reload instead of restarting
/// (`startOrReload`).
pub(super) fn run(paths: &Paths, args: StartArgs, reload: bool) -> anyhow::Result<ExitCode> {
    if args.targets.is_empty()
        && args.rest.is_empty()
        && crate::ecosystem::find_default(&std::env::current_dir()?).is_none()
    {
        bail!(
            "nothing to start: give a script, a binary, `-- command args`, an app name, or an ecosystem file (none here)"
        );
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    // `cat all.json | pmr start -`: the configuration on standard input.
    if args.targets == ["-"] {
        let loaded =
            crate::ecosystem::load_stdin(&cwd, &args.only, args.env.as_deref(), &shell_env())?;
        return start_loaded(paths, loaded, args.force, reload, &args.out);
    }
    // An ecosystem file: named, or the default one of this directory.
    let file = match args.targets.as_slice() {
        [] if args.rest.is_empty() => crate::ecosystem::find_default(&cwd),
        [t] if crate::ecosystem::is_config_file(t) && cwd.join(t).is_file() => Some(cwd.join(t)),
        _ => None,
    };
    if let Some(file) = file {
        return start_file(
            paths,
            &file,
            &args.only,
            args.env.as_deref(),
            args.force,
            reload,
            &args.out,
        );
    }
    let first_is_file = args.targets.first().is_some_and(|t| cwd.join(t).is_file());
    // Known apps are started (or restarted) by name, id or namespace.
    if !first_is_file && args.rest.is_empty() && !args.targets.iter().any(|t| t.contains(' ')) {
        let mut client = Client::connect_or_start(paths)?;
        // Options given with the start of known apps apply first, as in pm2.
        let options = pmr_shared::ipc::Overrides {
            cron_restart: args.cron_restart.clone(),
            node_args: args.interpreter_args.clone(),
            deep_monitoring: deep_monitoring_env().then_some(true),
            name: args.name.clone(),
        };
        let options = (options != Default::default()).then_some(options);
        match client.request(&Request::Act {
            action: Action::Start,
            targets: args.targets.clone(),
            update_env: None,
            watch: false,
            options,
        }) {
            Ok(reply) => {
                report(&args.out, reply);
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) if args.targets.len() > 1 || !e.to_string().contains("not found") => {
                return Err(e);
            }
            Err(_) => {}
        }
    }
    // Several scripts at once (`pmr start a.js b.js`), each named after
    // its file, as pm2 does; what follows `--` goes to each.
    let specs = if args.targets.len() > 1 {
        if let Some(t) = args.targets.iter().find(|t| !cwd.join(t).is_file()) {
            bail!("{t}: no such script (several scripts start together only when each is a file)");
        }
        let mut specs = Vec::new();
        for t in &args.targets {
            let mut one = args.clone();
            one.targets = vec![t.clone()];
            one.name = None;
            specs.push(build_spec(&one, &cwd)?);
        }
        specs
    } else {
        vec![build_spec(&args, &cwd)?]
    };
    // Settings made with `pmr set app.key value` before the app existed.
    let specs: Vec<AppSpec> = specs
        .into_iter()
        .map(|mut s| {
            s.env.extend(super::app_conf::env_of(paths, &s.name));
            s
        })
        .collect();
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&Request::Start {
        apps: specs,
        force: args.force,
        update: false,
        reload: false,
    })?;
    report(&args.out, reply);
    Ok(ExitCode::SUCCESS)
}

/// `PMR_DEEP_MONITORING` (pm2's `PM2_DEEP_MONITORING`) set in the caller's
/// environment turns deep monitoring on for the apps a command starts.
pub(crate) fn deep_monitoring_env() -> bool {
    std::env::var("PMR_DEEP_MONITORING").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// The caller's environment, as apps inherit it (bucket keys left out).
pub(crate) fn shell_env() -> std::collections::BTreeMap<String, String> {
    // vars() would panic on a variable that is not UTF-8.
    std::env::vars_os()
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .filter(|(k, _)| !matches!(k.as_str(), "PMR_SECRET_KEY" | "PMR_PUBLIC_KEY"))
        .collect()
}

/// Starts the apps of an ecosystem file; apps already known by name take the
/// file's options and restart, as pm2 does.
pub(crate) fn start_file(
    paths: &Paths,
    file: &Path,
    only: &[String],
    env: Option<&str>,
    force: bool,
    reload: bool,
    out: &crate::cli::OutputArgs,
) -> anyhow::Result<ExitCode> {
    let loaded = crate::ecosystem::load(file, only, env, &shell_env())?;
    start_loaded(paths, loaded, force, reload, out)
}

/// Starts what a configuration holds; apps known by name take its options.
fn start_loaded(
    paths: &Paths,
    loaded: crate::ecosystem::Loaded,
    force: bool,
    reload: bool,
    out: &crate::cli::OutputArgs,
) -> anyhow::Result<ExitCode> {
    for w in &loaded.warnings {
        eprintln!("[PMR][WARN] {w}");
    }
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&Request::Start {
        apps: loaded.apps,
        force,
        update: true,
        reload,
    })?;
    report(out, reply);
    Ok(ExitCode::SUCCESS)
}

/// Milliseconds from `1500`, `500ms`, `2s`, `1m` or `1h`.
pub(crate) fn parse_ms(flag: &str, v: &str) -> anyhow::Result<u64> {
    let v = v.trim();
    let (num, mult) = if let Some(n) = v.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = v.strip_suffix('m') {
        (n, 60_000)
    } else if let Some(n) = v.strip_suffix('h') {
        (n, 3_600_000)
    } else {
        (v, 1)
    };
    let n: f64 = num
        .trim()
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .with_context(|| format!("--{flag}: {v:?} is not a duration (ms, or with s/m/h)"))?;
    if n < 0.0 {
        bail!("--{flag}: {v:?} is negative; give 0 or more (ms, or with s/m/h)");
    }
    Ok((n * mult as f64) as u64)
}

/// pm2's `-i`: a number, `max`/`0` for every CPU, negative for CPUs less n.
fn parse_instances(v: &str) -> anyhow::Result<u32> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let n: i64 = match v {
        "max" => 0,
        other => other
            .parse()
            .with_context(|| format!("-i/--instances: {other:?} is not a number or `max`"))?,
    };
    let n = if n <= 0 { cpus + n } else { n };
    Ok(n.max(1) as u32)
}

/// The interpreter pm2 would pick for this file.
pub(crate) fn interpreter_for(path: &Path) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let by_ext = match ext {
        "js" | "mjs" | "cjs" => Some("node"),
        "py" => Some("python3"),
        "sh" => Some("bash"),
        "rb" => Some("ruby"),
        "php" => Some("php"),
        "pl" => Some("perl"),
        "ts" | "tsx" => Some("bun"),
        _ => None,
    };
    if let Some(i) = by_ext {
        return i.to_string();
    }
    use std::os::unix::fs::PermissionsExt;
    let executable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0);
    if executable {
        "none".into()
    } else {
        "node".into()
    }
}

/// `program` looked up in `$PATH` (names with a slash are not).
pub(crate) fn find_in_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

fn stem(path: &str) -> String {
    let p = Path::new(path);
    p.file_stem()
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

fn absolute(cwd: &Path, p: &str) -> String {
    cwd.join(p).to_string_lossy().into_owned()
}

/// Turns `pmr start` options into an [`AppSpec`], resolving paths against `shell_cwd`.
pub fn build_spec(args: &StartArgs, shell_cwd: &Path) -> anyhow::Result<AppSpec> {
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
    match args.targets.first() {
        None => {
            // `pmr start -- cmd args`: run the command itself.
            let program = &args.rest[0];
            spec.script = find_in_path(program)
                .map(|p| p.to_string_lossy().into_owned())
                .or_else(|| cwd.join(program).is_file().then(|| absolute(&cwd, program)))
                .with_context(|| format!("command not found: {program}"))?;
            spec.args = args.rest[1..].to_vec();
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
                spec.script = target.clone();
                spec.interpreter = "bash".into();
                spec.interpreter_args = Some(vec!["-c".into()]);
                default_name = target.clone();
            } else if let Some(bin) = find_in_path(target) {
                spec.script = bin.to_string_lossy().into_owned();
                spec.interpreter = interpreter_for(&bin);
                default_name = stem(target);
            } else {
                bail!("Script not found: {}", file.display());
            }
            spec.args = args.rest.clone();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_ms("x", "1500").unwrap(), 1500);
        assert_eq!(parse_ms("x", "2s").unwrap(), 2000);
        assert_eq!(parse_ms("x", "250ms").unwrap(), 250);
        assert_eq!(parse_ms("x", "1m").unwrap(), 60_000);
        assert!(
            parse_ms("x", "soon")
                .unwrap_err()
                .to_string()
                .contains("--x")
        );
    }

    #[test]
    fn instances() {
        assert_eq!(parse_instances("4").unwrap(), 4);
        assert!(parse_instances("max").unwrap() >= 1);
        assert_eq!(parse_instances("-1000").unwrap(), 1);
        assert!(parse_instances("lots").is_err());
    }

    #[test]
    fn interpreters_by_extension() {
        assert_eq!(interpreter_for(Path::new("/x/app.js")), "node");
        assert_eq!(interpreter_for(Path::new("/x/app.py")), "python3");
        assert_eq!(interpreter_for(Path::new("/x/run.sh")), "bash");
    }
}
