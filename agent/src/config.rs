//! `$PMR_HOME/config.toml`: the daemon's own settings (log rotation for
//! now), edited by hand or with `pmr set pmr:logrotate.max_size 10M`.
//!
//! The CLI checks and writes the file; the daemon reads it at start
//! ([`load`], then [`apply`]) and again when `set` asks it to. pm2-logrotate's
//! keys are accepted as aliases, so existing `pm2 set` scripts keep working.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::logs::rotate::RotateConfig;
use crate::paths::Paths;

/// Everything in `config.toml`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Built-in log rotation.
    pub logrotate: RotateConfig,
}

/// Reads the settings (defaults when the file is absent); errors name the line.
pub fn load(paths: &Paths) -> anyhow::Result<Config> {
    let path = paths.home.join("config.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Puts the settings in force in this process.
pub fn apply(cfg: &Config) -> anyhow::Result<()> {
    crate::logs::rotate::configure(cfg.logrotate.clone()).map_err(anyhow::Error::msg)
}

/// The rotation settings, by their names in `config.toml`.
pub const ROTATE_KEYS: [&str; 8] = [
    "max_size",
    "retain",
    "compress",
    "date_format",
    "rotate_interval",
    "worker_interval",
    "rotate_module",
    "tz",
];

/// Whether `key` names one of pmr's own settings (`pmr:...`) or one of
/// pm2-logrotate's, which pmr's built-in rotation takes.
pub fn is_setting(key: &str) -> bool {
    key.starts_with("pmr:") || key.starts_with("pm2-logrotate:")
}

/// `pmr:logrotate.max_size` (or pm2-logrotate's `pm2-logrotate:max_size`) → field.
/// The one place both spellings are mapped; unknown keys fail listing the known.
fn field(key: &str) -> anyhow::Result<&'static str> {
    let name = key
        .strip_prefix("pmr:logrotate.")
        .or_else(|| key.strip_prefix("pm2-logrotate:"))
        .map(|f| match f {
            // pm2-logrotate's camelCase names.
            "dateFormat" => "date_format",
            "rotateInterval" => "rotate_interval",
            "workerInterval" => "worker_interval",
            "rotateModule" => "rotate_module",
            "TZ" => "tz",
            f => f,
        });
    name.and_then(|f| ROTATE_KEYS.iter().find(|k| **k == f).copied())
        .with_context(|| {
            format!(
                "unknown setting {key:?} (known: pmr:logrotate.<key> or pm2-logrotate:<key> for {})",
                ROTATE_KEYS.join(", ")
            )
        })
}

/// What a setting pm2-logrotate has, and pmr does not need, means here.
pub fn note(key: &str) -> Option<&'static str> {
    match field(key).ok()? {
        "worker_interval" => Some(
            "pmr checks a log's size at every write, so this interval is kept for pm2-logrotate's configuration only",
        ),
        "rotate_module" => Some(
            "pmr runs no modules; its own log (pmr.log) keeps to its own size (PMR_DAEMON_LOG_MAX) and three old files",
        ),
        _ => None,
    }
}

/// The value of one setting as `set` takes it (`pmr get pm2-logrotate:retain`).
pub fn get(paths: &Paths, key: &str) -> anyhow::Result<String> {
    let name = field(key)?;
    let cfg = toml::Value::try_from(load(paths)?.logrotate)?;
    Ok(match cfg.get(name) {
        Some(toml::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    })
}

/// Sets one value, checks the whole file still makes sense, writes it atomically.
pub fn set(paths: &Paths, key: &str, value: &str) -> anyhow::Result<Config> {
    let name = field(key)?;
    let path = paths.home.join("config.toml");
    // Edited as a table, not through `Config`: only the keys someone set are
    // written back, never every default (comments in the file are lost).
    let mut table: toml::Table = match std::fs::read_to_string(&path) {
        Ok(t) => t
            .parse()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => toml::Table::new(),
        // Unreadable (permissions, not UTF-8): refused, never overwritten.
        Err(e) => bail!("{}: {e}", path.display()),
    };
    let v = match name {
        "retain" | "worker_interval" => toml::Value::Integer(
            value
                .parse::<u32>()
                .with_context(|| format!("{key}: {value:?} is not a number"))?
                .into(),
        ),
        "compress" | "rotate_module" => toml::Value::Boolean(
            value
                .parse()
                .with_context(|| format!("{key}: use true or false"))?,
        ),
        _ => toml::Value::String(value.to_string()),
    };
    let section = table
        .entry("logrotate")
        .or_insert_with(|| toml::Value::Table(Default::default()));
    let Some(section) = section.as_table_mut() else {
        bail!("{}: logrotate is not a table", path.display())
    };
    section.insert(name.to_string(), v);
    let cfg: Config = toml::Value::Table(table.clone()).try_into()?;
    // Refuse a value the daemon could not use, before writing it.
    if cfg.logrotate.max_size.trim() != "0"
        && pmr_shared::app::parse_bytes(&cfg.logrotate.max_size).is_none()
    {
        bail!("{key}: {value:?} is not a size (10M, 1G, or 0 for never)");
    }
    if !cfg.logrotate.rotate_interval.trim().is_empty() {
        crate::clock::parse_cron(&cfg.logrotate.rotate_interval)
            .map_err(|e| anyhow::anyhow!("{key}: {e} (use \"\" for no scheduled rotation)"))?;
    }
    crate::logs::zone::check(&cfg.logrotate.tz).map_err(|e| anyhow::anyhow!("{key}: {e}"))?;
    std::fs::create_dir_all(&paths.home)?;
    let tmp = paths.home.join("config.toml.tmp");
    std::fs::write(&tmp, toml::to_string(&table)?)?;
    std::fs::rename(&tmp, &path)?;
    Ok(cfg)
}
