//! Grouping and the notification log on a logical clock (Unix ms).

use std::collections::BTreeMap;

use super::*;
use crate::alerts::receiver::ReceiverKind;

const S: i64 = 1000;

fn route(wait: u64, interval: u64, repeat: u64) -> Route {
    Route {
        id: 1,
        spec: ReceiverSpec {
            name: "ops".into(),
            kind: ReceiverKind::Webhook,
            group_by: vec!["alertname".into()],
            group_wait_secs: wait,
            group_interval_secs: interval,
            repeat_interval_secs: repeat,
            send_resolved: true,
            timeout_secs: 10,
            max_attempts: 5,
        },
    }
}

fn alert(fp: &str, server: &str, state: AlertState) -> Alert {
    let mut a = Alert::test();
    a.fingerprint = fp.into();
    a.state = state;
    a.labels = BTreeMap::from([
        ("alertname".into(), "crash loop".into()),
        ("server".into(), server.into()),
    ]);
    a
}

/// Flushes at `now` and acknowledges every notification as delivered.
fn flush_ok(d: &mut Dispatcher, now: i64) -> Vec<Notification> {
    let out = d.flush(now);
    for n in &out {
        d.ack(n, true, now);
    }
    out
}

#[test]
fn groups_wait_then_send_changes_per_interval_and_repeat_unchanged() {
    let t0 = 1_000_000;
    let mut d = Dispatcher::new(vec![route(30, 300, 4 * 3600)], "https://hub".into());
    // 1,000 alerts at once: one group, one notification after group_wait.
    for i in 0..1000 {
        let a = alert(&format!("{i:016}"), &format!("web-{i}"), AlertState::Firing);
        d.add(&a, &[], t0);
    }
    assert!(flush_ok(&mut d, t0 + 29 * S).is_empty());
    let first = flush_ok(&mut d, t0 + 30 * S);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].alerts.len(), 1000);
    // Nothing new: nothing at the next interval.
    assert!(flush_ok(&mut d, t0 + 330 * S).is_empty());
    // A resolution goes out at the interval after it, with the firing rest.
    let resolved = alert("0000000000000007", "web-7", AlertState::Resolved);
    d.add(&resolved, &[], t0 + 400 * S);
    assert!(
        flush_ok(&mut d, t0 + 500 * S).is_empty(),
        "not before the group interval"
    );
    let second = flush_ok(&mut d, t0 + 630 * S);
    assert_eq!(second.len(), 1);
    let n_resolved = second[0]
        .alerts
        .iter()
        .filter(|a| a.status == "resolved")
        .count();
    assert_eq!(n_resolved, 1);
    assert_eq!(second[0].alerts.len(), 1000);
    // Unchanged and firing: again only after the repeat interval.
    let mut at = t0 + 630 * S;
    let mut sent = 0;
    while at < t0 + (630 + 4 * 3600) * S {
        at += 300 * S;
        sent += flush_ok(&mut d, at).len();
    }
    assert_eq!(sent, 1, "one repeat in four hours");
}

#[test]
fn an_alert_goes_only_to_the_receivers_its_rule_names() {
    let mut d = Dispatcher::new(vec![route(0, 1, 10)], "https://hub".into());
    let t0 = 1_000_000;
    d.add(
        &alert("a", "web-1", AlertState::Firing),
        &["pager".into()],
        t0,
    );
    assert!(flush_ok(&mut d, t0 + S).is_empty());
    d.add(
        &alert("a", "web-1", AlertState::Firing),
        &["ops".into()],
        t0,
    );
    assert_eq!(flush_ok(&mut d, t0 + S).len(), 1);
}

#[test]
fn a_restarted_dispatcher_sends_an_unchanged_group_only_when_repeat_is_due() {
    let t0 = 1_000_000;
    let mut d = Dispatcher::new(vec![route(30, 300, 3600)], "https://hub".into());
    d.add(&alert("a", "web-1", AlertState::Firing), &[], t0);
    let sent = d.flush(t0 + 30 * S);
    let row = d.ack(&sent[0], true, t0 + 31 * S).expect("a log entry");
    assert_eq!(row.firing, vec!["a".to_string()]);
    // The hub restarts 9 s later: the alert is restored, the log read back.
    let restart = t0 + 40 * S;
    let mut d = Dispatcher::new(vec![route(30, 300, 3600)], "https://hub".into());
    d.restore_log(vec![row]);
    d.add(&alert("a", "web-1", AlertState::Firing), &[], restart);
    let mut at = restart;
    while at < t0 + 31 * S + 3600 * S - 300 * S {
        at += 30 * S;
        assert!(flush_ok(&mut d, at).is_empty(), "nothing new at {at}");
    }
    // The repeat interval since the last delivery: sent again.
    let mut later = 0;
    while at < t0 + 31 * S + 3600 * S + 300 * S {
        at += 30 * S;
        later += flush_ok(&mut d, at).len();
    }
    assert_eq!(later, 1);
    // A new alert in the group is news at once, restart or not.
    let mut d2 = Dispatcher::new(vec![route(30, 300, 3600)], "https://hub".into());
    d2.restore_log(vec![NotifiedRow {
        receiver_id: 1,
        group_key: "ops:{alertname=\"crash loop\"}".into(),
        sent_at: t0,
        firing: vec!["a".into()],
        resolved: vec![],
    }]);
    d2.add(&alert("a", "web-1", AlertState::Firing), &[], t0 + S);
    d2.add(&alert("b", "web-2", AlertState::Firing), &[], t0 + S);
    assert_eq!(flush_ok(&mut d2, t0 + 31 * S).len(), 1);
}

#[test]
fn a_notification_that_failed_every_attempt_is_tried_at_the_next_interval() {
    let t0 = 1_000_000;
    let mut d = Dispatcher::new(vec![route(0, 60, 3600)], "https://hub".into());
    d.add(&alert("a", "web-1", AlertState::Firing), &[], t0);
    let first = d.flush(t0);
    assert_eq!(first.len(), 1);
    // Still being delivered at the next interval: not sent twice.
    assert!(d.flush(t0 + 60 * S).is_empty());
    assert!(d.ack(&first[0], false, t0 + 70 * S).is_none());
    let again = d.flush(t0 + 120 * S);
    assert_eq!(again.len(), 1, "kept and tried again");
    assert_eq!(again[0].alerts[0].fingerprint, "a");
    assert!(d.ack(&again[0], true, t0 + 121 * S).is_some());
    assert!(
        flush_ok(&mut d, t0 + 180 * S).is_empty(),
        "delivered: quiet"
    );
    // A resolution that fails is kept too, then delivered once.
    d.add(
        &alert("a", "web-1", AlertState::Resolved),
        &[],
        t0 + 200 * S,
    );
    let r = d.flush(t0 + 240 * S);
    assert_eq!(r[0].alerts[0].status, "resolved");
    d.ack(&r[0], false, t0 + 241 * S);
    let r = flush_ok(&mut d, t0 + 300 * S);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].alerts[0].status, "resolved");
    assert!(d.due().is_none(), "the group is gone once its end was told");
}
