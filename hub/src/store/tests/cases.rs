//! The cases every backend passes: each takes a fresh database.

use pmr_shared::link::messages::{Event, Resume, Rollup};

use super::{Db, event, new_rows, server_id};
use crate::store::{EventQuery, StoreError, Write, Written, write_one};

pub(super) fn events_are_stored_once_and_resume_tracks_them(db: &dyn Db) {
    let s = db.open();
    let s = s.as_ref();
    let key = s.create_key("prod", "PKEY").unwrap();
    let server = server_id(s, key.bucket_id);
    assert_eq!(s.resume(server).unwrap(), Resume::default());
    assert_eq!(
        new_rows(
            s,
            Write::Events {
                server_id: server,
                events: vec![event(1), event(2)]
            }
        ),
        2
    );
    // A replay of the same sequence numbers adds nothing: only 3 is new.
    assert_eq!(
        new_rows(
            s,
            Write::Events {
                server_id: server,
                events: vec![event(2), event(3)]
            }
        ),
        1
    );
    let all = s
        .events(&EventQuery {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(s.resume(server).unwrap().events, 3);
    assert!(matches!(
        s.create_key("prod", "PKEY"),
        Err(StoreError::Conflict(_))
    ));
    let revoked = s.revoke_key("PKEY").unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(matches!(s.revoke_key("nope"), Err(StoreError::NotFound)));
    assert_eq!(s.hub_id().unwrap(), s.hub_id().unwrap());
}

pub(super) fn ten_second_rows_fold_into_five_minute_rows(db: &dyn Db) {
    use pmr_shared::link::messages::{Agg, ProcRollup};
    let s = db.open();
    let s = s.as_ref();
    let key = s.create_key("prod", "PKEY").unwrap();
    let server = server_id(s, key.bucket_id);
    let a = |v: f64| Agg {
        min: v,
        max: v * 2.0,
        avg: v,
        last: v,
    };
    let rollups: Vec<Rollup> = (0..30)
        .map(|i| Rollup {
            seq: i + 1,
            start: 600_000 + i as i64 * 10_000,
            span_ms: 10_000,
            processes: vec![ProcRollup {
                pm_id: 0,
                name: "api".into(),
                cpu: a(i as f64),
                memory: a(100.0),
            }],
        })
        .collect();
    new_rows(
        s,
        Write::Rollups {
            server_id: server,
            rollups,
        },
    );
    assert_eq!(
        write_one(
            s,
            Write::Fold {
                from: 600_000,
                to: 900_000
            }
        )
        .unwrap(),
        Written::Rows(1)
    );
    let coarse = s
        .history(server, 0, crate::store::COARSE_SPAN_MS, 0)
        .unwrap();
    assert_eq!(coarse.len(), 1);
    assert_eq!(coarse[0].start, 600_000);
    assert_eq!(coarse[0].cpu, [0.0, 58.0, 14.5, 29.0]);
    assert_eq!(s.history(server, 0, 10_000, 0).unwrap().len(), 30);
    // Folding again recomputes, never duplicates.
    write_one(
        s,
        Write::Fold {
            from: 600_000,
            to: 900_000,
        },
    )
    .unwrap();
    assert_eq!(
        s.history(server, 0, crate::store::COARSE_SPAN_MS, 0)
            .unwrap()
            .len(),
        1
    );
    // A late row behind the folded mark is noted for the next fold.
    write_one(
        s,
        Write::SetMeta {
            key: "downsampled_until".into(),
            value: "900000".into(),
        },
    )
    .unwrap();
    let late = Rollup {
        seq: 99,
        start: 610_000,
        span_ms: 10_000,
        processes: vec![ProcRollup {
            pm_id: 1,
            name: "w".into(),
            cpu: a(1.0),
            memory: a(1.0),
        }],
    };
    new_rows(
        s,
        Write::Rollups {
            server_id: server,
            rollups: vec![late],
        },
    );
    assert_eq!(
        s.meta("downsample_dirty_from").unwrap().as_deref(),
        Some("610000")
    );
}

pub(super) fn one_failing_write_takes_back_only_its_own_rows(db: &dyn Db) {
    let s = db.open();
    let s = s.as_ref();
    let key = s.create_key("prod", "PKEY").unwrap();
    let server = server_id(s, key.bucket_id);
    let user = |email: &str| Write::CreateUser {
        email: email.into(),
        password_hash: "$argon2id$x".into(),
        role: "viewer".into(),
        buckets: None,
        now: 1,
    };
    let events = Write::Events {
        server_id: server,
        events: vec![event(1)],
    };
    let dup = user("a@example.com");
    let batch = [&user("a@example.com"), &dup, &events];
    let out = s.write(&batch);
    assert!(matches!(out[0], Ok(Written::Id(_))));
    assert!(
        matches!(out[1], Err(StoreError::Conflict(_))),
        "{:?}",
        out[1]
    );
    assert_eq!(out[2].as_ref().unwrap(), &Written::Rows(1));
    assert_eq!(s.users().unwrap().len(), 1);
    assert_eq!(s.resume(server).unwrap().events, 1);
}

pub(super) fn pruning_goes_in_bounded_chunks_until_done(db: &dyn Db) {
    let s = db.open();
    let s = s.as_ref();
    let key = s.create_key("prod", "PKEY").unwrap();
    let server = server_id(s, key.bucket_id);
    let events: Vec<Event> = (1..=12_000).map(event).collect();
    new_rows(
        s,
        Write::Events {
            server_id: server,
            events,
        },
    );
    let prune = || Write::Prune {
        events_before: 2,
        rollups_before: 0,
        coarse_before: 0,
    };
    let chunk = crate::store::PRUNE_CHUNK as u64;
    let mut steps = Vec::new();
    loop {
        match write_one(s, prune()).unwrap() {
            Written::Rows(0) => break,
            Written::Rows(n) => steps.push(n),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(steps, [chunk, chunk, 12_000 - 2 * chunk]);
}

pub(super) fn alert_state_survives_a_reopen_and_ids_are_never_reused(db: &dyn Db) {
    let store = db.open();
    let s = store.as_ref();
    let rule = |name: &str| match write_one(
        s,
        Write::CreateRule {
            name: name.into(),
            spec: "{}".into(),
            now: 1,
        },
    )
    .unwrap()
    {
        Written::Id(id) => id,
        other => panic!("{other:?}"),
    };
    let (a, b) = (rule("a"), rule("b"));
    assert_eq!(new_rows(s, Write::DeleteRule { id: b }), 1);
    let c = rule("c");
    assert!(
        c > b && b > a,
        "a deleted rule's id is not given again: {a} {b} {c}"
    );
    let fired = crate::store::AlertRow {
        fingerprint: "f1".into(),
        rule: "a".into(),
        labels: serde_json::json!({"app": "api"}),
        annotations: serde_json::json!({}),
        starts_at: 100,
        ends_at: None,
        server_id: Some(7),
    };
    assert_eq!(new_rows(s, Write::AlertFired(fired.clone())), 1);
    assert_eq!(new_rows(s, Write::AlertFired(fired)), 0, "fired once");
    let log = crate::store::NotifiedRow {
        receiver_id: 3,
        group_key: "ops:{}".into(),
        sent_at: 150,
        firing: vec!["f1".into()],
        resolved: vec![],
    };
    write_one(s, Write::Notified(log.clone())).unwrap();
    drop(store);
    let store = db.open();
    let s = store.as_ref();
    let open = s.open_alerts().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!((open[0].server_id, open[0].starts_at), (Some(7), 100));
    assert_eq!(s.notification_log().unwrap(), vec![log]);
    let resolve = |at| Write::AlertResolved {
        fingerprint: "f1".into(),
        starts_at: 100,
        ends_at: at,
    };
    assert_eq!(new_rows(s, resolve(200)), 1);
    assert_eq!(new_rows(s, resolve(300)), 0, "closed exactly once");
    assert!(s.open_alerts().unwrap().is_empty());
    assert_eq!(s.alert_history(10).unwrap()[0].ends_at, Some(200));
}
