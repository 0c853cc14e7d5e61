//! The HTTP API as a contract, against the real `pmr-hub` binary over raw
//! HTTP/1.1: the OpenAPI document is public and complete, every documented
//! operation is routed, and every bad request is a JSON error with the
//! right status that names what is wrong.

mod common;

use common::{Hub, Reply};
use serde_json::Value;

/// Every operation the hub's main port has, as `METHOD path`.
const OPERATIONS: [&str; 44] = [
    "DELETE /api/v1/alert-rules/{id}",
    "DELETE /api/v1/keys/{key}",
    "DELETE /api/v1/receivers/{id}",
    "DELETE /api/v1/session",
    "DELETE /api/v1/tokens/{id}",
    "DELETE /api/v1/users/{email}",
    "GET /agent/v1",
    "GET /api/v1/actions/{id}",
    "GET /api/v1/alert-rules",
    "GET /api/v1/alerts",
    "GET /api/v1/alerts/history",
    "GET /api/v1/audit",
    "GET /api/v1/changes",
    "GET /api/v1/changes/kinds",
    "GET /api/v1/cluster",
    "GET /api/v1/deliveries",
    "GET /api/v1/events",
    "GET /api/v1/exceptions",
    "GET /api/v1/keys",
    "GET /api/v1/openapi.json",
    "GET /api/v1/processes",
    "GET /api/v1/receivers",
    "GET /api/v1/servers",
    "GET /api/v1/servers/{id}",
    "GET /api/v1/servers/{id}/logs",
    "GET /api/v1/servers/{id}/processes/{pm_id}",
    "GET /api/v1/session",
    "GET /api/v1/tokens",
    "GET /api/v1/users",
    "GET /api/v1/versions",
    "GET /healthz",
    "GET /metrics",
    "GET /readyz",
    "POST /api/v1/actions",
    "POST /api/v1/alert-rules",
    "POST /api/v1/alert-rules/{id}/mute",
    "POST /api/v1/keys",
    "POST /api/v1/receivers",
    "POST /api/v1/receivers/{id}/test",
    "POST /api/v1/session",
    "POST /api/v1/setup",
    "POST /api/v1/tokens",
    "POST /api/v1/users",
    "POST /api/v1/users/{email}/password",
];

/// `(METHOD, path, needs a token)` of every operation in the document.
fn documented_operations(doc: &Value) -> Vec<(String, String, bool)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // An operation's own `security` overrides the document's.
            let security = op.get("security").unwrap_or(&doc["security"]);
            let needs_token = security.as_array().is_some_and(|s| !s.is_empty());
            ops.push((method.to_ascii_uppercase(), path.clone(), needs_token));
        }
    }
    ops.sort();
    ops
}

#[test]
fn openapi_document_is_public_3_1_and_names_every_route() {
    let hub = Hub::start();
    let r = hub.request("GET", "/api/v1/openapi.json", &[], b"");
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let ops: Vec<String> = documented_operations(&doc)
        .into_iter()
        .map(|(m, p, _)| format!("{m} {p}"))
        .collect();
    assert_eq!(ops, OPERATIONS);
    let bearer = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(bearer["type"], "http");
    assert_eq!(bearer["scheme"], "bearer");
    let error = &doc["components"]["schemas"]["Error"]["properties"];
    assert!(
        error["error"].is_object() && error["status"].is_object(),
        "{error}"
    );
    for p in ["server", "app", "before", "limit"] {
        let params = doc["paths"]["/api/v1/events"]["get"]["parameters"]
            .as_array()
            .unwrap();
        assert!(params.iter().any(|x| x["name"] == p), "events lacks {p}");
    }
}

#[test]
fn every_documented_operation_is_routed_and_guarded_as_documented() {
    let hub = Hub::start();
    let doc = hub.request("GET", "/api/v1/openapi.json", &[], b"").json();
    for (method, path, needs_token) in documented_operations(&doc) {
        let concrete = path
            .replace("{id}", "0")
            .replace("{pm_id}", "0")
            .replace("{key}", "0")
            .replace("{email}", "nobody@example.com");
        let anonymous = hub.request(&method, &concrete, &[], b"");
        let at = format!("{method} {concrete} without a token");
        assert_eq!(anonymous.status == 401, needs_token, "{at}: {anonymous:?}");
        let r = if method == "POST" {
            hub.post_json(&concrete, "{}")
        } else {
            hub.request(&method, &concrete, &[("Authorization", &hub.auth())], b"")
        };
        let at = format!("{method} {concrete}");
        assert_ne!(r.status, 405, "{at}: {r:?}");
        if r.status == 404 {
            // Only the handler's own answer, never the router's.
            let msg = r.error(404, &at);
            let own = [
                "no such server",
                "no such process",
                "no such action",
                "no such active key",
                "no such token",
                "no such user",
                "no such rule",
                "no such receiver",
            ];
            assert!(own.iter().any(|o| msg.starts_with(o)), "{at}: {msg}");
        }
    }
}

#[test]
fn bad_requests_are_json_errors_that_say_what_is_wrong() {
    let hub = Hub::start();
    let cases: [(&str, Reply, u16, &str); 9] = [
        ("non-numeric id", hub.get("/api/v1/servers/abc"), 400, "id"),
        (
            "non-numeric pm_id",
            hub.get("/api/v1/servers/1/processes/x"),
            400,
            "pm_id",
        ),
        (
            "bad limit type",
            hub.get("/api/v1/events?limit=x"),
            400,
            "limit",
        ),
        (
            "limit out of range",
            hub.get("/api/v1/events?limit=0"),
            400,
            "limit",
        ),
        (
            "bad server type",
            hub.get("/api/v1/events?server=web"),
            400,
            "server",
        ),
        (
            "unknown parameter",
            hub.get("/api/v1/processes?bogus=1"),
            400,
            "bogus",
        ),
        (
            "parameter on a route without any",
            hub.get("/api/v1/servers?bogus=1"),
            400,
            "bogus",
        ),
        ("unknown server", hub.get("/api/v1/servers/999"), 404, "999"),
        (
            "unknown action",
            hub.get("/api/v1/actions/a-nope"),
            404,
            "a-nope",
        ),
    ];
    for (what, reply, status, names) in cases {
        let msg = reply.error(status, what);
        assert!(msg.contains(names), "{what}: {msg:?} should name {names}");
    }
}

#[test]
fn bad_bodies_are_json_errors_with_their_own_status() {
    let hub = Hub::start();
    let msg = hub
        .post_json("/api/v1/actions", r#"{"server": 1, "action": "#)
        .error(400, "malformed JSON");
    assert!(msg.contains("JSON"), "{msg}");

    let auth = hub.auth();
    let body = br#"{"server": 1, "action": "restart", "targets": ["all"]}"#;
    let plain = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "text/plain"),
    ];
    let msg = hub
        .request("POST", "/api/v1/actions", &plain, body)
        .error(415, "wrong content type");
    assert!(msg.contains("application/json"), "{msg}");
    let msg = hub
        .request("POST", "/api/v1/actions", &plain[..1], body)
        .error(415, "no content type");
    assert!(msg.contains("application/json"), "{msg}");

    let big = format!(
        r#"{{"server": 1, "action": "restart", "targets": ["{}"]}}"#,
        "x".repeat(70 * 1024)
    );
    hub.post_json("/api/v1/actions", &big)
        .error(413, "70 KiB body");

    let msg = hub
        .post_json(
            "/api/v1/actions",
            r#"{"server": 1, "action": "explode", "targets": ["all"]}"#,
        )
        .error(422, "unknown verb");
    assert!(msg.contains("action") && msg.contains("explode"), "{msg}");
    let msg = hub
        .post_json(
            "/api/v1/actions",
            r#"{"server": 1, "action": "restart", "targets": ["all"], "force": true}"#,
        )
        .error(422, "unknown field");
    assert!(msg.contains("force"), "{msg}");
    let msg = hub
        .post_json(
            "/api/v1/actions",
            r#"{"server": true, "action": "restart", "targets": ["all"]}"#,
        )
        .error(422, "server of the wrong type");
    assert!(msg.contains("server"), "{msg}");
    let msg = hub
        .post_json(
            "/api/v1/actions",
            r#"{"server": "web-9", "action": "restart", "targets": ["all"]}"#,
        )
        .error(404, "unknown server");
    assert!(msg.contains("web-9"), "{msg}");

    let r = hub.request(
        "DELETE",
        "/api/v1/servers",
        &[("Authorization", &auth)],
        b"",
    );
    r.error(405, "wrong method");
    assert!(
        r.header("allow").unwrap_or_default().contains("GET"),
        "{r:?}"
    );
}

#[test]
fn the_token_scheme_is_case_insensitive_and_401s_challenge() {
    let hub = Hub::start();
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let h = format!("{scheme} {}", hub.token);
        let r = hub.request("GET", "/api/v1/servers", &[("Authorization", &h)], b"");
        assert_eq!(r.status, 200, "{scheme}: {r:?}");
        assert!(r.json().is_array(), "{r:?}");
    }
    let cases: [(&str, &[(&str, &str)]); 4] = [
        ("no header", &[]),
        ("unknown token", &[("Authorization", "Bearer pmrt_nope")]),
        ("other scheme", &[("Authorization", "Basic dTpw")]),
        ("empty token", &[("Authorization", "Bearer ")]),
    ];
    for (what, headers) in cases {
        let r = hub.request("GET", "/api/v1/events", headers, b"");
        r.error(401, what);
        let challenge = r.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{what}: {r:?}");
    }
}

#[test]
fn hub_sources_register_routes_only_through_the_routes_macro() {
    // A route added with axum's own method would be missing from the
    // OpenAPI document; `routes!` puts the handler and its documentation in
    // one place. The one exception is the separate `/metrics` listener
    // (`metrics_router` in lib.rs), whose route the document describes, and
    // the dashboard (`src/web/`): its pages and assets are not API routes.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut dirs = vec![root.clone()];
    let mut scanned = 0;
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("src/web") {
                    dirs.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                let mut text = std::fs::read_to_string(&path).unwrap();
                if path.ends_with("src/lib.rs") {
                    text = text.replace(r#".route("/metrics", get(api::ops::metrics_here))"#, "");
                }
                for bad in [".route(", ".route_service(", ".nest_service("] {
                    assert!(!text.contains(bad), "{} uses `{bad}`", path.display());
                }
                scanned += 1;
            }
        }
    }
    assert!(
        scanned >= 20,
        "expected the hub sources in {}",
        root.display()
    );
}

#[test]
fn one_status_per_kind_of_bad_body_and_the_field_is_named() {
    let hub = Hub::start();
    // Not JSON: 400, wherever it is sent.
    for path in [
        "/api/v1/keys",
        "/api/v1/alert-rules",
        "/api/v1/receivers",
        "/api/v1/users",
    ] {
        hub.post_json(path, "{").error(400, path);
    }
    // Readable JSON with a bad field: 422 naming the field, on every route.
    let cases = [
        ("/api/v1/keys", r#"{"bucket": "no spaces"}"#, "bucket"),
        ("/api/v1/tokens", r#"{"name": ""}"#, "name"),
        (
            "/api/v1/users",
            r#"{"email": "x", "role": "viewer"}"#,
            "email",
        ),
        (
            "/api/v1/users",
            r#"{"email": "a@b.c", "role": "viewer", "buckets": ["ok", "not ok"]}"#,
            "buckets[1]",
        ),
        (
            "/api/v1/session",
            r#"{"email": "x", "password": "p"}"#,
            "email",
        ),
        (
            "/api/v1/alert-rules",
            r#"{"name": "r", "kind": "restarts", "count": -1, "window_secs": 60}"#,
            "count",
        ),
        (
            "/api/v1/alert-rules",
            r#"{"name": "r", "kind": "restarts", "count": 1, "window_secs": 60, "for_secs": "5m"}"#,
            "for_secs",
        ),
        (
            "/api/v1/alert-rules",
            r#"{"name": "r", "kind": "cpu", "above": "high", "scope": {"app": 1}}"#,
            "above",
        ),
        (
            "/api/v1/receivers",
            r#"{"name": "r", "kind": "slack", "url": "https://h", "max_attempts": "five"}"#,
            "max_attempts",
        ),
        (
            "/api/v1/receivers",
            r#"{"name": "r", "kind": "slack", "url": "https://h", "group_wait_secs": -1}"#,
            "group_wait_secs",
        ),
        (
            "/api/v1/receivers",
            r#"{"name": "r", "kind": "slack", "url": "http://h"}"#,
            "url",
        ),
        (
            "/api/v1/alert-rules/1/mute",
            r#"{"minutes": -5}"#,
            "minutes",
        ),
    ];
    for (path, body, field) in cases {
        let r = hub.post_json(path, body);
        let msg = r.error(422, &format!("{path} {body}"));
        assert_eq!(r.json()["field"], field, "{path} {body}: {msg}");
        assert!(msg.contains(field.trim_end_matches("[1]")), "{msg}");
    }
    // A whole number written with a fraction is an integer, as in JSON Schema.
    let r = hub.post_json("/api/v1/alert-rules/999/mute", r#"{"minutes": 5.0}"#);
    r.error(404, "mute of a missing rule");
}

#[test]
fn event_streams_are_declared_as_text_event_stream() {
    let hub = Hub::start();
    let doc = hub.request("GET", "/api/v1/openapi.json", &[], b"").json();
    for path in ["/api/v1/changes", "/api/v1/servers/{id}/logs"] {
        let content = &doc["paths"][path]["get"]["responses"]["200"]["content"];
        let keys: Vec<&String> = content.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["text/event-stream"], "{path}");
        let schema = &content["text/event-stream"]["schema"];
        assert_eq!(schema["type"], "string", "{path}: {schema}");
        assert!(
            content["text/event-stream"]["example"]
                .as_str()
                .unwrap()
                .starts_with("event: ")
        );
    }
}
