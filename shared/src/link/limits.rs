//! What a hub accepts from an agent, field by field: sizes, counts, allowed
//! values, and no control characters in any text a person will read (a
//! newline in a name would forge a line in the hub's log). Agents built from
//! `docs/protocol.md` alone meet these; a frame that breaks one is refused
//! with close code 4400 and a reason naming the field.

use super::messages::{AgentMsg, Proc};

/// Longest `machine_id` (bytes); it must not be empty.
pub const MAX_MACHINE_ID: usize = 128;
/// Longest `machine_name` (bytes).
pub const MAX_MACHINE_NAME: usize = 128;
/// Longest `agent_version` (bytes).
pub const MAX_AGENT_VERSION: usize = 64;
/// Longest app name, namespace, host name, signal or metric name (bytes).
pub const MAX_NAME: usize = 256;
/// Longest free text: an event's `detail` (bytes).
pub const MAX_TEXT: usize = 4096;
/// Longest `action_result.message` (bytes).
pub const MAX_RESULT: usize = 64 * 1024;
/// Most processes in one snapshot or rollup, and kept per server.
pub const MAX_PROCESSES: usize = 4096;
/// Most custom metrics, and custom actions, per process.
pub const MAX_METRICS: usize = 64;
/// Longest custom metric value, as compact JSON (bytes).
pub const MAX_METRIC_VALUE: usize = 256;
/// Longest `versioning` object, as compact JSON (bytes).
pub const MAX_VERSIONING: usize = 4096;
/// Longest output line in a log batch (bytes); agents cut longer ones.
pub const MAX_LOG_LINE: usize = 4096;
/// Most lines in one log batch.
pub const MAX_LOG_LINES: usize = 500;
/// Statuses a process may report (pm2's words).
pub const STATUSES: &[&str] = &[
    "launching",
    "online",
    "stopping",
    "stopped",
    "errored",
    "waiting restart",
];
/// Execution modes a process may report.
pub const EXEC_MODES: &[&str] = &["fork_mode", "cluster_mode"];

/// A field that breaks a limit: where, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// Path of the field, e.g. `processes[3].name`.
    pub field: String,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

type Checked = Result<(), Invalid>;

fn bad(field: impl Into<String>, problem: &'static str) -> Checked {
    Err(Invalid {
        field: field.into(),
        problem,
    })
}

/// What is wrong, before the field is named: the path of a field is only
/// built for a frame that breaks a limit, never for the thousands that do not.
type Problem = Result<(), &'static str>;

fn named(r: Problem, field: impl FnOnce() -> String) -> Checked {
    r.map_err(|problem| Invalid {
        field: field(),
        problem,
    })
}

fn text_ok(value: &str, max: usize) -> Problem {
    if value.len() > max {
        return Err("too long");
    }
    if value.chars().any(char::is_control) {
        return Err("control character");
    }
    Ok(())
}

/// A text field: at most `max` bytes and no control characters.
pub fn text(field: &str, value: &str, max: usize) -> Checked {
    named(text_ok(value, max), || field.to_string())
}

fn one_of(value: &str, allowed: &[&str]) -> Problem {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err("not an allowed value")
    }
}

fn seq(field: &str, value: u64) -> Checked {
    // The store keeps sequence numbers as signed 64-bit integers.
    if value == 0 || value > i64::MAX as u64 {
        return bad(field, "out of range");
    }
    Ok(())
}

/// Bytes of a JSON value written compactly, counted without building it.
fn json_len(v: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

/// The identity fields of `auth`.
pub fn auth(machine_id: &str, machine_name: &str, agent_version: &str) -> Checked {
    if machine_id.is_empty() {
        return bad("machine_id", "empty");
    }
    if machine_name.is_empty() {
        return bad("machine_name", "empty");
    }
    text("machine_id", machine_id, MAX_MACHINE_ID)?;
    text("machine_name", machine_name, MAX_MACHINE_NAME)?;
    text("agent_version", agent_version, MAX_AGENT_VERSION)
}

fn process(i: usize, p: &Proc) -> Checked {
    let at = |f: &'static str| move || format!("processes[{i}].{f}");
    named(text_ok(&p.name, MAX_NAME), at("name"))?;
    named(text_ok(&p.namespace, MAX_NAME), at("namespace"))?;
    named(one_of(&p.status, STATUSES), at("status"))?;
    named(one_of(&p.exec_mode, EXEC_MODES), at("exec_mode"))?;
    if !p.cpu.is_finite() || p.cpu < 0.0 {
        return bad(at("cpu")(), "not a finite, non-negative number");
    }
    if p.metrics.len() > MAX_METRICS {
        return bad(at("metrics")(), "too many entries");
    }
    for (k, v) in &p.metrics {
        named(text_ok(k, MAX_NAME), at("metrics"))?;
        if json_len(v) > MAX_METRIC_VALUE {
            return bad(format!("processes[{i}].metrics.{k}"), "too long");
        }
    }
    if p.actions.len() > MAX_METRICS {
        return bad(at("actions")(), "too many entries");
    }
    for a in &p.actions {
        named(text_ok(a, MAX_NAME), at("actions"))?;
    }
    match &p.versioning {
        Some(v) if !v.is_object() => bad(at("versioning")(), "not an object"),
        Some(v) if json_len(v) > MAX_VERSIONING => bad(at("versioning")(), "too long"),
        _ => Ok(()),
    }
}

/// The longest start of `s` within `max` bytes that ends on a character
/// boundary: how an agent cuts a free text to its limit.
pub fn cut(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Cuts what an app reports about itself (custom metrics and actions, its
/// git metadata) to what [`message`] accepts, so one app that publishes too
/// much loses those extras instead of the whole agent's link: names that
/// break a limit and values too long are left out, then the first
/// [`MAX_METRICS`] remain.
pub fn fit(p: &mut Proc) {
    p.metrics
        .retain(|k, v| text_ok(k, MAX_NAME).is_ok() && json_len(v) <= MAX_METRIC_VALUE);
    if p.metrics.len() > MAX_METRICS {
        p.metrics = std::mem::take(&mut p.metrics)
            .into_iter()
            .take(MAX_METRICS)
            .collect();
    }
    p.actions.retain(|a| text_ok(a, MAX_NAME).is_ok());
    p.actions.truncate(MAX_METRICS);
    if p.versioning
        .as_ref()
        .is_some_and(|v| !v.is_object() || json_len(v) > MAX_VERSIONING)
    {
        p.versioning = None;
    }
}

/// Every limit of a message after the handshake.
pub fn message(msg: &AgentMsg) -> Checked {
    match msg {
        AgentMsg::Snapshot(s) => {
            if s.processes.len() > MAX_PROCESSES {
                return bad("processes", "too many entries");
            }
            if s.removed.len() > MAX_PROCESSES {
                return bad("removed", "too many entries");
            }
            text("host.hostname", &s.host.hostname, MAX_NAME)?;
            let host_numbers = [s.host.cpu, s.host.load[0], s.host.load[1], s.host.load[2]];
            if host_numbers.iter().any(|v| !v.is_finite() || *v < 0.0) {
                return bad("host", "cpu and load must be finite, non-negative numbers");
            }
            s.processes
                .iter()
                .enumerate()
                .try_for_each(|(i, p)| process(i, p))
        }
        AgentMsg::Event(e) => {
            seq("seq", e.seq)?;
            text("name", &e.name, MAX_NAME)?;
            if let Some(s) = &e.signal {
                text("signal", s, MAX_NAME)?;
            }
            match &e.detail {
                // Details are multi-line (a stack trace): only the size counts;
                // the hub escapes them wherever it logs them.
                Some(d) if d.len() > MAX_TEXT => bad("detail", "too long"),
                _ => Ok(()),
            }
        }
        AgentMsg::Rollup(r) => {
            seq("seq", r.seq)?;
            if r.processes.len() > MAX_PROCESSES {
                return bad("processes", "too many entries");
            }
            r.processes.iter().enumerate().try_for_each(|(i, p)| {
                named(text_ok(&p.name, MAX_NAME), || {
                    format!("processes[{i}].name")
                })
            })
        }
        AgentMsg::ActionResult(r) => {
            text("id", &r.id, MAX_NAME)?;
            if r.message.len() > MAX_RESULT {
                return bad("message", "too long");
            }
            Ok(())
        }
        AgentMsg::Logs(b) => {
            if b.lines.len() > MAX_LOG_LINES {
                return bad("lines", "too many entries");
            }
            b.lines.iter().enumerate().try_for_each(|(i, l)| {
                let at = |f: &'static str| move || format!("lines[{i}].{f}");
                named(text_ok(&l.app, MAX_NAME), at("app"))?;
                if l.stream != "out" && l.stream != "err" {
                    return bad(at("stream")(), "not out or err");
                }
                // Tabs are output; other control characters (colour codes)
                // are removed by the agent.
                if l.line.len() > MAX_LOG_LINE {
                    return bad(at("line")(), "too long");
                }
                if l.line.chars().any(|c| c.is_control() && c != '\t') {
                    return bad(at("line")(), "control character");
                }
                Ok(())
            })
        }
        AgentMsg::Auth { .. } => bad("type", "auth after the handshake"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::messages::Snapshot;

    #[test]
    fn a_newline_in_a_name_is_refused_and_named() {
        let err = auth("m-1", "web\n2026-12-01 INFO forged", "0.1").unwrap_err();
        assert_eq!(err.to_string(), "machine_name: control character");
        assert_eq!(auth("", "web", "0.1").unwrap_err().field, "machine_id");
        assert!(auth("m-1", "wéb-01 ✓", "0.1.0").is_ok());
        let p = Proc {
            name: "api\u{1b}[31m".into(),
            status: "online".into(),
            exec_mode: "fork_mode".into(),
            ..Default::default()
        };
        let snap = AgentMsg::Snapshot(Snapshot {
            processes: vec![
                Proc {
                    name: "ok".into(),
                    ..p.clone()
                },
                p,
            ],
            ..Default::default()
        });
        assert_eq!(
            message(&snap).unwrap_err().to_string(),
            "processes[1].name: control character"
        );
    }

    #[test]
    fn statuses_and_modes_are_pm2s() {
        let p = Proc {
            name: "api".into(),
            status: "online".into(),
            exec_mode: "cluster_mode".into(),
            ..Default::default()
        };
        assert!(process(0, &p).is_ok());
        let bogus = Proc {
            status: "happy".into(),
            ..p
        };
        assert_eq!(process(0, &bogus).unwrap_err().field, "processes[0].status");
    }

    #[test]
    fn an_app_that_publishes_too_much_keeps_what_the_hub_accepts() {
        let mut p = Proc {
            name: "api".into(),
            status: "online".into(),
            exec_mode: "fork_mode".into(),
            versioning: Some(serde_json::json!({ "comment": "x".repeat(5000) })),
            ..Default::default()
        };
        for i in 0..300 {
            p.metrics.insert(format!("m{i:03}"), serde_json::json!(i));
        }
        p.metrics.insert("a\nforged".into(), serde_json::json!(1));
        p.metrics
            .insert("a big".into(), serde_json::json!("y".repeat(300)));
        p.actions = (0..100).map(|i| format!("act{i}")).collect();
        p.actions.insert(0, "bad\u{7}".into());
        assert!(process(0, &p).is_err());
        fit(&mut p);
        assert!(process(0, &p).is_ok(), "{:?}", process(0, &p));
        assert_eq!(p.metrics.len(), MAX_METRICS);
        assert_eq!(p.metrics.keys().next().unwrap(), "m000");
        assert_eq!(p.actions.len(), MAX_METRICS);
        assert_eq!(p.actions[0], "act0");
        assert_eq!(p.versioning, None);
    }

    #[test]
    fn a_cut_ends_on_a_character_boundary() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("hi", 10), "hi");
    }
}
