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
    /// The app's name; the script's file name without extension when absent.
    #[serde(deserialize_with = "de::text")]
    pub(super) name: Option<String>,
    /// What runs: a file, a shell command (it has a space), `serve`, or a
    /// program on `PATH`.
    #[serde(alias = "exec", alias = "cmd", alias = "command")]
    #[serde(deserialize_with = "de::text")]
    pub(super) script: Option<String>,
    /// The script's arguments.
    #[serde(deserialize_with = "de::words")]
    pub(super) args: Option<Vec<String>>,
    /// The program that runs the script (`none`: the script itself); else
    /// picked from the script's extension.
    #[serde(alias = "exec_interpreter", deserialize_with = "de::text")]
    pub(super) interpreter: Option<String>,
    /// Flags for the interpreter (`node_args` for Node).
    #[serde(alias = "node_args", alias = "interpreterArgs")]
    #[serde(deserialize_with = "de::words")]
    pub(super) interpreter_args: Option<Vec<String>>,
    /// The app's directory, under the file's; paths of the app start here.
    #[serde(deserialize_with = "de::text")]
    pub(super) cwd: Option<String>,
    /// How many instances; giving it implies cluster mode for Node.
    #[serde(deserialize_with = "de::instances")]
    pub(super) instances: Option<u32>,
    /// `fork_mode` or `cluster_mode`, over what `instances` implies.
    #[serde(deserialize_with = "de::exec_mode")]
    pub(super) exec_mode: Option<String>,
    /// The app's variables, above the shell's and `deploy.<name>.env`.
    #[serde(deserialize_with = "de::vars")]
    pub(super) env: Option<Vars>,
    /// `PORT` for the app (shown as a number), shared in cluster mode.
    #[serde(deserialize_with = "de::port")]
    pub(super) port: Option<u64>,
    /// Which of the caller's variables the app does not inherit.
    #[serde(deserialize_with = "de::filter")]
    pub(super) filter_env: Option<Filter>,
    /// Names the app `<name>-<env>` when started with `--env <env>`.
    #[serde(deserialize_with = "de::flag")]
    pub(super) append_env_to_name: Option<bool>,

    /// A dayjs format prefixed to each log line.
    #[serde(deserialize_with = "de::text")]
    pub(super) log_date_format: Option<String>,
    /// Prefixes log lines with the time in pmr's default format.
    #[serde(deserialize_with = "de::flag")]
    pub(super) time: Option<bool>,
    /// The stderr log (`NULL` or `/dev/null`: none).
    #[serde(alias = "error", alias = "err", alias = "err_file", alias = "err_log")]
    #[serde(deserialize_with = "de::text")]
    pub(super) error_file: Option<String>,
    /// The stdout log (`NULL` or `/dev/null`: none).
    #[serde(alias = "out", alias = "output", alias = "out_log")]
    #[serde(deserialize_with = "de::text")]
    pub(super) out_file: Option<String>,
    /// The combined log of both streams.
    #[serde(alias = "log", deserialize_with = "de::log_file")]
    pub(super) log_file: Option<LogFile>,
    /// One log file per stream for all instances (default with one).
    #[serde(alias = "combine_logs", deserialize_with = "de::flag")]
    pub(super) merge_logs: Option<bool>,
    /// Where the running pid is written.
    #[serde(alias = "pid", deserialize_with = "de::text")]
    pub(super) pid_file: Option<String>,
    /// `json` writes each line as a JSON object.
    #[serde(deserialize_with = "de::log_type")]
    pub(super) log_type: Option<Option<String>>,

    /// A run shorter than this counts as an unstable restart.
    #[serde(deserialize_with = "de::millis")]
    pub(super) min_uptime: Option<u64>,
    /// Unstable restarts allowed before the app is `errored`.
    #[serde(deserialize_with = "de::count")]
    pub(super) max_restarts: Option<u32>,
    /// A fixed pause before each automatic restart.
    #[serde(deserialize_with = "de::millis")]
    pub(super) restart_delay: Option<u64>,
    /// The first delay of a backoff that doubles on each crash.
    #[serde(deserialize_with = "de::millis")]
    pub(super) exp_backoff_restart_delay: Option<u64>,
    /// `false`: an exit is final.
    #[serde(deserialize_with = "de::flag")]
    pub(super) autorestart: Option<bool>,
    /// `false`: added to the list stopped.
    #[serde(deserialize_with = "de::flag")]
    pub(super) autostart: Option<bool>,
    /// A cron pattern that restarts the app (`"0"`: none).
    #[serde(alias = "cron", deserialize_with = "de::cron")]
    pub(super) cron_restart: Option<Option<String>>,
    /// Restarts the app when its memory passes this many bytes.
    #[serde(deserialize_with = "de::bytes")]
    pub(super) max_memory_restart: Option<u64>,
    /// Commands `pmr pull` runs after updating the checkout.
    #[serde(deserialize_with = "de::words")]
    pub(super) post_update: Option<Vec<String>>,

    /// `false`: cluster instances bind `PORT` themselves (SO_REUSEPORT).
    #[serde(deserialize_with = "de::flag")]
    pub(super) shared_port: Option<bool>,
    /// Online only once the app says it is ready.
    #[serde(deserialize_with = "de::flag")]
    pub(super) wait_ready: Option<bool>,
    /// How long `wait_ready` and a reload wait for readiness.
    #[serde(deserialize_with = "de::millis")]
    pub(super) listen_timeout: Option<u64>,
    /// Stops the app with the IPC message `shutdown`, not a signal.
    #[serde(deserialize_with = "de::flag")]
    pub(super) shutdown_with_message: Option<bool>,
    /// Grace between the stop signal and SIGKILL.
    #[serde(deserialize_with = "de::millis")]
    pub(super) kill_timeout: Option<u64>,
    /// The stop signal (SIGINT by default, as pm2).
    #[serde(deserialize_with = "de::signal")]
    pub(super) kill_signal: Option<String>,
    /// Exit codes that mean "stopped": no automatic restart.
    #[serde(deserialize_with = "de::exit_codes")]
    pub(super) stop_exit_codes: Option<Vec<i32>>,
    /// `false`: signals go to the main process only, not its group.
    #[serde(deserialize_with = "de::flag")]
    pub(super) treekill: Option<bool>,

    /// A group name commands can target.
    #[serde(deserialize_with = "de::text")]
    pub(super) namespace: Option<String>,
    /// The variable holding the instance's index (`NODE_APP_INSTANCE`).
    #[serde(deserialize_with = "de::text")]
    pub(super) instance_var: Option<String>,
    /// A variable raised by the instance's index (`PORT` for 3000, 3001…).
    #[serde(deserialize_with = "de::text")]
    pub(super) increment_var: Option<String>,

    /// Restart on changes under these paths (`true`: the app's directory).
    #[serde(deserialize_with = "de::watch")]
    pub(super) watch: Option<Option<Vec<String>>>,
    /// Paths, names or `*.ext` patterns whose changes do not count.
    #[serde(deserialize_with = "de::words")]
    pub(super) ignore_watch: Option<Vec<String>>,
    /// Quiet time after a change before the restart.
    #[serde(deserialize_with = "de::millis")]
    pub(super) watch_delay: Option<u64>,

    /// `false`: no git metadata for the app.
    #[serde(deserialize_with = "de::flag")]
    pub(super) vizion: Option<bool>,
    /// Maps Node stack traces through source maps (wins over the next).
    #[serde(deserialize_with = "de::flag")]
    pub(super) source_map_support: Option<bool>,
    /// Node stack traces as written.
    #[serde(deserialize_with = "de::flag")]
    pub(super) disable_source_map_support: Option<bool>,
    /// `false`: no exception reports from the Node preload.
    #[serde(deserialize_with = "de::flag")]
    pub(super) pmx: Option<bool>,
    /// `deep_monitoring` and `trace` are one option that either turns on.
    #[serde(deserialize_with = "de::flag")]
    pub(super) deep_monitoring: Option<bool>,
    /// pm2's other name for `deep_monitoring`.
    #[serde(deserialize_with = "de::flag")]
    pub(super) trace: Option<bool>,
    /// pm2's other switch for `pmx`.
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
