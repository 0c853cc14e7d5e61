//! Building an [`AppSpec`](pmr_shared::app::AppSpec): from `pmr start`'s flags ([`from_flags`]) and
//! from ecosystem files ([`ecosystem`]). The rules both follow (durations,
//! the interpreter for a file, `PATH` look-up, the caller's environment)
//! live here once.

pub mod ecosystem;
mod flags;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

pub use flags::{AppFlags, from_flags};

/// `PMR_DEEP_MONITORING` (pm2's `PM2_DEEP_MONITORING`) set in the caller's
/// environment turns deep monitoring on for the apps a command starts.
pub fn deep_monitoring_env() -> bool {
    std::env::var("PMR_DEEP_MONITORING").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"))
}

/// The caller's environment, as apps inherit it (bucket keys left out: the
/// environment that gives them to `pmr-runtime` must not hand the secret
/// key on to every app).
pub fn shell_env() -> std::collections::BTreeMap<String, String> {
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

/// Milliseconds from `1500`, `500ms`, `2s`, `1m` or `1h`.
pub fn parse_ms(flag: &str, v: &str) -> anyhow::Result<u64> {
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
pub(crate) fn parse_instances(v: &str) -> anyhow::Result<u32> {
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

/// The interpreter pm2 would pick for this file: by extension, else the
/// file itself when it is executable (`none`), else node, pm2's default.
pub fn interpreter_for(path: &Path) -> String {
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
pub fn find_in_path(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// A file's name without its extension: the default app name.
pub(crate) fn stem(path: &str) -> String {
    let p = Path::new(path);
    p.file_stem()
        .map_or_else(|| path.to_string(), |s| s.to_string_lossy().into_owned())
}

/// `p` under `cwd` (unchanged when absolute).
pub(crate) fn absolute(cwd: &Path, p: &str) -> String {
    cwd.join(p).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

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
