//! pm2's loose values: what an option of an ecosystem file may hold
//! (numbers written as strings, `10M` sizes, `2s` durations, a string or a
//! list…), one parser per kind of value.
//!
//! Each parser reads a JSON value and returns the error as "expected …,
//! got …"; the reader puts the file, app and option in front of it. The
//! [`de`] module wraps them for `#[serde(deserialize_with)]`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// A parser's result: the value, or what was expected instead.
type Parsed<T> = Result<T, String>;

/// The error every parser gives: what was wanted, and the value as written.
fn expected(wanted: &str, got: &Value) -> String {
    format!("expected {wanted}, got {got}")
}

/// pm2 takes numeric options written as strings (`"instances": "4"`).
fn numeric(v: &Value) -> Value {
    match v {
        Value::String(t) => t
            .trim()
            .parse::<i64>()
            .map_or_else(|_| v.clone(), Value::from),
        _ => v.clone(),
    }
}

/// A string; a number is taken as its digits.
pub(super) fn text(v: &Value) -> Parsed<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(expected("a string", other)),
    }
}

/// `true` or `false` (pm2 does not take `"true"`; neither does pmr).
pub(super) fn flag(v: &Value) -> Parsed<bool> {
    v.as_bool().ok_or_else(|| expected("true or false", v))
}

/// A whole number that fits a `u32` (`max_restarts`).
pub(super) fn count(v: &Value) -> Parsed<u32> {
    let v = numeric(v);
    v.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| expected("a whole number", &v))
}

/// Milliseconds: a number (fractions dropped) or `500ms`/`2s`/`1m`/`1h`.
pub(super) fn millis(v: &Value) -> Parsed<u64> {
    let v = numeric(v);
    match &v {
        Value::Number(n) => n
            .as_f64()
            .filter(|f| *f >= 0.0)
            .map(|f| f as u64)
            .ok_or_else(|| expected("milliseconds", &v)),
        Value::String(s) => {
            crate::appspec::parse_ms("", s).map_err(|_| expected("milliseconds or 1s/2m/1h", &v))
        }
        other => Err(expected("milliseconds", other)),
    }
}

/// A list of strings, or one string split at white space.
pub(super) fn words(v: &Value) -> Parsed<Vec<String>> {
    match v {
        Value::String(s) => Ok(s.split_whitespace().map(String::from).collect()),
        Value::Array(items) => items.iter().map(text).collect(),
        other => Err(expected("a string or a list", other)),
    }
}

/// An `env` object: its variables as strings, and which were written as
/// numbers or booleans (shown typed, as pm2's `prettylist` does).
#[derive(Default)]
pub(super) struct Vars {
    /// Each variable as the app gets it: a string.
    pub(super) vars: BTreeMap<String, String>,
    /// Those written as numbers or booleans.
    pub(super) typed: BTreeSet<String>,
}

/// An object of variables (`env`, `env_<name>`, `deploy.<name>.env`).
pub(super) fn vars(v: &Value) -> Parsed<Vars> {
    let Value::Object(m) = v else {
        return Err(expected("an object of variables", v));
    };
    let vars = m
        .iter()
        .map(|(k, v)| {
            let s = match v {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                // pm2 turns nested objects into JSON strings; so do we.
                other => other.to_string(),
            };
            (k.clone(), s)
        })
        .collect();
    let typed = m
        .iter()
        .filter(|(_, v)| v.is_number() || v.is_boolean())
        .map(|(k, _)| k.clone())
        .collect();
    Ok(Vars { vars, typed })
}

/// `instances`: a count, `"max"` for every CPU, 0 or less for CPUs less n.
pub(super) fn instances(v: &Value) -> Parsed<u32> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as i64;
    let n = match numeric(v) {
        Value::String(t) if t == "max" => 0,
        Value::Number(n) if n.as_i64().is_some() => n.as_i64().unwrap_or(1),
        other => return Err(expected("a number or \"max\"", &other)),
    };
    Ok((if n <= 0 { cpus + n } else { n }).max(1) as u32)
}

/// `exec_mode`: `fork` or `cluster`, with or without `_mode`.
pub(super) fn exec_mode(v: &Value) -> Parsed<String> {
    match text(v)?.trim_end_matches("_mode") {
        "fork" => Ok("fork_mode".into()),
        "cluster" => Ok("cluster_mode".into()),
        _ => Err(expected("fork or cluster", v)),
    }
}

/// `kill_signal`: a signal name, `SIG` prefix optional, any case.
pub(super) fn signal(v: &Value) -> Parsed<String> {
    let sig = text(v)?.to_ascii_uppercase();
    Ok(if sig.starts_with("SIG") {
        sig
    } else {
        format!("SIG{sig}")
    })
}

/// `stop_exit_codes`: one exit code or a list of them.
pub(super) fn exit_codes(v: &Value) -> Parsed<Vec<i32>> {
    let code = |c: &Value| {
        c.as_i64()
            .map(|c| c as i32)
            .ok_or_else(|| expected("exit codes", v))
    };
    match v {
        Value::Number(_) => Ok(vec![code(v)?]),
        Value::Array(a) => a.iter().map(code).collect(),
        other => Err(expected("an exit code or a list", other)),
    }
}

/// `log_type`: `json` (kept) or `raw` (the default, so `None`).
pub(super) fn log_type(v: &Value) -> Parsed<Option<String>> {
    let t = text(v)?;
    if t != "json" && t != "raw" {
        return Err(expected("json or raw", v));
    }
    Ok((t == "json").then_some(t))
}

/// `cron_restart`: a pattern; pm2 reads `"0"` as no cron restart.
pub(super) fn cron(v: &Value) -> Parsed<Option<String>> {
    let pattern = text(v)?;
    Ok((pattern != "0").then_some(pattern))
}

/// `max_memory_restart`: bytes, or a size such as `100M` or `1G`.
pub(super) fn bytes(v: &Value) -> Parsed<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(t) => pmr_shared::app::parse_bytes(t),
        _ => None,
    }
    .ok_or_else(|| expected("bytes or 100M/1G", v))
}

/// `port`: 1 to 65535, as a number or a string; it becomes `PORT`.
pub(super) fn port(v: &Value) -> Parsed<u64> {
    match v {
        Value::Number(n) => n.as_u64().filter(|p| (1..=65535).contains(p)),
        Value::String(t) => t.trim().parse::<u16>().ok().map(u64::from),
        _ => None,
    }
    .filter(|p| *p > 0)
    .ok_or_else(|| expected("a port number (1-65535)", v))
}

/// `watch`: `false` (no watching), `true` (the app's directory: an empty
/// list here), or the paths to watch.
pub(super) fn watch(v: &Value) -> Parsed<Option<Vec<String>>> {
    match v {
        Value::Bool(b) => Ok(b.then(Vec::new)),
        other => words(other).map(Some),
    }
}

/// `log_file`: where the combined log goes.
pub(super) enum LogFile {
    /// `false`: no combined log.
    Off,
    /// `true`: the default file under pmr's log directory.
    Default,
    /// A path, relative to the app's directory.
    At(String),
}

/// `log_file`: `true`, `false` or a path.
pub(super) fn log_file(v: &Value) -> Parsed<LogFile> {
    match v {
        Value::Bool(false) => Ok(LogFile::Off),
        Value::Bool(true) => Ok(LogFile::Default),
        other => text(other).map(LogFile::At),
    }
}

/// `filter_env`: which of the caller's variables the app does not get.
pub(super) enum Filter {
    /// `false`: keep them all.
    None,
    /// `true`: drop them all.
    All,
    /// Drop those starting with one of these prefixes.
    Prefixes(Vec<String>),
}

/// `filter_env`: `true`, `false`, a prefix or a list of prefixes.
pub(super) fn filter(v: &Value) -> Parsed<Filter> {
    match v {
        Value::Bool(true) => Ok(Filter::All),
        Value::Bool(false) => Ok(Filter::None),
        other => words(other).map(Filter::Prefixes),
    }
}

/// Each parser above as a `deserialize_with` function of the same name,
/// giving `Some(value)` for an option the file has.
pub(super) mod de {
    use serde::de::{Deserialize, Deserializer, Error};
    use serde_json::Value;

    macro_rules! wrap {
        ($($name:ident -> $t:ty),* $(,)?) => {$(
            /// The parser of the same name, for `#[serde(deserialize_with)]`.
            pub(in super::super) fn $name<'de, D: Deserializer<'de>>(
                d: D,
            ) -> Result<Option<$t>, D::Error> {
                super::$name(&Value::deserialize(d)?).map(Some).map_err(D::Error::custom)
            }
        )*};
    }

    wrap! {
        text -> String, flag -> bool, count -> u32, millis -> u64,
        words -> Vec<String>, vars -> super::Vars, instances -> u32,
        exec_mode -> String, signal -> String, exit_codes -> Vec<i32>,
        log_type -> Option<String>, cron -> Option<String>, bytes -> u64,
        port -> u64, watch -> Option<Vec<String>>, log_file -> super::LogFile,
        filter -> super::Filter,
    }
}
