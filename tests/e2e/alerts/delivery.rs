//! Delivery: retries on 5xx only (from the API and the command line),
//! every attempt logged; a dead receiver delays neither the others nor
//! ingest; a muted rule sends nothing.

use std::time::Duration;

use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::{add_receiver, add_rule, crashing_agent, test_attempts};
use crate::harness::{ClearProxies, Hub, Tls, wait_for};

#[test]
fn failed_sends_are_retried_on_5xx_only() {
    let hub = Hub::start(Tls::None);
    let flaky = Receiver::start(Answer::Script(vec![500, 500, 200]));
    let (id, _) = add_receiver(&hub, "flaky", &flaky.url(), json!({}));
    let (_, outcomes) = test_attempts(&hub, id);
    assert_eq!(outcomes, ["retrying", "retrying", "delivered"]);
    assert_eq!(flaky.got().len(), 3, "three attempts, one delivery");
    let refusing = Receiver::start(Answer::Script(vec![403]));
    let (id, _) = add_receiver(&hub, "refusing", &refusing.url(), json!({}));
    let (_, attempts) = hub.http("POST", &format!("/api/v1/receivers/{id}/test"), None, true);
    assert_eq!(
        attempts.as_array().unwrap().len(),
        1,
        "no retry on 4xx: {attempts}"
    );
    assert_eq!(attempts[0]["http_status"], 403);
    assert_eq!(refusing.got().len(), 1);
    // The same from the command line.
    let out = hub.admin(&["alerts", "test", "flaky"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("attempt 1: delivered HTTP 200"),
        "{text}"
    );
    let out = hub
        .command()
        .args(["alerts", "test", "refusing"])
        .env_clear_proxies()
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("not delivered"),
        "{err}"
    );
    // The log has every attempt (written beside the sending, not before it).
    wait_for("every attempt in the log", Duration::from_secs(5), || {
        (hub.get("/api/v1/deliveries").as_array()?.len() == 6).then_some(())
    });
}

#[test]
fn a_dead_receiver_delays_neither_the_others_nor_ingest_and_a_muted_rule_sends_nothing() {
    let hub = Hub::start(Tls::None);
    let dead = Receiver::start(Answer::Never);
    let live = Receiver::start(Answer::Script(vec![200]));
    add_receiver(&hub, "dead", &dead.url(), json!({"timeout_secs": 30}));
    add_receiver(&hub, "live", &live.url(), json!({}));
    add_rule(&hub, json!({"name": "errored", "kind": "errored"}));
    let muted = add_rule(
        &hub,
        json!({"name": "quiet", "kind": "restarts", "count": 1, "window_secs": 60}),
    );
    let (status, v) = hub.http(
        "POST",
        &format!("/api/v1/alert-rules/{muted}/mute"),
        Some(&json!({"minutes": 60})),
        true,
    );
    assert_eq!(status, 200, "{v}");
    assert!(v["muted_until"].is_i64());
    let agent = crashing_agent(&hub, "web-1");
    // The live receiver gets the errored alert while the dead one still
    // holds its first request open.
    let got = wait_for(
        "the live receiver's notification",
        Duration::from_secs(40),
        || {
            live.got()
                .into_iter()
                .find(|g| g.json()["groupLabels"]["alertname"] == "errored")
        },
    );
    assert_eq!(got.json()["alerts"][0]["labels"]["app"], "crash");
    assert!(!dead.got().is_empty(), "the dead receiver was asked too");
    // Ingest goes on: a new app shows in the API at once.
    agent.write("ok.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "ok.sh", "--name", "fine"]);
    wait_for("the new app in the API", Duration::from_secs(5), || {
        hub.process("web-1", "fine")
    });
    // The muted rule fired (it shows) but nothing was sent for it.
    let now = hub.get("/api/v1/alerts");
    assert!(
        now.as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["alertname"] == "quiet"),
        "{now}"
    );
    std::thread::sleep(Duration::from_secs(3));
    let quiet = live
        .got()
        .iter()
        .filter(|g| g.json()["groupLabels"]["alertname"] == "quiet")
        .count();
    assert_eq!(quiet, 0, "a muted rule sent a notification");
}
