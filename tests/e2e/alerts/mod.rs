//! Alerts end to end: a real agent whose app crash-loops, a real hub, and
//! real webhook receivers (axum on loopback). Checks the Alertmanager body
//! field by field, the signature, grouping, resolution, retries, a dead
//! receiver beside a live one, offline servers and muted rules.

mod command_line;
mod delivery;
mod model;
mod proxy;
mod receiver;
mod replicas;
mod restart;
mod shared_key;

use std::time::Duration;

use receiver::{Answer, Receiver};
use serde_json::{Value, json};

use crate::harness::{Agent, Hub, Tls, wait_for};

/// A receiver made through the API; returns (id, secret).
fn add_receiver(hub: &Hub, name: &str, url: &str, extra: Value) -> (i64, Option<String>) {
    let mut body = json!({"name": name, "kind": "webhook", "url": url,
        "group_wait_secs": 1, "group_interval_secs": 2, "repeat_interval_secs": 3600});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, v) = hub.http("POST", "/api/v1/receivers", Some(&body), true);
    assert_eq!(status, 201, "{v}");
    (
        v["receiver"]["id"].as_i64().unwrap(),
        v["secret"].as_str().map(String::from),
    )
}

/// A test notification to receiver `id` through the API (200 asserted);
/// its attempts, and their outcomes in order.
fn test_attempts(hub: &Hub, id: i64) -> (Value, Vec<String>) {
    let (status, attempts) = hub.http("POST", &format!("/api/v1/receivers/{id}/test"), None, true);
    assert_eq!(status, 200, "{attempts}");
    let outcomes = attempts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap().to_string())
        .collect();
    (attempts, outcomes)
}

/// A rule made through the API; returns its id.
fn add_rule(hub: &Hub, rule: Value) -> i64 {
    let (status, v) = hub.http("POST", "/api/v1/alert-rules", Some(&rule), true);
    assert_eq!(status, 201, "{v}");
    v["id"].as_i64().unwrap()
}

/// Checks `X-Pmr-Signature: t=..,v1=..` against the secret.
fn signed(got: &receiver::Got, secret: &str) -> bool {
    let Some(sig) = got.header("x-pmr-signature") else {
        return false;
    };
    let (t, v1) = sig.split_once(",v1=").unwrap();
    let t = t.strip_prefix("t=").unwrap();
    let key = ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        &(0..secret.len() / 2)
            .map(|i| u8::from_str_radix(&secret[2 * i..2 * i + 2], 16).unwrap())
            .collect::<Vec<u8>>(),
    );
    let mut msg = t.as_bytes().to_vec();
    msg.push(b'.');
    msg.extend_from_slice(&got.raw);
    let want: String = ring::hmac::sign(&key, &msg)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    want == v1
}

/// An agent linked as `name` with app `crash` that exits 0.3 s after it starts.
fn crashing_agent(hub: &Hub, name: &str) -> Agent {
    let agent = Agent::new();
    agent.link(hub, name, &[]);
    agent.write("crash.sh", "sleep 0.3; echo boom >&2; exit 1\n");
    agent.ok(&["start", "crash.sh", "--name", "crash"]);
    agent
}

#[test]
fn a_crash_loop_fires_one_signed_grouped_alert_and_resolves() {
    let hub = Hub::start(Tls::None);
    let rx = Receiver::start(Answer::Script(vec![200]));
    let (_, secret) = add_receiver(&hub, "ops", &rx.url(), json!({}));
    let secret = secret.expect("a webhook's secret, once");
    add_rule(
        &hub,
        json!({"name": "crash loop", "kind": "restarts", "count": 3, "window_secs": 10,
               "severity": "critical", "scope": {"app": "crash"}, "labels": {"team": "web"}}),
    );
    let _agent = crashing_agent(&hub, "web-1");
    let first = wait_for("the firing notification", Duration::from_secs(30), || {
        rx.got().first().cloned()
    });
    assert!(
        signed(&first, &secret),
        "bad signature: {:?}",
        first.header("x-pmr-signature")
    );
    let b = first.json();
    assert_eq!(b["version"], "4");
    assert_eq!(b["status"], "firing");
    assert_eq!(b["receiver"], "ops");
    assert_eq!(b["groupKey"], "ops:{alertname=\"crash loop\"}");
    assert_eq!(b["groupLabels"], json!({"alertname": "crash loop"}));
    assert_eq!(b["truncatedAlerts"], 0);
    let common = &b["commonLabels"];
    for (k, v) in [
        ("alertname", "crash loop"),
        ("app", "crash"),
        ("server", "web-1"),
        ("severity", "critical"),
        ("team", "web"),
        ("bucket", "prod"),
    ] {
        assert_eq!(common[k], v, "commonLabels.{k} in {b}");
    }
    assert!(
        b["commonAnnotations"]["summary"]
            .as_str()
            .unwrap()
            .contains("restarts"),
        "{b}"
    );
    assert!(
        b["externalURL"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:"),
        "{b}"
    );
    let alerts = b["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "one alert, grouped: {b}");
    let a = &alerts[0];
    assert_eq!(a["status"], "firing");
    assert_eq!(a["labels"], *common);
    assert!(
        a["annotations"]["description"]
            .as_str()
            .unwrap()
            .contains("crash on web-1"),
        "{a}"
    );
    assert!(a["startsAt"].as_str().unwrap().ends_with('Z'), "{a}");
    assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
    assert!(
        a["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/processes?q=crash"),
        "{a}"
    );
    assert_eq!(a["fingerprint"].as_str().unwrap().len(), 16);
    // A receiver written for Alertmanager reads it unchanged.
    if let Some(m) = model::parsed(&first.raw) {
        assert_eq!(m["receiver"], "ops");
        assert_eq!(m["status"], "firing");
        assert_eq!(m["group_key"], b["groupKey"]);
        assert_eq!(m["alerts"][0]["fingerprint"], a["fingerprint"]);
        assert_eq!(m["alerts"][0]["labels"]["app"], "crash");
        assert_eq!(m["common_labels"]["severity"], "critical");
    }
    // The current alerts say the same.
    let now = hub.get("/api/v1/alerts");
    assert_eq!(now[0]["state"], "firing", "{now}");
    // The app ends errored (too many unstable restarts): the window empties
    // and the alert resolves, in one more notification of the same group.
    let resolved = wait_for("the resolved notification", Duration::from_secs(40), || {
        rx.got()
            .into_iter()
            .find(|g| g.json()["status"] == "resolved")
    });
    let r = resolved.json();
    assert!(signed(&resolved, &secret));
    assert_eq!(r["groupKey"], b["groupKey"]);
    assert_eq!(r["alerts"][0]["status"], "resolved");
    assert_ne!(r["alerts"][0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(r["alerts"][0]["fingerprint"], a["fingerprint"]);
    let firing = rx
        .got()
        .iter()
        .filter(|g| g.json()["status"] == "firing")
        .count();
    assert_eq!(firing, 1, "one firing notification for the whole loop");
    // The history has it, resolved; the delivery log has both sends.
    wait_for(
        "the resolved alert in the history",
        Duration::from_secs(5),
        || {
            let h = hub.get("/api/v1/alerts/history");
            (h[0]["rule"] == "crash loop" && h[0]["ends_at"].is_i64()).then_some(())
        },
    );
    let d = hub.get("/api/v1/deliveries");
    assert!(
        d.as_array()
            .unwrap()
            .iter()
            .filter(|x| x["outcome"] == "delivered")
            .count()
            >= 2,
        "{d}"
    );
}

#[test]
fn an_offline_server_fires_after_its_grace_and_resolves_when_back() {
    let hub = Hub::start(Tls::None);
    let rx = Receiver::start(Answer::Script(vec![200]));
    add_receiver(&hub, "ops", &rx.url(), json!({}));
    add_rule(
        &hub,
        json!({"name": "offline", "kind": "offline", "grace_secs": 2, "severity": "critical"}),
    );
    let agent = Agent::new();
    agent.link(&hub, "web-1", &[]);
    wait_for("the server online", Duration::from_secs(10), || {
        hub.server("web-1").filter(|s| s["online"] == true)
    });
    agent.ok(&["kill"]);
    let fired = wait_for("offline fired", Duration::from_secs(20), || {
        rx.got()
            .into_iter()
            .find(|g| g.json()["status"] == "firing")
    });
    let b = fired.json();
    assert_eq!(b["alerts"][0]["labels"]["server"], "web-1");
    assert!(
        b["alerts"][0]["labels"].get("app").is_none(),
        "a server alert: {b}"
    );
    assert!(
        b["alerts"][0]["generatorURL"]
            .as_str()
            .unwrap()
            .contains("/servers/"),
        "{b}"
    );
    // The next command starts the daemon, which links again.
    agent.ok(&["list"]);
    wait_for("resolved", Duration::from_secs(30), || {
        rx.got()
            .into_iter()
            .find(|g| g.json()["status"] == "resolved")
    });
}

#[test]
fn exceptions_are_grouped_across_languages_and_a_new_group_alerts() {
    let hub = Hub::start(Tls::None);
    let rx = Receiver::start(Answer::Script(vec![200]));
    add_receiver(&hub, "ops", &rx.url(), json!({}));
    add_rule(
        &hub,
        json!({"name": "new exception", "kind": "new_exception"}),
    );
    let agent = Agent::new();
    agent.link(&hub, "web-1", &[]);
    // Node: two unhandled rejections of one kind; the app keeps running.
    agent.write(
        "pay.js",
        "let n = 40;\nconst fail = () => Promise.reject(new Error(`card ${n++} declined`));\n\
         setTimeout(fail, 300);\nsetTimeout(fail, 600);\nsetInterval(() => {}, 1000);\n",
    );
    agent.ok(&["start", "pay.js", "--name", "pay"]);
    // Python: a crash with a traceback (no IPC: found in its error lines).
    agent.write("w.py", "import time\ntime.sleep(0.3)\nprint(1 / 0)\n");
    agent.ok(&[
        "start",
        "w.py",
        "--name",
        "worker",
        "--interpreter",
        "python3",
        "--max-restarts",
        "1",
    ]);
    let groups = wait_for("both groups", Duration::from_secs(30), || {
        let g = hub.get("/api/v1/exceptions");
        let pay = g
            .as_array()?
            .iter()
            .find(|x| x["app"] == "pay" && x["count"] == 2)?
            .clone();
        let py = g.as_array()?.iter().find(|x| x["app"] == "worker")?.clone();
        Some((pay, py))
    });
    let (pay, py) = groups;
    assert_eq!(pay["message"], "Error: card 40 declined", "{pay}");
    assert!(pay["frame"].as_str().unwrap().contains("pay.js"), "{pay}");
    assert_eq!(pay["servers"], json!(["web-1"]));
    assert!(
        pay["sample"].as_str().unwrap().contains("card 41 declined"),
        "the latest: {pay}"
    );
    assert_eq!(py["message"], "ZeroDivisionError: division by zero", "{py}");
    assert!(py["sample"].as_str().unwrap().contains("Traceback"), "{py}");
    // The Node app never went down for its rejections.
    let pay_proc = agent
        .jlist()
        .into_iter()
        .find(|p| p["name"] == "pay")
        .unwrap();
    assert_eq!(pay_proc["pm2_env"]["status"], "online");
    assert_eq!(pay_proc["pm2_env"]["restart_time"], 0);
    // One alert per new group, not per occurrence.
    let fired = wait_for("two new-exception alerts", Duration::from_secs(20), || {
        let apps: std::collections::BTreeSet<String> = rx
            .got()
            .iter()
            .flat_map(|g| g.json()["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|a| a["status"] == "firing")
            .map(|a| a["labels"]["app"].as_str().unwrap_or("").to_string())
            .collect();
        (apps.len() == 2).then_some(apps)
    });
    assert_eq!(fired.into_iter().collect::<Vec<_>>(), ["pay", "worker"]);
}

#[test]
fn an_app_stopped_by_its_own_exit_alerts_and_a_stop_someone_asked_for_does_not() {
    let hub = Hub::start(Tls::None);
    let rx = Receiver::start(Answer::Script(vec![200]));
    add_receiver(&hub, "ops", &rx.url(), json!({}));
    add_rule(&hub, json!({"name": "stopped", "kind": "stopped"}));
    let agent = Agent::new();
    agent.link(&hub, "web-1", &[]);
    // Exits on its first run; runs on after.
    agent.write(
        "once.sh",
        "if [ -f ran ]; then while true; do sleep 1; done; fi\ntouch ran; sleep 0.5; exit 0\n",
    );
    agent.write("long.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "long.sh", "--name", "long"]);
    agent.ok(&["start", "once.sh", "--name", "once", "--no-autorestart"]);
    wait_for("the process in the hub", Duration::from_secs(10), || {
        hub.process("web-1", "long")
    });
    agent.ok(&["stop", "long"]);
    let got = wait_for("the stopped alert", Duration::from_secs(20), || {
        rx.got()
            .into_iter()
            .find(|g| g.json()["status"] == "firing")
    });
    let b = got.json();
    assert_eq!(b["alerts"].as_array().unwrap().len(), 1, "{b}");
    assert_eq!(
        b["alerts"][0]["labels"]["app"], "once",
        "only the app that stopped itself: {b}"
    );
    // It runs again: resolved.
    agent.ok(&["restart", "once"]);
    wait_for("resolved", Duration::from_secs(20), || {
        rx.got()
            .into_iter()
            .find(|g| g.json()["status"] == "resolved")
    });
}
