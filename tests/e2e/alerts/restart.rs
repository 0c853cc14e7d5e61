//! Alerting across a `kill -9` and restart of the hub: what fired stays
//! firing with its start, nothing is sent again before `repeat_interval`,
//! each history row closes once; a rule or receiver refused names its field.

use std::time::Duration;

use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::{add_receiver, add_rule};
use crate::harness::{Agent, ClearProxies, Hub, Tls, wait_for};

/// Notifications received for rule `name`, with their status.
fn sent(rx: &Receiver, name: &str) -> Vec<String> {
    rx.got()
        .into_iter()
        .map(|g| g.json())
        .filter(|b| b["groupLabels"]["alertname"] == name)
        .map(|b| b["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_hub_restart_sends_nothing_again_and_keeps_each_alert_and_history_row() {
    let mut hub = Hub::start(Tls::None);
    let rx = Receiver::start(Answer::Script(vec![200]));
    add_receiver(&hub, "ops", &rx.url(), json!({}));
    add_rule(&hub, json!({"name": "errored", "kind": "errored"}));
    add_rule(
        &hub,
        json!({"name": "restarted", "kind": "restarts", "count": 1, "window_secs": 3600}),
    );
    let agent = Agent::new();
    agent.link(&hub, "web-1", &[]);
    agent.write("crash.sh", "sleep 0.3; exit 1\n");
    agent.ok(&[
        "start",
        "crash.sh",
        "--name",
        "crash",
        "--max-restarts",
        "3",
    ]);
    for rule in ["errored", "restarted"] {
        wait_for(rule, Duration::from_secs(30), || {
            (sent(&rx, rule) == ["firing"]).then_some(())
        });
    }
    let before = hub.get("/api/v1/alerts/history");
    assert_eq!(before.as_array().unwrap().len(), 2, "{before}");
    let starts: Vec<i64> = before
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["starts_at"].as_i64().unwrap())
        .collect();

    hub.restart();
    wait_for("web-1 back online", Duration::from_secs(30), || {
        hub.server("web-1").filter(|s| s["online"] == true)
    });
    let firing = wait_for("both alerts firing again", Duration::from_secs(10), || {
        let a = hub.get("/api/v1/alerts");
        let n = a
            .as_array()?
            .iter()
            .filter(|a| a["state"] == "firing")
            .count();
        (n == 2).then_some(a)
    });
    for a in firing.as_array().unwrap() {
        let at = a["starts_at"].as_i64().unwrap();
        assert!(starts.contains(&at), "a new start after the restart: {a}");
    }
    // Several group intervals (2 s) after the agent is back: nothing sent.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        sent(&rx, "errored"),
        ["firing"],
        "sent again after a restart"
    );
    assert_eq!(
        sent(&rx, "restarted"),
        ["firing"],
        "sent again after a restart"
    );
    let after = hub.get("/api/v1/alerts/history");
    assert_eq!(after, before, "the history changed across the restart");

    // The errored app is deleted: its alert resolves once, its row closes.
    agent.ok(&["delete", "crash"]);
    wait_for("the resolution", Duration::from_secs(20), || {
        (sent(&rx, "errored") == ["firing", "resolved"]).then_some(())
    });
    let h = hub.get("/api/v1/alerts/history");
    let rows: Vec<_> = h
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["rule"] == "errored")
        .collect();
    assert_eq!(rows.len(), 1, "{h}");
    assert!(rows[0]["ends_at"].is_i64(), "{h}");
}

#[test]
fn a_refused_rule_or_receiver_names_its_field() {
    let hub = Hub::start(Tls::None);
    let refused = |path: &str, body: serde_json::Value| {
        let (status, v) = hub.http("POST", path, Some(&body), true);
        assert_eq!(status, 422, "{body} -> {v}");
        v["error"].as_str().unwrap_or_default().to_string()
    };
    let rule = |extra: serde_json::Value| {
        let mut r = json!({"name": "x", "kind": "restarts", "count": 2, "window_secs": 60});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        refused("/api/v1/alert-rules", r)
    };
    for (extra, field) in [
        (json!({"count": -1}), "count: "),
        (json!({"for_secs": "5m"}), "for_secs: "),
    ] {
        let e = rule(extra.clone());
        assert!(e.starts_with(field), "{extra}: {e}");
    }
    // A receiver that does not exist: the body is fine, the hub's state
    // is not (409), and the field is named all the same.
    let body = json!({"name": "x", "kind": "errored", "receivers": ["nobody"]});
    let (status, v) = hub.http("POST", "/api/v1/alert-rules", Some(&body), true);
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["field"], "receivers[0]", "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("no receiver is named `nobody`"), "{v}");
    let cpu = refused(
        "/api/v1/alert-rules",
        json!({"name": "c", "kind": "cpu", "above": "high"}),
    );
    assert!(cpu.starts_with("above: "), "{cpu}");
    let cpu = refused(
        "/api/v1/alert-rules",
        json!({"name": "c", "kind": "cpu", "above": -1}),
    );
    assert!(cpu.starts_with("above: "), "{cpu}");
    let receiver = |extra: serde_json::Value| {
        let mut r = json!({"name": "r", "kind": "webhook", "url": "http://127.0.0.1:9/"});
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        refused("/api/v1/receivers", r)
    };
    for (extra, field) in [
        (json!({"group_wait_secs": -1}), "group_wait_secs: "),
        (json!({"max_attempts": "five"}), "max_attempts: "),
        (json!({"kind": "slack"}), "url: starts with https://"),
    ] {
        let e = receiver(extra.clone());
        assert!(e.starts_with(field), "{extra}: {e}");
    }
    // A deleted rule's id is not given to the next one.
    let a = add_rule(&hub, json!({"name": "a", "kind": "errored"}));
    let (status, _) = hub.http("DELETE", &format!("/api/v1/alert-rules/{a}"), None, true);
    assert_eq!(status, 204);
    let b = add_rule(&hub, json!({"name": "b", "kind": "errored"}));
    assert!(b > a, "id {a} given again");
    // A receiver a rule sends to is not deleted from under it.
    let rx = Receiver::start(Answer::Script(vec![200]));
    let (id, _) = add_receiver(&hub, "ops", &rx.url(), json!({}));
    add_rule(
        &hub,
        json!({"name": "to ops", "kind": "errored", "receivers": ["ops"]}),
    );
    let (status, v) = hub.http("DELETE", &format!("/api/v1/receivers/{id}"), None, true);
    assert_eq!(status, 409, "{v}");
    assert!(v["error"].as_str().unwrap().contains("to ops"), "{v}");
}

/// `pmr-hub alerts test ops` on `hub`'s data, with `env` set.
fn test_send(hub: &Hub, env: &[(&str, &std::path::Path)]) -> String {
    let mut cmd = hub.command();
    cmd.args(["alerts", "test", "ops"])
        .env_clear_proxies()
        .env_remove("SSL_CERT_FILE")
        .env_remove("SSL_CERT_DIR");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_receiver_behind_a_private_ca_is_trusted_through_ssl_cert_file() {
    // The HTTPS receiver: a second hub serving a certificate of a CA made
    // for the test (its POST answer is 405, which only a TLS peer can give).
    let certs = tempfile::tempdir().unwrap();
    let tls = crate::tls::make_ca(certs.path());
    let crate::harness::Tls::Ca { ca, .. } = &tls else {
        unreachable!()
    };
    let ca = ca.clone();
    let https = Hub::start(tls);
    let hub = Hub::start(Tls::None);
    let url = format!("https://127.0.0.1:{}/healthz", https.port);
    let out = hub.admin(&["alerts", "add-receiver", "--name", "ops", "--url", &url]);
    assert!(out.status.success(), "{out:?}");
    let untrusted = test_send(&hub, &[]);
    assert!(
        untrusted.contains("certificate") && !untrusted.contains("HTTP 405"),
        "an unknown CA is refused: {untrusted}"
    );
    let trusted = test_send(&hub, &[("SSL_CERT_FILE", &ca)]);
    assert!(
        trusted.contains("HTTP 405") && !trusted.contains("certificate"),
        "the CA in SSL_CERT_FILE is trusted: {trusted}"
    );
}
