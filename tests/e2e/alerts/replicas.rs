//! Alerting on two replicas of one database: every replica sees the whole
//! fleet, only the lease holder sends, once; when it dies, the other takes
//! the lease and goes on from what the store kept, sending nothing again.

use std::time::Duration;

use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::{add_receiver, add_rule, crashing_agent};
use crate::harness::{Hub, wait_for, wait_until};

/// Whether `hub` says it holds the once-only lease.
fn holds_lease(hub: &Hub) -> bool {
    let (_, text) = hub.http("GET", "/readyz", None, false);
    text.as_str().is_some_and(|t| t.contains("lease: held"))
}

#[test]
fn the_lease_holder_sends_each_notification_once_and_another_replica_goes_on_when_it_dies() {
    let pg = pmr_tests::postgres::Postgres::start();
    pg.create_database("hub");
    let mut a = Hub::on_database(&pg.url("hub"));
    wait_until("A holds the lease", || holds_lease(&a).then_some(()));
    let b = Hub::on_database(&pg.url("hub"));
    let rx = Receiver::start(Answer::Script(vec![200]));
    add_receiver(&a, "ops", &rx.url(), json!({}));
    add_rule(
        &a,
        json!({"name": "crash loop", "kind": "restarts", "count": 3, "window_secs": 10,
               "severity": "critical", "scope": {"app": "crash"}}),
    );
    // The agent is on B; A, which holds the lease, sees it through the
    // database and sends.
    let _web1 = crashing_agent(&b, "web-1");
    let first = wait_for("the firing notification", Duration::from_secs(30), || {
        rx.got().first().cloned()
    });
    assert_eq!(first.json()["alerts"].as_array().unwrap().len(), 1);
    assert!(!holds_lease(&b), "one holder at a time");
    // Both replicas see the crash loop; one notification went out.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(rx.got().len(), 1, "sent once");

    // The holder dies: B takes the lease within 10 s and sends the group
    // again only when it changes (a second server joins the crash loop).
    a.stop();
    wait_for("B holds the lease", Duration::from_secs(12), || {
        holds_lease(&b).then_some(())
    });
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        rx.got().len(),
        1,
        "the new holder does not send the same group again"
    );
    let _web2 = crashing_agent(&b, "web-2");
    let second = wait_for(
        "the grouped notification from B",
        Duration::from_secs(30),
        || rx.got().get(1).cloned(),
    );
    let servers: Vec<String> = second.json()["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["labels"]["server"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(servers.len(), 2, "{servers:?}");
    assert!(
        servers.contains(&"web-1".into()) && servers.contains(&"web-2".into()),
        "{servers:?}"
    );
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(rx.got().len(), 2, "each notification once");
}
