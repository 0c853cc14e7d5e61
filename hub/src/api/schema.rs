//! OpenAPI schemas of the types the API serves but does not own: the wire
//! protocol's `Proc` and `Host` (pmr-shared) and the store's rows. Each
//! mirror lists the same fields, and a test serializes the real type and
//! compares its keys with the schema's, so the document cannot drift.

// Documentation only: these types are never built.
#![allow(dead_code)]

use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One process as its agent last reported it (pm2's names).
#[derive(ToSchema)]
pub(crate) struct Proc {
    /// Instance id on the agent.
    pm_id: u32,
    /// App name.
    name: String,
    /// Namespace.
    namespace: String,
    /// pm2 status text: `launching`, `online`, `stopping`, `stopped`, `errored` or `waiting restart`.
    status: String,
    /// Main pid, 0 when none.
    pid: u32,
    /// Restart counter.
    restart_time: u32,
    /// Consecutive unstable restarts.
    unstable_restarts: u32,
    /// Last start, Unix ms.
    pm_uptime: u64,
    /// CPU, percent of one core.
    cpu: f32,
    /// Resident memory, bytes.
    memory: u64,
    /// `fork_mode` or `cluster_mode`.
    exec_mode: String,
    /// Custom metrics by name; absent when there are none.
    #[schema(value_type = Object, required = false)]
    metrics: Map<String, Value>,
    /// Git metadata in pm2's `versioning` shape (`type`, `url`, `revision`, `branch`, `comment`, ...); absent when unknown.
    #[schema(value_type = Object, required = false)]
    versioning: Option<Value>,
    /// Names of the custom actions the app registered (@pm2/io), for `trigger`; absent when none.
    #[schema(required = false)]
    actions: Vec<String>,
}

/// Host metrics of a server's last snapshot.
#[derive(ToSchema)]
pub(crate) struct Host {
    /// Host name.
    hostname: String,
    /// Logical CPUs.
    cpus: u32,
    /// CPU busy, percent of all CPUs.
    cpu: f32,
    /// Total memory, bytes.
    mem_total: u64,
    /// Used memory, bytes.
    mem_used: u64,
    /// 1, 5 and 15 minute load averages.
    load: [f32; 3],
    /// Total bytes of the file system holding the agent's home.
    disk_total: u64,
    /// Used bytes of that file system.
    disk_used: u64,
    /// Seconds since boot.
    uptime: u64,
}

/// One window of a process's history.
#[derive(ToSchema)]
pub(crate) struct Rollup {
    /// Window start, Unix ms.
    start: i64,
    /// Window length, ms: 10000 or 300000.
    span_ms: i64,
    /// CPU percent over the window: min, max, avg, last.
    cpu: [f64; 4],
    /// Resident bytes over the window: min, max, avg, last.
    memory: [f64; 4],
}

/// A stored process event (start, exit, restart, ...).
#[derive(ToSchema)]
pub(crate) struct Event {
    /// Row id; pass it as `before` to page further back.
    id: i64,
    /// Server id.
    server_id: i64,
    /// Server name.
    server: String,
    /// The agent's sequence number.
    seq: i64,
    /// When it happened, Unix ms (agent clock).
    at: i64,
    /// Kind: `online`, `exit`, `restart`, `errored`, `stopped`, `reload`, `delete`, `deploy` or `exception`.
    kind: String,
    /// Instance id.
    pm_id: i64,
    /// App name.
    app: String,
    /// Exit code, when it exited.
    code: Option<i64>,
    /// Signal name, when killed by one.
    signal: Option<String>,
    /// Detail text.
    detail: Option<String>,
}

/// A recorded remote action and, once the agent answered, its outcome.
#[derive(ToSchema)]
pub(crate) struct Action {
    /// Action id, `a-` and 16 hex digits.
    id: String,
    /// Server id.
    server_id: i64,
    /// The verb.
    action: String,
    /// Targets, comma-separated.
    targets: String,
    /// Name of the API token that asked.
    requested_by: String,
    /// When it was asked, Unix ms.
    requested_at: i64,
    /// When the result came, Unix ms; null until then.
    finished_at: Option<i64>,
    /// Outcome; null until the result came.
    ok: Option<bool>,
    /// The agent's message; null until the result came.
    message: Option<String>,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde::Serialize;
    use serde_json::json;
    use utoipa::PartialSchema;

    use crate::store::{ActionRow, EventRow, RollupRow};

    fn keys_of(v: &impl Serialize) -> BTreeSet<String> {
        let v = serde_json::to_value(v).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn properties<T: PartialSchema>() -> BTreeSet<String> {
        let v = serde_json::to_value(T::schema()).unwrap();
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    #[test]
    fn mirrors_have_the_fields_of_the_real_types() {
        let proc = pmr_shared::link::messages::Proc {
            metrics: json!({"rps": 1}).as_object().unwrap().clone(),
            versioning: Some(json!({"revision": "abc"})),
            actions: vec!["clear-cache".into()],
            ..Default::default()
        };
        assert_eq!(keys_of(&proc), properties::<super::Proc>());
        let host = pmr_shared::link::messages::Host::default();
        assert_eq!(keys_of(&host), properties::<super::Host>());
        let rollup = RollupRow {
            start: 0,
            span_ms: 10_000,
            cpu: [0.0; 4],
            memory: [0.0; 4],
        };
        assert_eq!(keys_of(&rollup), properties::<super::Rollup>());
        let event = EventRow {
            id: 1,
            server_id: 1,
            server: "s".into(),
            seq: 1,
            at: 0,
            kind: "exit".into(),
            pm_id: 0,
            app: "a".into(),
            code: None,
            signal: None,
            detail: None,
        };
        assert_eq!(keys_of(&event), properties::<super::Event>());
        let action = ActionRow {
            id: "a-0".into(),
            server_id: 1,
            action: "restart".into(),
            targets: "all".into(),
            requested_by: "t".into(),
            requested_at: 0,
            finished_at: None,
            ok: None,
            message: None,
        };
        assert_eq!(keys_of(&action), properties::<super::Action>());
    }
}
