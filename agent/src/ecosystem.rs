//! Ecosystem files: `ecosystem.config.{js,cjs,mjs}`, `.json`, `.yaml`/`.yml`
//! and `.toml`, with an `apps` array under pm2's option names.
//!
//! JavaScript is evaluated by the installed `node` (CommonJS and ESM alike,
//! through `import()`); the other formats are parsed here, and their errors
//! name the file, line and column. Unlike pm2, an unknown option is an error
//! that names it: a typo must not silently drop a setting.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use pmr_shared::app::AppSpec;
use serde_json::{Map, Value};

/// File names `pmr start` (without arguments) looks for, in order.
pub const DEFAULT_NAMES: &[&str] = &[
    "ecosystem.config.js",
    "ecosystem.config.cjs",
    "ecosystem.config.mjs",
    "ecosystem.config.json",
    "ecosystem.json",
    "ecosystem.config.yaml",
    "ecosystem.config.yml",
    "ecosystem.config.toml",
];

/// pm2 options pmr accepts but does not apply yet; named in a warning.
const NOT_YET: &[&str] = &["watch_options", "disable_logs", "force"];

/// Does this path name an ecosystem file (rather than a script)?
pub fn is_config_file(path: &str) -> bool {
    let name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("");
    name.ends_with(".json")
        || name.ends_with(".yaml")
        || name.ends_with(".yml")
        || name.ends_with(".toml")
        || name.ends_with(".config.js")
        || name.ends_with(".config.cjs")
        || name.ends_with(".config.mjs")
}

/// The default ecosystem file of `dir`, if there is one.
pub fn find_default(dir: &Path) -> Option<PathBuf> {
    DEFAULT_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// What a file yields for the daemon.
#[derive(Debug)]
pub struct Loaded {
    /// One spec per app, environment resolved.
    pub apps: Vec<AppSpec>,
    /// Options accepted but not applied yet.
    pub warnings: Vec<String>,
}

/// Where `line:column` of a byte offset is.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Reads the file into JSON, whatever its format.
pub fn read(path: &Path) -> anyhow::Result<Value> {
    let shown = path.display();
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if matches!(ext, "js" | "cjs" | "mjs") {
        return evaluate_js(path);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {shown}"))?;
    match ext {
        // pm2 reads .json files as JavaScript object literals (unquoted
        // keys, single quotes, comments): strict JSON first, then node.
        "json" => serde_json::from_str(&text).or_else(|e| {
            let strict = anyhow::anyhow!("{shown}:{}:{}: {e}", e.line(), e.column());
            evaluate_literal(path).map_err(|_| strict)
        }),
        "yaml" | "yml" => serde_norway::from_str(&text).map_err(|e| match e.location() {
            Some(l) => anyhow::anyhow!("{shown}:{}:{}: {e}", l.line(), l.column()),
            None => anyhow::anyhow!("{shown}: {e}"),
        }),
        "toml" => {
            let v: toml::Value = toml::from_str(&text).map_err(|e| match e.span() {
                Some(span) => {
                    let (l, c) = line_col(&text, span.start);
                    anyhow::anyhow!("{shown}:{l}:{c}: {}", e.message())
                }
                None => anyhow::anyhow!("{shown}: {e}"),
            })?;
            Ok(serde_json::to_value(v)?)
        }
        other => bail!(
            "{shown}: unknown ecosystem format .{other} (use .js, .cjs, .mjs, .json, .yaml, .yml or .toml)"
        ),
    }
}

/// Evaluates a `.json` file as a JavaScript object literal with `node`, as
/// pm2 reads them.
fn evaluate_literal(path: &Path) -> anyhow::Result<Value> {
    let script = "const t = require('fs').readFileSync(process.argv[1], 'utf8'); \
        process.stdout.write(JSON.stringify((0, eval)('(' + t + ')')))";
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(path)
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "not a JavaScript object literal either"
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Options pm2 takes as numbers even when written as strings (`"instances": "4"`).
const NUMERIC: [&str; 8] = [
    "instances",
    "max_restarts",
    "restart_delay",
    "kill_timeout",
    "listen_timeout",
    "exp_backoff_restart_delay",
    "min_uptime",
    "watch_delay",
];

/// Numbers written as strings become numbers, for the options that take them.
fn numbers_from_strings(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(t) if NUMERIC.contains(&k.as_str()) => t
                    .trim()
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| v.clone()),
                _ => v.clone(),
            };
            (k.clone(), v)
        })
        .collect()
}

/// Runs `node` to evaluate a JavaScript ecosystem file, CommonJS or ESM.
fn evaluate_js(path: &Path) -> anyhow::Result<Value> {
    let abs = std::path::absolute(path)?;
    // `require` first: it is faster than the ESM loader; ESM files (`.mjs`,
    // or `type: module`) refuse it with ERR_REQUIRE_ESM and go through `import`.
    let script = "const f = process.argv[1]; let p; \
        try { const r = require(f); \
        p = Promise.resolve(r && r[Symbol.toStringTag] === 'Module' ? r : { default: r }); } \
        catch (e) { if (!e || e.code !== 'ERR_REQUIRE_ESM') { p = Promise.reject(e); } \
        else { p = import(require('url').pathToFileURL(f).href); } } \
        p.then(m => { const c = (m.default !== undefined ? m.default : m); \
        process.stdout.write(JSON.stringify(typeof c === 'function' ? c() : c)); })\
        .catch(e => { process.stderr.write(String(e && e.stack || e)); process.exit(1); })";
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .arg(&abs)
        .current_dir(abs.parent().unwrap_or(Path::new("/")))
        .output()
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: JavaScript ecosystem files are evaluated by node, which cannot be run ({e}); install node or use .json, .yaml or .toml",
                path.display()
            )
        })?;
    if !out.status.success() {
        bail!(
            "{}: node could not load it:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    serde_json::from_slice(&out.stdout)
        .with_context(|| format!("{}: node printed no JSON config", path.display()))
}

struct Ctx<'a> {
    file: &'a str,
    app: String,
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
            Value::String(s) => crate::cli::parse_ms(key, s)
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

/// Loads `path` into specs: `only` keeps these app names, `env_name` picks
/// `env_<name>` blocks, `shell` is the caller's environment (the lowest layer).
pub fn load(
    path: &Path,
    only: &[String],
    env_name: Option<&str>,
    shell: &BTreeMap<String, String>,
) -> anyhow::Result<Loaded> {
    let root = read(path)?;
    let base_dir = std::path::absolute(path)?
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    load_value(
        root,
        &path.display().to_string(),
        &base_dir,
        only,
        env_name,
        shell,
    )
}

/// Loads a JSON configuration given on standard input (`pmr start -`, as
/// `cat all.json | pm2 start -`); relative paths start from `cwd`.
pub fn load_stdin(
    cwd: &Path,
    only: &[String],
    env_name: Option<&str>,
    shell: &BTreeMap<String, String>,
) -> anyhow::Result<Loaded> {
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
        .map_err(|e| anyhow::anyhow!("standard input: {e}"))?;
    let root: Value = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("standard input: not a JSON configuration: {e}"))?;
    load_value(root, "standard input", cwd, only, env_name, shell)
}

/// An entry of pm2's top-level `static` list (`{path, port, spa,
/// basic_auth: {username, password}, name}`) as the app that serves it.
fn static_app(file: &str, s: &Value) -> anyhow::Result<Value> {
    let Value::Object(m) = s else {
        bail!("{file}: static: expected an object with path and port, got {s}")
    };
    let port = m.get("port").cloned().unwrap_or(Value::from(8080));
    let name = match m.get("name") {
        Some(n) => n.clone(),
        None => Value::String(format!(
            "static-page-server-{}",
            port.to_string().trim_matches('"')
        )),
    };
    let auth = m.get("basic_auth");
    let env = serde_json::json!({
        "PMR_SERVE_PORT": port,
        "PMR_SERVE_PATH": m.get("path").cloned().unwrap_or(Value::from(".")),
        "PMR_SERVE_SPA": m.get("spa").map_or("false".into(), |v| v.to_string()),
        "PMR_SERVE_HOST": m.get("host").cloned().unwrap_or(Value::Null),
        "PMR_SERVE_HOMEPAGE": m.get("homepage").cloned().unwrap_or(Value::Null),
        "PMR_SERVE_BASIC_AUTH": auth.is_some().to_string(),
        "PMR_SERVE_BASIC_AUTH_USERNAME": auth.and_then(|a| a.get("username")).cloned().unwrap_or(Value::Null),
        "PMR_SERVE_BASIC_AUTH_PASSWORD": auth.and_then(|a| a.get("password")).cloned().unwrap_or(Value::Null),
    });
    Ok(serde_json::json!({"name": name, "script": "serve", "env": env}))
}

/// Loads a parsed configuration (`file` names it in errors).
fn load_value(
    root: Value,
    file: &str,
    base_dir: &Path,
    only: &[String],
    env_name: Option<&str>,
    shell: &BTreeMap<String, String>,
) -> anyhow::Result<Loaded> {
    let file = file.to_string();
    let statics = match root.get("static") {
        Some(Value::Array(s)) => s
            .iter()
            .map(|s| static_app(&file, s))
            .collect::<Result<Vec<_>, _>>()?,
        Some(other) => {
            bail!("{file}: static: expected a list of directories to serve, got {other}")
        }
        None => Vec::new(),
    };
    let mut apps = match &root {
        // pm2 also takes the list under `pm2`.
        Value::Object(m) => match m.get("apps").or_else(|| m.get("pm2")) {
            Some(Value::Array(a)) => a.clone(),
            Some(other) => bail!("{file}: apps: expected a list, got {other}"),
            None if !statics.is_empty() => Vec::new(),
            None => vec![root.clone()],
        },
        Value::Array(a) => a.clone(),
        other => bail!("{file}: expected an object with an apps list, got {other}"),
    };
    apps.extend(statics);
    if apps.is_empty() {
        bail!("{file}: the apps list is empty");
    }
    // `--env production` also takes `deploy.production.env`, below the apps' own.
    let deploy_env = env_name.and_then(|n| root.get("deploy")?.get(n)?.get("env"));
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, app) in apps.iter().enumerate() {
        let Value::Object(map) = app else {
            bail!("{file}: app {}: expected an object, got {app}", i + 1)
        };
        let map = &numbers_from_strings(map);
        let name = map.get("name").and_then(Value::as_str).map(String::from);
        if !only.is_empty() && !name.as_ref().is_some_and(|n| only.contains(n)) {
            continue;
        }
        let ctx = Ctx {
            file: &file,
            app: name.clone().unwrap_or_else(|| format!("#{}", i + 1)),
        };
        out.push(app_spec(
            &ctx,
            map,
            base_dir,
            (env_name, deploy_env),
            shell,
            &mut warnings,
        )?);
    }
    if out.is_empty() {
        bail!("{file}: no app matches --only {}", only.join(","));
    }
    Ok(Loaded {
        apps: out,
        warnings,
    })
}

fn app_spec(
    ctx: &Ctx<'_>,
    map: &Map<String, Value>,
    base_dir: &Path,
    (env_name, deploy_env): (Option<&str>, Option<&Value>),
    shell: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> anyhow::Result<AppSpec> {
    let mut s = AppSpec {
        deep_monitoring: crate::cli::deep_monitoring_env(),
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
        s.interpreter = crate::cli::interpreter_for(&path);
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
    } else if let Some(bin) = crate::cli::find_in_path(&script) {
        s.script = bin.to_string_lossy().into_owned();
        s.interpreter = crate::cli::interpreter_for(&bin);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(name: &str, text: &str, env: Option<&str>) -> anyhow::Result<Loaded> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.sh"), "sleep 1\n").unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let shell = BTreeMap::from([
            ("SHELL_VAR".to_string(), "from-shell".to_string()),
            ("MODE".to_string(), "shell".to_string()),
        ]);
        load(&p, &[], env, &shell)
    }

    #[test]
    fn env_layers_in_pm2_order() {
        let l = load_text(
            "e.json",
            r#"{"apps":[{"name":"a","script":"app.sh","env":{"MODE":"env","PORT":3000},"env_production":{"MODE":"prod"}}],
                "deploy":{"production":{"env":{"MODE":"deploy","FROM_DEPLOY":"yes","SHELL_VAR":"deploy"}},
                          "staging":{"env":{"STAGING":"no"}}}}"#,
            Some("production"),
        )
        .unwrap();
        let env = &l.apps[0].env;
        // deploy.production.env is above the shell, below env and env_production.
        assert_eq!(env["SHELL_VAR"], "deploy");
        assert_eq!(env["FROM_DEPLOY"], "yes");
        assert!(!env.contains_key("STAGING"));
        assert_eq!(env["MODE"], "prod");
        assert_eq!(env["PORT"], "3000");
        // Shown as the number it was written as (pm2's prettylist).
        assert_eq!(l.apps[0].typed_env, ["PORT".to_string()].into());
        let l = load_text(
            "e.json",
            r#"{"apps":[{"name":"a","script":"app.sh","env":{"MODE":"env"}}]}"#,
            None,
        )
        .unwrap();
        assert_eq!(l.apps[0].env["MODE"], "env");
    }

    #[test]
    fn errors_name_file_line_column_and_option() {
        let e = load_text("e.json", "{\"apps\": [\n  {\"name\": \"a\",, }\n]}", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("e.json:2:"), "{e}");
        let e = load_text(
            "e.yaml",
            "apps:\n  - name: a\n    script: [unclosed\n",
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("e.yaml:"), "{e}");
        let e = load_text("e.toml", "[[apps]]\nname = \"a\"\nscript = \n", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("e.toml:3:"), "{e}");
        // pm2 ignores unknown options: a warning that names it, not a refusal.
        let l = load_text(
            "e.json",
            r#"{"apps":[{"name":"a","script":"app.sh","max_restart":3}]}"#,
            None,
        )
        .unwrap();
        assert!(
            l.warnings[0].contains("unknown option \"max_restart\" ignored"),
            "{:?}",
            l.warnings
        );
        // pm2's habits in .json files: numbers as strings, a `pm2` list,
        // JavaScript object literals.
        let l = load_text(
            "e.json",
            "{pm2: [{name: 'a', script: 'app.sh', instances: \"3\", // three\n max_restarts: '4'}]}",
            None,
        )
        .unwrap();
        assert_eq!((l.apps[0].instances, l.apps[0].max_restarts), (3, 4));
        let e = load_text(
            "e.json",
            r#"{"apps":[{"name":"a","script":"app.sh","instances":true}]}"#,
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("option instances") && e.contains("true"), "{e}");
    }

    #[test]
    fn filter_env_and_not_yet_options() {
        let l = load_text(
            "e.yml",
            "apps:\n  - name: a\n    script: app.sh\n    filter_env: [SHELL]\n    watch_options: {}\n    watch: true\n",
            None,
        )
        .unwrap();
        assert!(!l.apps[0].env.contains_key("SHELL_VAR"));
        assert!(l.apps[0].env.contains_key("MODE"));
        assert!(l.warnings[0].contains("watch_options"), "{:?}", l.warnings);
        assert_eq!(
            l.apps[0].watch.len(),
            1,
            "watch: true watches the app's directory"
        );
    }
}
