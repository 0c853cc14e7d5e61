//! One app of an ecosystem file, under pm2's option names, as an
//! [`AppSpec`]: serde reads the options and checks their values
//! ([`options`], [`loose`]); here paths are resolved against the file's
//! directory, the script found, and environments layered (`shell` <
//! `deploy.<name>.env` < `env` < `env_<name>`).

mod env;
mod loose;
mod options;

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;
use pmr_shared::app::AppSpec;
use serde_json::{Map, Value};

use env::layered_env;
use loose::{LogFile, Vars};
use options::Pm2App;

/// pm2 options pmr accepts but does not apply yet; named in a warning.
const NOT_YET: &[&str] = &["watch_options", "disable_logs", "force"];

/// Where an option came from, for errors that name it.
pub(super) struct Ctx<'a> {
    /// The file as the user named it (or "standard input").
    pub(super) file: &'a str,
    /// The app's name, or `#n` for an entry without one.
    pub(super) app: String,
}

impl Ctx<'_> {
    /// An error about option `key`: `what` says what was wrong with it.
    fn option(&self, key: &str, what: &str) -> anyhow::Error {
        anyhow::anyhow!("{}: app {}: option {key}: {what}", self.file, self.app)
    }
}

/// The spec of one app entry (`map`) of the file.
pub(super) fn app_spec(
    ctx: &Ctx<'_>,
    map: &Map<String, Value>,
    base_dir: &Path,
    (env_name, deploy_env): (Option<&str>, Option<&Value>),
    shell: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<AppSpec> {
    let mut o = Pm2App::read(map).map_err(|(key, what)| ctx.option(&key, &what))?;
    let named_env = other_options(ctx, &o.other, env_name, warnings)?;
    let instances_given = o.instances.is_some();
    let mut s = plain(&mut o);
    let mut env = o.env.unwrap_or_default();
    if let Some(port) = o.port {
        env.vars.insert("PORT".into(), port.to_string());
        env.typed.insert("PORT".into());
    }
    let port_asked = env.vars.contains_key("PORT");
    s.env = layered_env(ctx, &mut s, shell, o.filter_env, deploy_env, env, named_env)?;
    let cwd = o
        .cwd
        .map_or_else(|| base_dir.to_path_buf(), |c| base_dir.join(c));
    if !cwd.is_dir() {
        bail!(
            "{}: app {}: cwd {} is not a directory",
            ctx.file,
            ctx.app,
            cwd.display()
        );
    }
    let script = o
        .script
        .ok_or_else(|| anyhow::anyhow!("{}: app {}: no script", ctx.file, ctx.app))?;
    resolve_script(ctx, &mut s, &cwd, &script)?;
    if let Some(i) = o.interpreter {
        s.interpreter = i;
    }
    if s.name.is_empty() {
        s.name = crate::appspec::stem(&script);
    }
    if o.append_env_to_name == Some(true)
        && let Some(n) = env_name
    {
        s.name = format!("{}-{n}", s.name);
    }
    s.cwd = cwd.to_string_lossy().into_owned();
    // As pm2, `instances` means cluster mode for Node; for other languages
    // only with more than one instance and a port to share (`port`, or
    // `exec_mode: cluster`): otherwise they run in fork mode, as under pm2.
    let implied = instances_given && (crate::node::is_node(&s) || (s.instances > 1 && port_asked));
    if let Some(m) = o.exec_mode.or(implied.then(|| "cluster_mode".into())) {
        s.exec_mode = m;
    }
    s.merge_logs = o.merge_logs.unwrap_or(s.instances == 1);
    under_cwd(&mut s, &cwd, o.log_file, o.watch.flatten())?;
    Ok(s)
}

/// The app's files under its directory (`NULL`/`/dev/null` kept as they
/// are): logs, pid file, the combined log (`true`: the default one, named
/// after the app), and the watched paths (none named: the directory).
fn under_cwd(
    s: &mut AppSpec,
    cwd: &Path,
    log_file: Option<LogFile>,
    watch: Option<Vec<String>>,
) -> anyhow::Result<()> {
    let abs = |p: &str| {
        if crate::logs::is_null_path(p) {
            p.to_string()
        } else {
            cwd.join(p).to_string_lossy().into_owned()
        }
    };
    s.out_file = s.out_file.as_deref().map(abs);
    s.error_file = s.error_file.as_deref().map(abs);
    s.pid_file = s.pid_file.as_deref().map(abs);
    s.log_file = match log_file {
        None | Some(LogFile::Off) => None,
        Some(LogFile::Default) => Some(
            crate::paths::Paths::from_env()?
                .logs_dir()
                .join(format!("{}.log", crate::paths::file_safe_name(&s.name)))
                .to_string_lossy()
                .into_owned(),
        ),
        Some(LogFile::At(p)) => Some(abs(&p)),
    };
    if let Some(paths) = watch {
        s.watch = if paths.is_empty() {
            vec![s.cwd.clone()]
        } else {
            paths.iter().map(|p| abs(p)).collect()
        };
    }
    Ok(())
}

/// The options that go into the spec as they are (defaults for those
/// absent); what needs the app's directory, the script or the
/// environment is done by [`app_spec`].
fn plain(o: &mut Pm2App) -> AppSpec {
    let d = AppSpec::default();
    AppSpec {
        name: o.name.take().unwrap_or_default(),
        args: o.args.take().unwrap_or_default(),
        interpreter_args: o.interpreter_args.take(),
        instances: o.instances.take().unwrap_or(d.instances),
        log_date_format: o.log_date_format.take(),
        time: o.time.take().unwrap_or(d.time),
        error_file: o.error_file.take(),
        out_file: o.out_file.take(),
        pid_file: o.pid_file.take(),
        log_type: o.log_type.take().unwrap_or(d.log_type),
        min_uptime: o.min_uptime.take().unwrap_or(d.min_uptime),
        max_restarts: o.max_restarts.take().unwrap_or(d.max_restarts),
        restart_delay: o.restart_delay.take().unwrap_or(d.restart_delay),
        exp_backoff_restart_delay: o
            .exp_backoff_restart_delay
            .unwrap_or(d.exp_backoff_restart_delay),
        autorestart: o.autorestart.take().unwrap_or(d.autorestart),
        autostart: o.autostart.take().unwrap_or(d.autostart),
        cron_restart: o.cron_restart.take().unwrap_or(d.cron_restart),
        max_memory_restart: o.max_memory_restart.take().or(d.max_memory_restart),
        post_update: o.post_update.take().unwrap_or(d.post_update),
        shared_port: o.shared_port.take().unwrap_or(d.shared_port),
        wait_ready: o.wait_ready.take().unwrap_or(d.wait_ready),
        listen_timeout: o.listen_timeout.take().unwrap_or(d.listen_timeout),
        shutdown_with_message: o
            .shutdown_with_message
            .take()
            .unwrap_or(d.shutdown_with_message),
        kill_timeout: o.kill_timeout.take().unwrap_or(d.kill_timeout),
        kill_signal: o.kill_signal.take().unwrap_or(d.kill_signal),
        stop_exit_codes: o.stop_exit_codes.take().unwrap_or(d.stop_exit_codes),
        treekill: o.treekill.take().unwrap_or(d.treekill),
        namespace: o.namespace.take().unwrap_or(d.namespace),
        instance_var: o.instance_var.take().unwrap_or(d.instance_var),
        increment_var: o.increment_var.take(),
        ignore_watch: o.ignore_watch.take().unwrap_or(d.ignore_watch),
        watch_delay: o.watch_delay.take().unwrap_or(d.watch_delay),
        vizion: o.vizion.take().unwrap_or(d.vizion),
        // `source_map_support` wins over `disable_source_map_support`.
        disable_source_map_support: o
            .source_map_support
            .map(|on| !on)
            .or(o.disable_source_map_support.take())
            .unwrap_or(d.disable_source_map_support),
        pmx: o.pmx.take().unwrap_or(d.pmx),
        deep_monitoring: crate::appspec::deep_monitoring_env()
            || o.deep_monitoring.take() == Some(true)
            || o.trace.take() == Some(true),
        automation: o.automation.take().unwrap_or(d.automation),
        ..d
    }
}

/// The options serde did not take: every `env_<name>` block is checked and
/// the one `--env` names returned; the rest are warned about, in name order.
fn other_options(
    ctx: &Ctx<'_>,
    other: &Map<String, Value>,
    env_name: Option<&str>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<Option<Vars>> {
    let mut named = None;
    let mut keys: Vec<&String> = other.keys().collect();
    keys.sort();
    for key in keys {
        if let Some(name) = key.strip_prefix("env_") {
            let vars = loose::vars(&other[key]).map_err(|what| ctx.option(key, &what))?;
            if env_name == Some(name) {
                named = Some(vars);
            }
        } else if NOT_YET.contains(&key.as_str()) {
            warnings.push(format!(
                "{}: app {}: option {key} is not supported yet and was ignored",
                ctx.file, ctx.app
            ));
        } else {
            // pm2 ignores what it does not know; say so, do not refuse.
            warnings.push(format!(
                "{}: app {}: unknown option {key:?} ignored",
                ctx.file, ctx.app
            ));
        }
    }
    Ok(named)
}

/// Finds the script as pm2 does: a file under `cwd`, a shell command (it
/// has a space), pmr's static server (`serve`), or a program on `PATH`.
fn resolve_script(ctx: &Ctx<'_>, s: &mut AppSpec, cwd: &Path, script: &str) -> anyhow::Result<()> {
    let path = cwd.join(script);
    if path.is_file() {
        s.script = path.to_string_lossy().into_owned();
        s.interpreter = crate::appspec::interpreter_for(&path);
    } else if script.contains(' ') {
        s.script = script.to_string();
        s.interpreter = "bash".into();
        s.interpreter_args = Some(vec!["-c".into()]);
    } else if script == "serve" {
        // pm2's static file server (`pmr serve`), shipped with pmr.
        let home = crate::paths::Paths::from_env()?.home;
        s.script = crate::node::serve_script(&home)
            .to_string_lossy()
            .into_owned();
        s.interpreter = "node".into();
    } else if let Some(bin) = crate::appspec::find_in_path(script) {
        s.script = bin.to_string_lossy().into_owned();
        s.interpreter = crate::appspec::interpreter_for(&bin);
    } else {
        bail!(
            "{}: app {}: script not found: {}",
            ctx.file,
            ctx.app,
            path.display()
        );
    }
    Ok(())
}
