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

/// What a notification says: its status and each alert's server, status
/// and start. Two alike are the same notification sent twice.
fn said(got: &super::receiver::Got) -> String {
    let b = got.json();
    let mut alerts: Vec<String> = b["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a["labels"]["server"], a["status"], a["startsAt"]
            )
        })
        .collect();
    alerts.sort();
    format!("{}: {}", b["status"], alerts.join(", "))
}

/// Every notification received so far differs from the others.
fn none_twice(rx: &Receiver) {
    let mut all: Vec<String> = rx.got().iter().map(said).collect();
    let n = all.len();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), n, "a notification sent twice: {all:?}");
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
    assert_eq!(
        said(&first).matches("firing").count(),
        2,
        "{}",
        said(&first)
    );
    assert!(!holds_lease(&b), "one holder at a time");
    // Both replicas see the crash loop; each notification went out once.
    std::thread::sleep(Duration::from_secs(4));
    none_twice(&rx);

    // The holder dies: B takes the lease within 10 s and goes on from the
    // notification log, sending no notification again.
    a.stop();
    wait_for("B holds the lease", Duration::from_secs(12), || {
        holds_lease(&b).then_some(())
    });
    let _web2 = crashing_agent(&b, "web-2");
    wait_for(
        "a notification from B about web-2",
        Duration::from_secs(30),
        || {
            rx.got()
                .iter()
                .any(|g| said(g).contains("\"web-2\" \"firing\""))
                .then_some(())
        },
    );
    std::thread::sleep(Duration::from_secs(3));
    none_twice(&rx);
}
