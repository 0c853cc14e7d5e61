//! pm2's per-app settings: `set app.key value`, `unset app`, `multiset
//! "app.key value ..."`. Values live in `$PMR_HOME/module_conf.json` (pm2's
//! file name); an app gets them in its environment, each key as a variable
//! and all of them as JSON in a variable named after the app, as pm2 does,
//! and a running app restarts to take them.
//!
//! The file is the CLI's alone (the daemon never reads it): `start` merges
//! an app's settings into the spec it sends, and `set` restarts the app with
//! them as `update_env`.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::Context;
use pmr_shared::ipc::{Action, ErrorKind, Request};
use serde_json::{Map, Value};

use crate::cli::Client;
use crate::cli::client::refused_as_or_said;
use crate::paths::Paths;

/// The file's shape: app name → its settings (values as pm2 stores them).
type Conf = BTreeMap<String, Map<String, Value>>;

/// `$PMR_HOME/module_conf.json`.
fn file(paths: &Paths) -> std::path::PathBuf {
    paths.home.join("module_conf.json")
}

/// The settings on disk; none yet is an empty table, a broken file an error
/// (so `set` never overwrites settings it could not read).
fn load(paths: &Paths) -> anyhow::Result<Conf> {
    match std::fs::read_to_string(file(paths)) {
        Ok(t) => {
            serde_json::from_str(&t).with_context(|| format!("{}: not JSON", file(paths).display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Conf::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", file(paths).display())),
    }
}

/// Replaces the file through a rename, so a reader never sees half of it.
/// Read-modify-write without a lock: two `set`s at once may lose one.
fn save(paths: &Paths, conf: &Conf) -> anyhow::Result<()> {
    std::fs::create_dir_all(&paths.home)?;
    let tmp = paths.home.join("module_conf.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(conf)?)?;
    std::fs::rename(&tmp, file(paths))?;
    Ok(())
}

/// Every app's settings, for `get` and `conf`.
pub(crate) fn all(paths: &Paths) -> anyhow::Result<Map<String, Value>> {
    Ok(load(paths)?
        .into_iter()
        .map(|(app, values)| (app, Value::Object(values)))
        .collect())
}

/// One app setting (`app.key`), if set.
pub(crate) fn get(paths: &Paths, key: &str) -> anyhow::Result<Option<String>> {
    let Some((app, k)) = key.split_once('.') else {
        anyhow::bail!("{key}: a setting is app.key, pmr:logrotate.<key> or pm2-logrotate:<key>");
    };
    let conf = load(paths)?;
    Ok(conf
        .get(app)
        .and_then(|m| m.get(k))
        .map(|v| v.as_str().map_or_else(|| v.to_string(), String::from)))
}

/// Whether `key` is an app's setting (`app.key`), not one of pmr's (`pmr:...`).
pub(crate) fn is_app_key(key: &str) -> bool {
    !key.starts_with("pmr:")
        && key
            .split_once('.')
            .is_some_and(|(a, k)| !a.is_empty() && !k.is_empty())
}

/// The variables an app's settings give it: each key as a variable, and
/// all of them as one JSON object under the app's name. An unreadable file
/// gives none, so a broken file never stops `start`.
pub(crate) fn env_of(paths: &Paths, app: &str) -> BTreeMap<String, String> {
    let Ok(conf) = load(paths) else {
        return BTreeMap::new();
    };
    let Some(values) = conf.get(app) else {
        return BTreeMap::new();
    };
    let mut env: BTreeMap<String, String> = values
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), String::from),
            )
        })
        .collect();
    env.insert(app.to_string(), Value::Object(values.clone()).to_string());
    env
}

/// Restarts `app` with its settings, if it is known to a running daemon.
fn apply(paths: &Paths, app: &str) -> anyhow::Result<()> {
    let Some(mut c) = Client::connect(paths)? else {
        return Ok(());
    };
    let req = Request::Act {
        action: Action::Restart,
        targets: vec![app.to_string()],
        update_env: Some(env_of(paths, app)),
        watch: false,
        options: None,
        by: None,
    };
    match c.request(&req) {
        Ok(_) => Ok(()),
        // Not started yet: it takes the settings when it starts.
        Err(e) if refused_as_or_said(&e, ErrorKind::NotFound, "not found") => Ok(()),
        Err(e) => Err(e),
    }
}

/// `set app.key value` (and each pair of `multiset`).
pub(crate) fn set(paths: &Paths, pairs: &[(String, String)]) -> anyhow::Result<ExitCode> {
    let mut conf = load(paths)?;
    let mut apps = Vec::new();
    for (key, value) in pairs {
        let (app, k) = key.split_once('.').context("a setting is app.key")?;
        conf.entry(app.to_string())
            .or_default()
            .insert(k.to_string(), Value::String(value.clone()));
        println!("[PMR] {app}.{k} = {value}");
        if !apps.contains(&app.to_string()) {
            apps.push(app.to_string());
        }
    }
    save(paths, &conf)?;
    for app in apps {
        apply(paths, &app)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `multiset "app.key value app.key2 value2"`.
pub(crate) fn multiset(paths: &Paths, text: &str) -> anyhow::Result<ExitCode> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() || !words.len().is_multiple_of(2) {
        anyhow::bail!("multiset takes pairs: \"app.key value app.key2 value2\"");
    }
    let pairs: Vec<(String, String)> = words
        .chunks(2)
        .map(|p| (p[0].to_string(), p[1].to_string()))
        .collect();
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !is_app_key(k)) {
        anyhow::bail!("{k}: a setting is app.key");
    }
    set(paths, &pairs)
}

/// `unset app` (every setting of the app) or `unset app.key`. Unlike `set`,
/// it restarts nothing: a running app keeps the variables until it restarts.
pub(crate) fn unset(paths: &Paths, what: &str) -> anyhow::Result<ExitCode> {
    let mut conf = load(paths)?;
    match what.split_once('.') {
        Some((app, k)) => {
            if let Some(m) = conf.get_mut(app) {
                m.remove(k);
            }
        }
        None => {
            conf.remove(what);
        }
    }
    save(paths, &conf)?;
    println!("[PMR] {what} unset");
    Ok(ExitCode::SUCCESS)
}
