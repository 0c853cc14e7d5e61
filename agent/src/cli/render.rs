//! Text output: pm2's process table, `prettylist`'s `util.inspect` layout,
//! and the human forms of durations and sizes.

use std::fmt::Write as _;
use std::io::IsTerminal;

use pmr_shared::app::{ProcessInfo, Status};
use serde_json::Value;

use crate::supervisor::now_ms;

/// Whether to colour output.
pub(crate) fn color(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[39m")
    } else {
        text.to_string()
    }
}

/// A box-drawn table in pm2's style; `cells` may hold ANSI colours.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let width = |s: &str| strip_ansi(s).chars().count();
    let mut widths: Vec<usize> = headers.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(width(cell));
        }
    }
    let line = |l: &str, m: &str, r: &str| {
        let parts: Vec<String> = widths.iter().map(|w| "─".repeat(w + 2)).collect();
        format!("{l}{}{r}\n", parts.join(m))
    };
    let row = |cells: &[String]| {
        let mut s = String::from("│");
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - width(c);
            let _ = write!(s, " {c}{} │", " ".repeat(pad));
        }
        s.push('\n');
        s
    };
    let mut out = line("┌", "┬", "┐");
    out += &row(&headers.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    out += &line("├", "┼", "┤");
    for r in rows {
        out += &row(r);
    }
    out += &line("└", "┴", "┘");
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// pm2's uptime form: `12s`, `5m`, `3h`, `2D`.
pub(crate) fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}D", s / 86_400),
    }
}

/// pm2's memory form: `0b`, `512.0kb`, `40.1mb`, `1.2gb`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [(&str, f64); 3] = [("gb", 1e9), ("mb", 1e6), ("kb", 1e3)];
    let mut f = n as f64;
    for (unit, size) in UNITS {
        if f >= size {
            f /= size;
            return format!("{f:.1}{unit}");
        }
    }
    f = f.max(0.0);
    format!("{f}b")
}

fn status_cell(s: Status, on: bool) -> String {
    let code = match s {
        Status::Online => "32;1",
        Status::Stopped | Status::Stopping => "90;1",
        Status::Errored => "31;1",
        Status::Launching | Status::WaitingRestart => "34;1",
    };
    paint(on, code, s.as_str())
}

/// The process table of `pmr list`.
pub(crate) fn process_table(list: &[ProcessInfo], on: bool) -> String {
    let now = now_ms();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            let running = p.status == Status::Online || p.status == Status::Launching;
            vec![
                p.pm_id.to_string(),
                paint(on, "36;1", &p.spec.name),
                p.spec.namespace.clone(),
                if p.spec.exec_mode == "cluster_mode" {
                    "cluster".into()
                } else {
                    "fork".into()
                },
                if p.pid > 0 {
                    p.pid.to_string()
                } else {
                    "0".into()
                },
                if running {
                    uptime(now.saturating_sub(p.pm_uptime))
                } else {
                    "0".into()
                },
                p.restart_time.to_string(),
                status_cell(p.status, on),
                format!("{}%", (p.cpu * 10.0).round() / 10.0),
                bytes(p.memory),
                p.username.clone(),
                if p.spec.watch.is_empty() {
                    "disabled".into()
                } else {
                    "enabled".into()
                },
            ]
        })
        .collect();
    table(
        &[
            "id",
            "name",
            "namespace",
            "mode",
            "pid",
            "uptime",
            "↺",
            "status",
            "cpu",
            "mem",
            "user",
            "watching",
        ],
        &rows,
    )
}

/// `pmr describe`: the key facts of one instance as a two-column table.
pub(crate) fn describe(p: &ProcessInfo, on: bool) -> String {
    let now = now_ms();
    let spec = &p.spec;
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "N/A".into());
    let mut rows: Vec<(&str, String)> = vec![
        ("status", status_cell(p.status, on)),
        ("name", spec.name.clone()),
        ("namespace", spec.namespace.clone()),
        ("restarts", p.restart_time.to_string()),
        (
            "uptime",
            if p.status == Status::Online {
                uptime(now.saturating_sub(p.pm_uptime))
            } else {
                "0".into()
            },
        ),
        ("pid", p.pid.to_string()),
        ("script path", spec.script.clone()),
        (
            "script args",
            if spec.args.is_empty() {
                "N/A".into()
            } else {
                spec.args.join(" ")
            },
        ),
        ("error log path", p.err_log.clone()),
        ("out log path", p.out_log.clone()),
        ("combined log path", opt(&p.combined_log)),
        ("pid path", p.pid_path.clone()),
        ("interpreter", spec.interpreter.clone()),
        (
            "interpreter args",
            if spec.node_args().is_empty() {
                "N/A".into()
            } else {
                spec.node_args().join(" ")
            },
        ),
        ("script id", p.pm_id.to_string()),
        ("exec cwd", spec.cwd.clone()),
        ("exec mode", spec.exec_mode.clone()),
        (
            "watch & reload",
            if spec.watch.is_empty() { "✘" } else { "✔" }.into(),
        ),
        ("unstable restarts", p.unstable_restarts.to_string()),
        (
            "exit code",
            p.exit_code.map_or("N/A".into(), |c| c.to_string()),
        ),
        ("kill signal", spec.kill_signal.clone()),
        ("kill timeout", format!("{}ms", spec.kill_timeout)),
        ("cpu", format!("{}%", (p.cpu * 10.0).round() / 10.0)),
        ("memory", bytes(p.memory)),
        (
            "created at",
            chrono::DateTime::from_timestamp_millis(p.created_at as i64)
                .map_or("N/A".into(), |t| t.to_rfc3339()),
        ),
    ];
    if p.log_bytes_dropped > 0 {
        rows.push((
            "log bytes dropped",
            format!("{} (disk full?)", bytes(p.log_bytes_dropped)),
        ));
    }
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    let mut s = format!(
        " Describing process with id {} - name {}\n",
        p.pm_id, spec.name
    );
    s.push_str(&headerless(&rows));
    if let Some(v) = &p.versioning {
        s.push_str(" Revision control metadata\n");
        let text = |k: &str| match &v[k] {
            Value::Null => "N/A".to_string(),
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let rows: Vec<Vec<String>> = [
            ("revision control", text("type")),
            ("remote url", text("url")),
            ("repository root", text("repo_path")),
            ("last update", text("update_time")),
            ("revision", text("revision")),
            (
                "comment",
                text("comment").lines().next().unwrap_or("").to_string(),
            ),
            ("branch", text("branch")),
            (
                "ahead / behind",
                format!("{} / {}", text("ahead_count"), text("behind_count")),
            ),
            ("unstaged changes", text("unstaged")),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
        s.push_str(&headerless(&rows));
    }
    if !p.axm_monitor.is_empty() {
        s.push_str(" Code metrics value\n");
        let rows: Vec<Vec<String>> = p
            .axm_monitor
            .iter()
            .map(|(k, v)| vec![k.clone(), metric_text(v)])
            .collect();
        s.push_str(&headerless(&rows));
    }
    if !p.axm_actions.is_empty() {
        let names: Vec<&str> = p
            .axm_actions
            .iter()
            .filter_map(|a| a.get("action_name")?.as_str())
            .collect();
        s.push_str(&format!(" Actions available: {}\n", names.join(", ")));
        s.push_str(&format!(
            " Trigger via: pmr trigger {} <action_name> [param]\n",
            spec.name
        ));
    }
    s
}

/// A two-column table without its header row, as pm2's describe prints them.
fn headerless(rows: &[Vec<String>]) -> String {
    let t = table(&["key", "value"], rows);
    let mut lines: Vec<&str> = t.lines().collect();
    lines.drain(1..3);
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// A metric as pm2 shows it: its value, then its unit.
pub(crate) fn metric_text(v: &Value) -> String {
    let value = match v.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(|f| {
                if f.fract() == 0.0 {
                    format!("{f:.0}")
                } else {
                    format!("{:.2}", f)
                }
            })
            .unwrap_or_else(|| n.to_string()),
        Some(other) => other.to_string(),
        None => "N/A".into(),
    };
    match v.get("unit").and_then(Value::as_str) {
        Some(u) if !u.is_empty() => format!("{value} {u}"),
        _ => value,
    }
}

/// Node's `util.inspect` layout of a JSON value, as `pm2 prettylist` prints it.
pub(crate) fn inspect(v: &Value) -> String {
    let mut out = String::new();
    inspect_into(v, 0, &mut out);
    out
}

fn inspect_key(k: &str) -> String {
    let ident = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if ident { k.to_string() } else { quote(k) }
}

fn quote(s: &str) -> String {
    let escaped = s
        .replace('\\', "\\\\")
        .replace('\'', "\\'")
        .replace('\n', "\\n");
    format!("'{escaped}'")
}

fn inspect_into(v: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth + 1);
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(&b.to_string()),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&quote(s)),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            let simple = items.iter().all(|i| !i.is_object() && !i.is_array());
            let parts: Vec<String> = items.iter().map(inspect).collect();
            let one_line = format!("[ {} ]", parts.join(", "));
            if simple && one_line.len() + depth * 2 <= 72 {
                out.push_str(&one_line);
            } else {
                out.push_str("[\n");
                for (i, item) in items.iter().enumerate() {
                    out.push_str(&pad);
                    inspect_into(item, depth + 1, out);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&"  ".repeat(depth));
                out.push(']');
            }
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push_str("{\n");
            let n = map.len();
            for (i, (k, val)) in map.iter().enumerate() {
                out.push_str(&pad);
                out.push_str(&inspect_key(k));
                out.push_str(": ");
                inspect_into(val, depth + 1, out);
                out.push_str(if i + 1 < n { ",\n" } else { "\n" });
            }
            out.push_str(&"  ".repeat(depth));
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inspect_looks_like_node() {
        let v = json!([{ "name": "api", "pm2_env": { "status": "online", "restart_time": 0, "my-key": null, "args": ["a", "b"] } }]);
        let s = inspect(&v);
        assert!(s.contains("    name: 'api',\n"), "{s}");
        assert!(s.contains("status: 'online'"), "{s}");
        assert!(s.contains("restart_time: 0"), "{s}");
        assert!(s.contains("'my-key': null"), "{s}");
        assert!(s.contains("args: [ 'a', 'b' ]"), "{s}");
    }

    #[test]
    fn human_forms() {
        assert_eq!(uptime(59_000), "59s");
        assert_eq!(uptime(61_000), "1m");
        assert_eq!(uptime(7_200_000), "2h");
        assert_eq!(uptime(200_000_000), "2D");
        assert_eq!(bytes(0), "0b");
        assert_eq!(bytes(40_100_000), "40.1mb");
    }

    #[test]
    fn table_aligns_columns() {
        let t = table(
            &["id", "name"],
            &[
                vec!["0".into(), "api".into()],
                vec!["10".into(), "x".into()],
            ],
        );
        let widths: Vec<usize> = t.lines().map(|l| l.chars().count()).collect();
        assert!(widths.windows(2).all(|w| w[0] == w[1]), "{t}");
    }
}
