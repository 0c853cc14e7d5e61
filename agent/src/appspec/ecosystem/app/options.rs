//! The options of one app entry under pm2's names, as serde reads them:
//! each field names its alternative spellings (`alias`) and its kind of
//! value ([`super::loose`]); what serde does not know lands in `other`,
//! to be warned about, not refused (pm2 ignores unknown options).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::loose::{Filter, LogFile, Vars, de};

/// pm2's alternative spellings, by the option they stand for: the same as
/// the `alias` attributes below, for [`keep_last_spelling`].
const SPELLINGS: &[&[&str]] = &[
    &["script", "exec", "cmd", "command"],
    &["interpreter", "exec_interpreter"],
    &["interpreter_args", "node_args", "interpreterArgs"],
    &["error_file", "error", "err", "err_file", "err_log"],
    &["out_file", "out", "output", "out_log"],
    &["log_file", "log"],
    &["merge_logs", "combine_logs"],
    &["pid_file", "pid"],
    &["cron_restart", "cron"],
];

/// An app entry's options, each `None` when the file does not give it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct Pm2App {
    #[serde(deserialize_with = "de::text")]
    pub(super) name: Option<String>,
    #[serde(alias = "exec", alias = "cmd", alias = "command")]
    #[serde(deserialize_with = "de::text")]
    pub(super) script: Option<String>,
    #[serde(deserialize_with = "de::words")]
    pub(super) args: Option<Vec<String>>,
    #[serde(alias = "exec_interpreter", deserialize_with = "de::text")]
    pub(super) interpreter: Option<String>,
    #[serde(alias = "node_args", alias = "interpreterArgs")]
    #[serde(deserialize_with = "de::words")]
    pub(super) interpreter_args: Option<Vec<String>>,
    #[serde(deserialize_with = "de::text")]
    pub(super) cwd: Option<String>,
    #[serde(deserialize_with = "de::instances")]
    pub(super) instances: Option<u32>,
    #[serde(deserialize_with = "de::exec_mode")]
    pub(super) exec_mode: Option<String>,
    #[serde(deserialize_with = "de::vars")]
    pub(super) env: Option<Vars>,
    #[serde(deserialize_with = "de::port")]
    pub(super) port: Option<u64>,
    #[serde(deserialize_with = "de::filter")]
    pub(super) filter_env: Option<Filter>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) append_env_to_name: Option<bool>,

    #[serde(deserialize_with = "de::text")]
    pub(super) log_date_format: Option<String>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) time: Option<bool>,
    #[serde(alias = "error", alias = "err", alias = "err_file", alias = "err_log")]
    #[serde(deserialize_with = "de::text")]
    pub(super) error_file: Option<String>,
    #[serde(alias = "out", alias = "output", alias = "out_log")]
    #[serde(deserialize_with = "de::text")]
    pub(super) out_file: Option<String>,
    #[serde(alias = "log", deserialize_with = "de::log_file")]
    pub(super) log_file: Option<LogFile>,
    #[serde(alias = "combine_logs", deserialize_with = "de::flag")]
    pub(super) merge_logs: Option<bool>,
    #[serde(alias = "pid", deserialize_with = "de::text")]
    pub(super) pid_file: Option<String>,
    #[serde(deserialize_with = "de::log_type")]
    pub(super) log_type: Option<Option<String>>,

    #[serde(deserialize_with = "de::millis")]
    pub(super) min_uptime: Option<u64>,
    #[serde(deserialize_with = "de::count")]
    pub(super) max_restarts: Option<u32>,
    #[serde(deserialize_with = "de::millis")]
    pub(super) restart_delay: Option<u64>,
    #[serde(deserialize_with = "de::millis")]
    pub(super) exp_backoff_restart_delay: Option<u64>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) autorestart: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) autostart: Option<bool>,
    #[serde(alias = "cron", deserialize_with = "de::cron")]
    pub(super) cron_restart: Option<Option<String>>,
    #[serde(deserialize_with = "de::bytes")]
    pub(super) max_memory_restart: Option<u64>,
    #[serde(deserialize_with = "de::words")]
    pub(super) post_update: Option<Vec<String>>,

    #[serde(deserialize_with = "de::flag")]
    pub(super) shared_port: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) wait_ready: Option<bool>,
    #[serde(deserialize_with = "de::millis")]
    pub(super) listen_timeout: Option<u64>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) shutdown_with_message: Option<bool>,
    #[serde(deserialize_with = "de::millis")]
    pub(super) kill_timeout: Option<u64>,
    #[serde(deserialize_with = "de::signal")]
    pub(super) kill_signal: Option<String>,
    #[serde(deserialize_with = "de::exit_codes")]
    pub(super) stop_exit_codes: Option<Vec<i32>>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) treekill: Option<bool>,

    #[serde(deserialize_with = "de::text")]
    pub(super) namespace: Option<String>,
    #[serde(deserialize_with = "de::text")]
    pub(super) instance_var: Option<String>,
    #[serde(deserialize_with = "de::text")]
    pub(super) increment_var: Option<String>,

    #[serde(deserialize_with = "de::watch")]
    pub(super) watch: Option<Option<Vec<String>>>,
    #[serde(deserialize_with = "de::words")]
    pub(super) ignore_watch: Option<Vec<String>>,
    #[serde(deserialize_with = "de::millis")]
    pub(super) watch_delay: Option<u64>,

    #[serde(deserialize_with = "de::flag")]
    pub(super) vizion: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) source_map_support: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) disable_source_map_support: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) pmx: Option<bool>,
    /// `deep_monitoring` and `trace` are one option that either turns on.
    #[serde(deserialize_with = "de::flag")]
    pub(super) deep_monitoring: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) trace: Option<bool>,
    #[serde(deserialize_with = "de::flag")]
    pub(super) automation: Option<bool>,

    /// `env_<name>` blocks, options not applied yet, and unknown ones.
    #[serde(flatten)]
    pub(super) other: Map<String, Value>,
}

impl Pm2App {
    /// Reads an app entry; the error is the option as the file spells
    /// it, and what was wrong with its value.
    pub(super) fn read(map: &Map<String, Value>) -> Result<Self, (String, String)> {
        // Name order, whatever order the file has: when two spellings of
        // one option are given, the last in that order wins (as it did
        // when options were applied one by one).
        let mut sorted: Vec<(&String, &Value)> = map.iter().collect();
        sorted.sort_by_key(|(k, _)| k.as_str());
        let sorted: Map<String, Value> = keep_last_spelling(sorted)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let value = Value::Object(sorted);
        serde_path_to_error::deserialize(&value)
            .map_err(|e| (e.path().to_string(), e.inner().to_string()))
    }
}

/// Drops the spellings of an option that a later one (in name order)
/// overrides, so serde does not refuse the entry as giving it twice.
fn keep_last_spelling<'a>(
    sorted: Vec<(&'a String, &'a Value)>,
) -> impl Iterator<Item = (&'a String, &'a Value)> {
    let group = |k: &str| SPELLINGS.iter().position(|g| g.contains(&k));
    let last: Vec<Option<&String>> = (0..SPELLINGS.len())
        .map(|g| {
            sorted
                .iter()
                .rev()
                .find(|(k, _)| group(k) == Some(g))
                .map(|(k, _)| *k)
        })
        .collect();
    sorted
        .into_iter()
        .filter(move |(k, _)| group(k).is_none_or(|g| last[g] == Some(*k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_is_an_alias_of_its_option() {
        for spelling in SPELLINGS.iter().flat_map(|g| g.iter()) {
            let entry = serde_json::json!({ *spelling: "x" });
            let read = Pm2App::read(entry.as_object().unwrap());
            // An unknown key would be kept in `other` without an error.
            assert!(
                read.is_err() || read.unwrap().other.is_empty(),
                "{spelling}"
            );
        }
    }
}
