//! `pmr describe`: one instance's facts as pm2's two-column sheets (the
//! process, its revision control metadata, its code metrics, its actions).

use pmr_shared::app::{ProcessInfo, Status};
use serde_json::Value;

use super::{bytes, status_cell, table, uptime};
use crate::clock::now_ms;

/// `pmr describe`: the key facts of one instance as a two-column table.
/// `on` colours the status cell (false when stdout is not a terminal).
pub(crate) fn describe(p: &ProcessInfo, on: bool) -> String {
    let rows: Vec<Vec<String>> = facts(p, on)
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    let mut s = format!(
        " Describing process with id {} - name {}\n",
        p.pm_id, p.spec.name
    );
    s.push_str(&headerless(&rows));
    if let Some(v) = &p.versioning {
        s.push_str(" Revision control metadata\n");
        s.push_str(&headerless(&revision(v)));
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
            p.spec.name
        ));
    }
    s
}

/// The process sheet: status, paths, interpreter, policy, usage.
fn facts(p: &ProcessInfo, on: bool) -> Vec<(&'static str, String)> {
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
    rows
}

/// The revision control sheet, from the versioning metadata.
fn revision(v: &Value) -> Vec<Vec<String>> {
    let text = |k: &str| match &v[k] {
        Value::Null => "N/A".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    [
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
    .collect()
}

/// A two-column table without its header row, as pm2's describe prints them:
/// the box is drawn by [`table()`], then the header line and the rule under it
/// are dropped.
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
