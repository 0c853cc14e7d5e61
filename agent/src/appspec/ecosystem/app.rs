//! One app of an ecosystem file, under pm2's option names, as an
//! [`AppSpec`]: types checked, paths resolved against the file's
//! directory, environments layered (`shell` < `env` < `env_<name>`).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::bail;
use pmr_shared::app::AppSpec;
use serde_json::{Map, Value};

/// pm2 options pmr accepts but does not apply yet; named in a warning.
const NOT_YET: &[&str] = &["watch_options", "disable_logs", "force"];

/// Where an option came from, for errors that name it.
pub(super) struct Ctx<'a> {
    pub(super) file: &'a str,
    pub(super) app: String,
}

impl Ctx<'_> {
    fn err(&self, key: &str, wanted: &str, got: &Value) -> anyhow::Error {
        anyhow::anyhow!(
            "{}: app {}: option {key}: expected {wanted}, got {got}",
            self.file,
            self.app
        )
    }

    fn string(&self, key: &str, v: &Value) -> anyhow::Result<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(self.err(key, "a string", other)),
        }
    }

    fn boolean(&self, key: &str, v: &Value) -> anyhow::Result<bool> {
        v.as_bool().ok_or_else(|| self.err(key, "true or false", v))
    }

    fn count(&self, key: &str, v: &Value) -> anyhow::Result<u32> {
        v.as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.err(key, "a whole number", v))
    }

    fn millis(&self, key: &str, v: &Value) -> anyhow::Result<u64> {
        match v {
            Value::Number(n) => n
                .as_f64()
                .filter(|f| *f >= 0.0)
                .map(|f| f as u64)
                .ok_or_else(|| self.err(key, "milliseconds", v)),
            Value::String(s) => crate::appspec::parse_ms(key, s)
                .map_err(|_| self.err(key, "milliseconds or 1s/2m/1h", v)),
            other => Err(self.err(key, "milliseconds", other)),
        }
    }

    fn strings(&self, key: &str, v: &Value) -> anyhow::Result<Vec<String>> {
        match v {
            Value::String(s) => Ok(s.split_whitespace().map(String::from).collect()),
            Value::Array(items) => items.iter().map(|i| self.string(key, i)).collect(),
            other => Err(self.err(key, "a string or a list", other)),
        }
    }

    fn env(&self, key: &str, v: &Value) -> anyhow::Result<BTreeMap<String, String>> {
        let Value::Object(m) = v else {
            return Err(self.err(key, "an object of variables", v));
        };
        Ok(m.iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    // pm2 turns nested objects into JSON strings; so do we.
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect())
    }
}

/// The variables of an `env` object given as numbers or booleans.
fn typed(v: &Value) -> std::collections::BTreeSet<String> {
    v.as_object()
        .into_iter()
        .flatten()
        .filter(|(_, v)| v.is_number() || v.is_boolean())
        .map(|(k, _)| k.clone())
        .collect()
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
    let mut s = AppSpec {
        deep_monitoring: crate::appspec::deep_monitoring_env(),
        ..AppSpec::default()
    };
    let mut script = None;
    let mut interpreter = None;
    let mut env = BTreeMap::new();
    let mut named_env = None;
    let mut filter: Option<Value> = None;
    let mut merge = None;
    let mut append_env = false;
    let mut log_file = None;
    let mut cwd = base_dir.to_path_buf();
    let mut watch: Option<Vec<String>> = None;
    let mut exec_mode: Option<&str> = None;
    let mut instances_given = false;
    // Options apply in name order, whatever order the file has (`env`
    // before `port`, which adds to it).
    let mut options: Vec<(&String, &Value)> = map.iter().collect();
    options.sort_by_key(|(k, _)| k.as_str());
    for (key, v) in options {
        match key.as_str() {
            "name" => s.name = ctx.string(key, v)?,
            "script" | "exec" | "cmd" | "command" => script = Some(ctx.string(key, v)?),
            "args" => s.args = ctx.strings(key, v)?,
            "interpreter" | "exec_interpreter" => interpreter = Some(ctx.string(key, v)?),
            "interpreter_args" | "node_args" | "interpreterArgs" => {
                s.interpreter_args = Some(ctx.strings(key, v)?)
            }
            "cwd" => cwd = base_dir.join(ctx.string(key, v)?),
            "instances" => {
                instances_given = true;
                s.instances = match v {
                    Value::String(t) if t == "max" => 0,
                    Value::Number(n) if n.as_i64().is_some() => {
                        let cpus =
                            std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
                        let n = n.as_i64().unwrap_or(1);
                        (if n <= 0 { cpus + n } else { n }).max(1) as u32
                    }
                    other => return Err(ctx.err(key, "a number or \"max\"", other)),
                };
                if s.instances == 0 {
                    s.instances =
                        std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
                }
            }
            "exec_mode" => {
                let m = ctx.string(key, v)?;
                // An explicit mode wins over the one `instances` implies.
                exec_mode = Some(match m.trim_end_matches("_mode") {
                    "fork" => "fork_mode",
                    "cluster" => "cluster_mode",
                    _ => return Err(ctx.err(key, "fork or cluster", v)),
                });
            }
            "env" => {
                env = ctx.env(key, v)?;
                s.typed_env = typed(v);
            }
            k if k.starts_with("env_") => {
                if env_name.is_some_and(|n| k == format!("env_{n}")) {
                    named_env = Some((ctx.env(key, v)?, typed(v)));
                } else {
                    ctx.env(key, v)?;
                }
            }
            "log_date_format" => s.log_date_format = Some(ctx.string(key, v)?),
            "time" => s.time = ctx.boolean(key, v)?,
            "error_file" | "err_file" | "error" | "err" | "err_log" => {
                s.error_file = Some(ctx.string(key, v)?)
            }
            "out_file" | "out" | "output" | "out_log" => s.out_file = Some(ctx.string(key, v)?),
            "log_file" | "log" => log_file = Some(v.clone()),
            "merge_logs" | "combine_logs" => merge = Some(ctx.boolean(key, v)?),
            "pid_file" | "pid" => s.pid_file = Some(ctx.string(key, v)?),
            "min_uptime" => s.min_uptime = ctx.millis(key, v)?,
            "max_restarts" => s.max_restarts = ctx.count(key, v)?,
            "restart_delay" => s.restart_delay = ctx.millis(key, v)?,
            "exp_backoff_restart_delay" => s.exp_backoff_restart_delay = ctx.millis(key, v)?,
            "autorestart" => s.autorestart = ctx.boolean(key, v)?,
            "autostart" => s.autostart = ctx.boolean(key, v)?,
            "shared_port" => s.shared_port = ctx.boolean(key, v)?,
            "post_update" => s.post_update = ctx.strings(key, v)?,
            "wait_ready" => s.wait_ready = ctx.boolean(key, v)?,
            "listen_timeout" => s.listen_timeout = ctx.millis(key, v)?,
            "shutdown_with_message" => s.shutdown_with_message = ctx.boolean(key, v)?,
            "kill_timeout" => s.kill_timeout = ctx.millis(key, v)?,
            "kill_signal" => {
                let sig = ctx.string(key, v)?.to_ascii_uppercase();
                s.kill_signal = if sig.starts_with("SIG") {
                    sig
                } else {
                    format!("SIG{sig}")
                };
            }
            "stop_exit_codes" => {
                s.stop_exit_codes = match v {
                    Value::Number(n) => {
                        vec![n.as_i64().ok_or_else(|| ctx.err(key, "exit codes", v))? as i32]
                    }
                    Value::Array(a) => a
                        .iter()
                        .map(|c| {
                            c.as_i64()
                                .map(|c| c as i32)
                                .ok_or_else(|| ctx.err(key, "exit codes", v))
                        })
                        .collect::<anyhow::Result<_>>()?,
                    other => return Err(ctx.err(key, "an exit code or a list", other)),
                }
            }
            "namespace" => s.namespace = ctx.string(key, v)?,
            "instance_var" => s.instance_var = ctx.string(key, v)?,
            "increment_var" => s.increment_var = Some(ctx.string(key, v)?),
            "filter_env" => filter = Some(v.clone()),
            "append_env_to_name" => append_env = ctx.boolean(key, v)?,
            "vizion" => s.vizion = ctx.boolean(key, v)?,
            "source_map_support" => s.disable_source_map_support = !ctx.boolean(key, v)?,
            "disable_source_map_support" => {
                s.disable_source_map_support = ctx.boolean(key, v)?;
            }
            "pmx" => s.pmx = ctx.boolean(key, v)?,
            "deep_monitoring" | "trace" => s.deep_monitoring |= ctx.boolean(key, v)?,
            "automation" => s.automation = ctx.boolean(key, v)?,
            "treekill" => s.treekill = ctx.boolean(key, v)?,
            "watch" => {
                watch = match v {
                    Value::Bool(b) => b.then(Vec::new),
                    other => Some(ctx.strings(key, other)?),
                }
            }
            "ignore_watch" => s.ignore_watch = ctx.strings(key, v)?,
            "watch_delay" => s.watch_delay = ctx.millis(key, v)?,
            "log_type" => {
                let t = ctx.string(key, v)?;
                if t != "json" && t != "raw" {
                    return Err(ctx.err(key, "json or raw", v));
                }
                s.log_type = (t == "json").then_some(t);
            }
            "cron_restart" | "cron" => {
                let pattern = ctx.string(key, v)?;
                // pm2: "0" (or false) means no cron restart.
                s.cron_restart = (pattern != "0").then_some(pattern);
            }
            "max_memory_restart" => {
                s.max_memory_restart = Some(match v {
                    Value::Number(n) => n
                        .as_u64()
                        .ok_or_else(|| ctx.err(key, "bytes or 100M/1G", v))?,
                    Value::String(t) => pmr_shared::app::parse_bytes(t)
                        .ok_or_else(|| ctx.err(key, "bytes or 100M/1G", v))?,
                    other => return Err(ctx.err(key, "bytes or 100M/1G", other)),
                })
            }
            "port" => {
                let port = match v {
                    Value::Number(n) => n.as_u64().filter(|p| (1..=65535).contains(p)),
                    Value::String(t) => t.trim().parse::<u16>().ok().map(u64::from),
                    _ => None,
                }
                .filter(|p| *p > 0)
                .ok_or_else(|| ctx.err(key, "a port number (1-65535)", v))?;
                env.insert("PORT".into(), port.to_string());
                s.typed_env.insert("PORT".into());
            }
            k if NOT_YET.contains(&k) => {
                warnings.push(format!(
                    "{}: app {}: option {k} is not supported yet and was ignored",
                    ctx.file, ctx.app
                ));
            }
            // pm2 ignores what it does not know; say so, do not refuse.
            other => warnings.push(format!(
                "{}: app {}: unknown option {other:?} ignored",
                ctx.file, ctx.app
            )),
        }
    }
    // Environment, lowest first: the caller's shell (filtered),
    // deploy.<name>.env, env, env_<name> (pm2's order).
    let mut full: BTreeMap<String, String> = match &filter {
        Some(Value::Bool(true)) => BTreeMap::new(),
        Some(Value::Bool(false)) | None => shell.clone(),
        Some(f) => {
            let drop = ctx.strings("filter_env", f)?;
            shell
                .iter()
                .filter(|(k, _)| !drop.iter().any(|d| k.starts_with(d.as_str())))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }
    };
    let port_asked = env.contains_key("PORT");
    if let Some(d) = deploy_env {
        let deploy = ctx.env("deploy.env", d)?;
        let typed_deploy = typed(d);
        s.typed_env = typed_deploy
            .into_iter()
            .filter(|k| !env.contains_key(k))
            .chain(std::mem::take(&mut s.typed_env))
            .collect();
        full.extend(deploy);
    }
    full.extend(env);
    if let Some((n, typed)) = named_env {
        s.typed_env.retain(|k| !n.contains_key(k));
        s.typed_env.extend(typed);
        full.extend(n);
    }
    full.retain(|k, _| !matches!(k.as_str(), "PMR_SECRET_KEY" | "PMR_PUBLIC_KEY"));
    s.env = full;
    if !cwd.is_dir() {
        bail!(
            "{}: app {}: cwd {} is not a directory",
            ctx.file,
            ctx.app,
            cwd.display()
        );
    }
    let script =
        script.ok_or_else(|| anyhow::anyhow!("{}: app {}: no script", ctx.file, ctx.app))?;
    let path = cwd.join(&script);
    if path.is_file() {
        s.script = path.to_string_lossy().into_owned();
        s.interpreter = crate::appspec::interpreter_for(&path);
    } else if script.contains(' ') {
        s.script = script.clone();
        s.interpreter = "bash".into();
        s.interpreter_args = Some(vec!["-c".into()]);
    } else if script == "serve" {
        // pm2's static file server (`pmr serve`), shipped with pmr.
        let home = crate::paths::Paths::from_env()?.home;
        s.script = crate::supervisor::node::serve_script(&home)
            .to_string_lossy()
            .into_owned();
        s.interpreter = "node".into();
    } else if let Some(bin) = crate::appspec::find_in_path(&script) {
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
    if let Some(i) = interpreter {
        s.interpreter = i;
    }
    if s.name.is_empty() {
        s.name = Path::new(&script)
            .file_stem()
            .map_or(script.clone(), |n| n.to_string_lossy().into_owned());
    }
    if append_env && let Some(n) = env_name {
        s.name = format!("{}-{n}", s.name);
    }
    s.cwd = cwd.to_string_lossy().into_owned();
    let abs = |p: &str| {
        if crate::supervisor::logs::is_null_path(p) {
            p.to_string()
        } else {
            cwd.join(p).to_string_lossy().into_owned()
        }
    };
    s.out_file = s.out_file.as_deref().map(abs);
    s.error_file = s.error_file.as_deref().map(abs);
    s.pid_file = s.pid_file.as_deref().map(abs);
    s.log_file = match log_file {
        None | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(
            crate::paths::Paths::from_env()?
                .logs_dir()
                .join(format!("{}.log", crate::paths::file_safe_name(&s.name)))
                .to_string_lossy()
                .into_owned(),
        ),
        Some(v) => Some(abs(&ctx.string("log_file", &v)?)),
    };
    // As pm2, `instances` means cluster mode for Node; for other languages
    // only with more than one instance and a port to share (`port`, or
    // `exec_mode: cluster`): otherwise they run in fork mode, as under pm2.
    let implied = instances_given
        && (crate::supervisor::node::is_node(&s) || (s.instances > 1 && port_asked));
    if let Some(m) = exec_mode.or(implied.then_some("cluster_mode")) {
        s.exec_mode = m.into();
    }
    s.merge_logs = merge.unwrap_or(s.instances == 1);
    if let Some(paths) = watch {
        s.watch = if paths.is_empty() {
            vec![s.cwd.clone()]
        } else {
            paths.iter().map(|p| abs(p)).collect()
        };
    }
    Ok(s)
}
