//! The engine's behaviour, kind by kind, on a logical clock.

mod support {
    use super::super::*;
    use crate::alerts::rule::RuleSpec;
    use crate::live::{Live, ServerView};

    pub(super) fn rule(id: i64, json: serde_json::Value) -> Rule {
        Rule {
            id,
            spec: RuleSpec::parse(json).unwrap(),
            muted_until: None,
            source: "api",
        }
    }

    pub(super) fn live_with(status: &str) -> Live {
        let live = Live::default();
        let base = ServerView {
            id: 1,
            bucket: "prod".into(),
            name: "web-1".into(),
            online: true,
            ..Default::default()
        };
        let _attached = live.attach(base, 1);
        live.update(1, |v| {
            v.processes.insert(
                0,
                pmr_shared::link::messages::Proc {
                    name: "api".into(),
                    namespace: "default".into(),
                    status: status.into(),
                    ..Default::default()
                },
            )
        });
        live
    }
}

mod kinds {
    use super::super::*;
    use super::support::*;
    use crate::ingest::feed::Change;

    /// A restart event the agent stamped at `at`.
    fn restart_at(at: i64) -> Change {
        Change::Event {
            server_id: 1,
            event: pmr_shared::link::messages::Event {
                seq: 1,
                at,
                kind: pmr_shared::link::messages::EventKind::Restart,
                pm_id: 0,
                name: "api".into(),
                namespace: Some("default".into()),
                code: None,
                signal: None,
                detail: None,
            },
        }
    }

    fn restart(n: u32) -> Change {
        restart_at(i64::from(n - 1) * 1000)
    }

    #[test]
    fn a_fast_crash_loop_counts_every_restart_even_in_one_snapshot() {
        // Six crashes 150 ms apart, the events arriving together a second
        // later (as one snapshot interval would bunch them): six counted.
        let live = live_with("online");
        let r = rule(
            1,
            serde_json::json!({"name": "loop", "kind": "restarts", "count": 6, "window_secs": 60}),
        );
        let mut e = Engine::new(vec![r]);
        let mut fired = Vec::new();
        for i in 0..6 {
            fired.extend(e.on_change(&restart_at(10_000 + i * 150), &live, 11_000));
        }
        assert_eq!(fired.len(), 1, "six restarts reach a threshold of six");
        assert_eq!(fired[0].alert.value, "6");
        // A replay of restarts an hour old does not count in a minute's window.
        let mut e = Engine::new(vec![rule(
            1,
            serde_json::json!({"name": "loop", "kind": "restarts", "count": 2, "window_secs": 60}),
        )]);
        for i in 0..5 {
            assert!(
                e.on_change(&restart_at(i * 100), &live, 3_600_000)
                    .is_empty()
            );
        }
    }

    #[test]
    fn restarts_in_a_window_fire_at_the_threshold_and_resolve_when_it_slides() {
        let live = live_with("online");
        let r = rule(
            1,
            serde_json::json!({"name": "loop", "kind": "restarts", "count": 3, "window_secs": 10}),
        );
        let mut e = Engine::new(vec![r]);
        assert!(e.on_change(&restart(1), &live, 0).is_empty());
        assert!(e.on_change(&restart(2), &live, 1000).is_empty());
        let fired = e.on_change(&restart(3), &live, 2000);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].alert.state, AlertState::Firing);
        assert_eq!(fired[0].alert.value, "3");
        assert_eq!(fired[0].alert.labels["app"], "api");
        assert!(e.tick(&live, 9_000).is_empty(), "still 3 within the window");
        let resolved = e.tick(&live, 10_500);
        assert_eq!(resolved.len(), 1, "the first restart left the window");
        assert_eq!(resolved[0].alert.state, AlertState::Resolved);
        assert_eq!(resolved[0].alert.ends_at, Some(10_500));
        assert!(e.alerts().is_empty());
    }

    #[test]
    fn a_condition_is_pending_for_the_rule_duration_then_fires() {
        let live = live_with("errored");
        let r = rule(
            1,
            serde_json::json!({"name": "down", "kind": "errored", "for_secs": 5}),
        );
        let mut e = Engine::new(vec![r]);
        let c = Change::ProcessStatus {
            server_id: 1,
            pm_id: 0,
            app: "api".into(),
            was: Some("online".into()),
            status: "errored".into(),
        };
        assert!(e.on_change(&c, &live, 0).is_empty());
        assert_eq!(e.alerts()[0].state, AlertState::Pending);
        assert!(e.tick(&live, 4_999).is_empty());
        let fired = e.tick(&live, 5_000);
        assert_eq!(fired[0].alert.state, AlertState::Firing);
        // Back online before the end of a pending period: dropped, no notice.
        let live = live_with("online");
        let mut e = Engine::new(vec![rule(
            1,
            serde_json::json!({"name": "down", "kind": "errored", "for_secs": 5}),
        )]);
        let errored = live_with("errored");
        e.on_change(&c, &errored, 0);
        assert!(e.on_change(&c, &live, 1000).is_empty());
        assert!(e.alerts().is_empty() && e.tick(&live, 10_000).is_empty());
    }

    #[test]
    fn an_engine_that_missed_changes_catches_up_from_the_live_state() {
        let r = rule(1, serde_json::json!({"name": "down", "kind": "errored"}));
        let mut e = Engine::new(vec![r]);
        // The status change was dropped: only the live state says errored.
        let fired = e.resync(&live_with("errored"), 1000);
        assert_eq!(fired.len(), 1);
        assert_eq!(fired[0].alert.state, AlertState::Firing);
        assert!(e.resync(&live_with("errored"), 2000).is_empty(), "once");
        // Back online, that change dropped too: resolved on the next catch-up.
        let resolved = e.resync(&live_with("online"), 3000);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].alert.state, AlertState::Resolved);
    }

    #[test]
    fn offline_fires_after_grace_and_is_quiet_for_a_minute_after_a_return() {
        let live = live_with("online");
        let r = rule(
            1,
            serde_json::json!({"name": "off", "kind": "offline", "grace_secs": 30}),
        );
        let mut e = Engine::new(vec![r]);
        e.on_change(&Change::ServerDown { server_id: 1 }, &live, 0);
        assert!(e.tick(&live, 29_000).is_empty());
        assert_eq!(e.tick(&live, 30_000).len(), 1);
        let up = Change::ServerUp {
            server_id: 1,
            name: "web-1".into(),
            bucket: "prod".into(),
        };
        assert_eq!(
            e.on_change(&up, &live, 40_000)[0].alert.state,
            AlertState::Resolved
        );
        // Down again 10 s later: its grace starts a minute after the return.
        e.on_change(&Change::ServerDown { server_id: 1 }, &live, 50_000);
        assert!(
            e.tick(&live, 90_000).is_empty(),
            "quiet minute after the return"
        );
        assert!(e.tick(&live, 129_000).is_empty());
        assert_eq!(e.tick(&live, 130_000).len(), 1);
    }
}

mod exceptions {
    use super::super::*;
    use super::support::*;
    use crate::ingest::feed::Change;

    fn exception(msg: &str) -> Change {
        exception_in("api", None, msg)
    }

    fn exception_in(app: &str, namespace: Option<&str>, msg: &str) -> Change {
        Change::Event {
            server_id: 1,
            event: pmr_shared::link::messages::Event {
                seq: 1,
                at: 0,
                kind: pmr_shared::link::messages::EventKind::Exception,
                pm_id: 0,
                name: app.into(),
                namespace: namespace.map(String::from),
                code: None,
                signal: None,
                detail: Some(format!("{msg}\n    at f (/a.js:1:1)")),
            },
        }
    }

    #[test]
    fn an_exception_group_over_its_rate_fires_per_group_and_resolves() {
        let live = live_with("online");
        let r = rule(
            1,
            serde_json::json!({"name": "noisy", "kind": "exception_rate", "count": 2, "window_secs": 10}),
        );
        let mut e = Engine::new(vec![r]);
        assert!(e.on_change(&exception("Error: a 1"), &live, 0).is_empty());
        assert!(
            e.on_change(&exception("Error: b"), &live, 500).is_empty(),
            "another group"
        );
        let fired = e.on_change(&exception("Error: a 2"), &live, 1000);
        assert_eq!(fired.len(), 1, "the same group (digits folded)");
        assert_eq!(fired[0].alert.labels["exception"], "Error: a 1");
        assert!(e.tick(&live, 9_000).is_empty());
        let resolved = e.tick(&live, 10_500);
        assert_eq!(resolved.len(), 1);
        assert_eq!(resolved[0].alert.state, AlertState::Resolved);
    }

    #[test]
    fn an_exception_is_labelled_with_the_namespace_its_event_carries() {
        // `fresh` started a moment ago: the live list does not have it yet.
        let live = live_with("online");
        let scoped = rule(
            1,
            serde_json::json!({"name": "pay", "kind": "exception_rate", "count": 2,
                "window_secs": 60, "scope": {"namespace": "payments"}}),
        );
        let any = rule(
            2,
            serde_json::json!({"name": "all", "kind": "exception_rate", "count": 2, "window_secs": 60}),
        );
        let mut e = Engine::new(vec![scoped, any]);
        let boom = exception_in("fresh", Some("payments"), "Error: boom");
        assert!(e.on_change(&boom, &live, 0).is_empty());
        let fired = e.on_change(&boom, &live, 100);
        assert_eq!(fired.len(), 2, "the scoped rule fires too: {fired:?}");
        for t in &fired {
            assert_eq!(t.alert.labels["namespace"], "payments");
            assert_eq!(t.alert.labels["app"], "fresh");
        }
        // Once the app is listed, its exceptions are still one group each.
        assert!(
            e.on_change(&boom, &live, 200).is_empty(),
            "no second fingerprint"
        );
        assert_eq!(e.alerts().len(), 2);
    }
}
