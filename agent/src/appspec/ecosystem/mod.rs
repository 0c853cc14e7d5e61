//! Ecosystem files: `ecosystem.config.{js,cjs,mjs}`, `.json`, `.yaml`/`.yml`
//! and `.toml`, with an `apps` array under pm2's option names.
//!
//! JavaScript is evaluated by the installed `node` (CommonJS and ESM alike,
//! through `import()`); the other formats are parsed here, and their errors
//! name the file, line and column. As in pm2, an unknown option is a
//! warning, not an error; unlike pm2, the warning names the option and the
//! app, so a typo does not silently drop a setting.

mod app;
mod read;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use pmr_shared::app::AppSpec;
use serde_json::Value;

use app::{Ctx, app_spec};
pub use read::read;

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
