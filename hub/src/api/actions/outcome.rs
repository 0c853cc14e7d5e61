//! An action's outcome in words, for the person who asked and for the
//! audit log: "api restarted on web-1: 1 instance, new pid 2841", not the
//! daemon's own text.

use std::collections::BTreeSet;

use pmr_shared::link::messages::ActionResult;

/// The past tense of a verb as the dashboard says it.
fn past(verb: &str) -> &'static str {
    match verb {
        "restart" => "restarted",
        "reload" => "reloaded",
        "stop" => "stopped",
        "start" => "started",
        "delete" => "deleted",
        "scale" => "scaled",
        "reset" => "counters reset",
        "flush" => "logs flushed",
        "trigger" => "triggered",
        _ => "done",
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// One sentence: what was done to what, where, and how it ended.
pub(super) fn words(verb: &str, targets: &str, server: &str, r: &ActionResult) -> String {
    if !r.ok {
        return format!("{verb} {targets} on {server} failed: {}", r.message.trim());
    }
    let names: BTreeSet<&str> = r.instances.iter().map(|i| i.name.as_str()).collect();
    let what = if names.is_empty() {
        targets.to_string()
    } else {
        names.into_iter().collect::<Vec<_>>().join(", ")
    };
    let mut s = format!("{what} {} on {server}", past(verb));
    if verb == "trigger" && !r.message.trim().is_empty() {
        s.push_str(&format!(": {}", r.message.trim()));
        return s;
    }
    if !r.instances.is_empty() {
        s.push_str(&format!(": {}", plural(r.instances.len(), "instance")));
        let pids: Vec<String> = r
            .instances
            .iter()
            .filter(|i| i.pid != 0)
            .map(|i| i.pid.to_string())
            .collect();
        if !pids.is_empty() && matches!(verb, "restart" | "reload" | "start" | "scale") {
            let label = if pids.len() == 1 {
                "new pid"
            } else {
                "new pids"
            };
            s.push_str(&format!(", {label} {}", pids.join(", ")));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmr_shared::link::messages::Touched;

    fn result(ok: bool, message: &str, pids: &[u32]) -> ActionResult {
        ActionResult {
            id: "a-1".into(),
            ok,
            message: message.into(),
            instances: pids
                .iter()
                .enumerate()
                .map(|(i, &pid)| Touched {
                    pm_id: i as u32,
                    name: "worker".into(),
                    pid,
                    status: if pid == 0 { "stopped" } else { "online" }.into(),
                })
                .collect(),
        }
    }

    #[test]
    fn an_outcome_reads_as_a_sentence() {
        let raw = "[PM2] Applying action restartProcessId on app [worker](ids: [ 0 ])";
        assert_eq!(
            words("restart", "worker", "web-1", &result(true, raw, &[2841])),
            "worker restarted on web-1: 1 instance, new pid 2841"
        );
        assert_eq!(
            words("stop", "worker", "web-1", &result(true, raw, &[0, 0])),
            "worker stopped on web-1: 2 instances"
        );
        assert_eq!(
            words(
                "restart",
                "nope",
                "web-1",
                &result(false, "process or namespace nope not found", &[])
            ),
            "restart nope on web-1 failed: process or namespace nope not found"
        );
        assert_eq!(
            words(
                "trigger",
                "0",
                "web-1",
                &result(true, "{\"cleared\":\"all\"}", &[])
            ),
            "0 triggered on web-1: {\"cleared\":\"all\"}"
        );
    }
}
