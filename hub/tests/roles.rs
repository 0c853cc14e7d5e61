//! Every role on every protected route of a real hub: a caller below the
//! route's role is refused with 403, one at or above it is not (whatever
//! else the route answers); a bucket-limited admin cannot manage what spans
//! every bucket; nobody grants a role above their own.

mod common;

use common::Hub;
use serde_json::Value;

/// Callers, lowest role first: (label, role rank, limited to a bucket).
const CALLERS: [(&str, u8, bool); 5] = [
    ("viewer", 0, false),
    ("operator", 1, false),
    ("admin", 2, false),
    ("owner", 3, false),
    ("limited", 2, true),
];

/// The rank a route needs, and whether it spans every bucket.
fn needs(method: &str, path: &str) -> (u8, bool) {
    if method == "POST" && (path == "/api/v1/actions" || path.ends_with("/mute")) {
        return (1, false);
    }
    let managed = ["/api/v1/receivers", "/api/v1/deliveries"];
    if managed.iter().any(|p| path.starts_with(p))
        || (path.starts_with("/api/v1/alert-rules") && method != "GET")
    {
        return (2, true);
    }
    if path.starts_with("/api/v1/keys") {
        return (2, false);
    }
    let fleet = [
        "/api/v1/audit",
        "/api/v1/cluster",
        "/api/v1/tokens",
        "/api/v1/users",
    ];
    if fleet.iter().any(|p| path.starts_with(p)) {
        return (2, true);
    }
    (0, false)
}

/// A token for a new user of `role` (optionally limited to bucket prod).
fn token(hub: &Hub, label: &str, role: &str, limited: bool) -> String {
    let email = format!("{label}@example.com");
    let mut args = vec!["users", "add", &email, "--role", role];
    if limited {
        args.extend(["--buckets", "prod"]);
    }
    hub.admin(&args);
    let name = format!("t-{label}");
    hub.admin(&["tokens", "create", "--name", &name, "--user", &email])
        .trim()
        .to_string()
}

/// A body that the route accepts as well-formed, for callers it admits.
fn body(method: &str, path: &str, label: &str) -> Option<String> {
    if method != "POST" {
        return None;
    }
    Some(match path {
        "/api/v1/actions" => r#"{"server": 999, "action": "restart", "targets": ["api"]}"#.into(),
        "/api/v1/keys" => r#"{"bucket": "prod"}"#.into(),
        "/api/v1/tokens" => r#"{"name": "made"}"#.into(),
        "/api/v1/users" => format!(r#"{{"email": "new-{label}@example.com", "role": "viewer"}}"#),
        "/api/v1/alert-rules" => format!(r#"{{"name": "r-{label}", "kind": "errored"}}"#),
        "/api/v1/alert-rules/{id}/mute" => r#"{"minutes": 5}"#.into(),
        "/api/v1/receivers" => {
            format!(r#"{{"name": "w-{label}", "kind": "webhook", "url": "http://127.0.0.1:9/"}}"#)
        }
        _ => return None,
    })
}

#[test]
fn every_role_on_every_protected_route() {
    let hub = Hub::start();
    hub.admin(&["keys", "create", "--bucket", "prod"]);
    let tokens: Vec<String> = CALLERS
        .iter()
        .map(|(label, rank, limited)| {
            let role = ["viewer", "operator", "admin", "owner"][*rank as usize];
            token(&hub, label, role, *limited)
        })
        .collect();
    let doc = hub.get("/api/v1/openapi.json").json();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let public = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| s.is_empty());
            if public {
                continue;
            }
            let method = method.to_ascii_uppercase();
            // Password resets name a real user; removals nobody (404).
            let email = if method == "DELETE" {
                "nobody@example.com"
            } else {
                "viewer@example.com"
            };
            let concrete = path
                .replace("{id}", "999")
                .replace("{pm_id}", "0")
                .replace("{key}", "999")
                .replace("{email}", email);
            let (rank, fleet) = needs(&method, path);
            for ((label, caller_rank, limited), t) in CALLERS.iter().zip(&tokens) {
                let auth = format!("Bearer {t}");
                let mut headers = vec![("Authorization", auth.as_str())];
                let b = body(&method, path, label);
                if b.is_some() {
                    headers.push(("Content-Type", "application/json"));
                }
                let r = hub.request(
                    &method,
                    &concrete,
                    &headers,
                    b.unwrap_or_default().as_bytes(),
                );
                let allowed = *caller_rank >= rank && !(fleet && *limited);
                let at = format!("{method} {concrete} as {label}");
                assert_ne!(r.status, 401, "{at}: {r:?}");
                if allowed {
                    assert_ne!(r.status, 403, "{at}: {r:?}");
                } else {
                    r.error(403, &at);
                }
                checked += 1;
            }
        }
    }
    // Every protected operation of the document, by every caller.
    assert!(checked >= 22 * CALLERS.len(), "checked {checked}");
}

#[test]
fn nobody_grants_a_role_above_their_own() {
    let hub = Hub::start();
    let admin = token(&hub, "admin", "admin", false);
    let owner_token = token(&hub, "owner", "owner", false);
    let post = |t: &str, path: &str, body: &str| {
        let auth = format!("Bearer {t}");
        let h = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/json"),
        ];
        hub.request("POST", path, &h, body.as_bytes())
    };
    let owner_user = r#"{"email": "boss@example.com", "role": "owner"}"#;
    post(&admin, "/api/v1/users", owner_user).error(403, "an admin adding an owner");
    let r = post(
        &admin,
        "/api/v1/tokens",
        r#"{"name": "x", "role": "owner"}"#,
    );
    r.error(403, "an admin's token with the owner role");
    let r = post(&admin, "/api/v1/users/owner@example.com/password", "");
    r.error(403, "an admin resetting an owner's password");
    // An owner may; the token made for a viewer is capped at viewer.
    assert_eq!(post(&owner_token, "/api/v1/users", owner_user).status, 201);
    post(
        &admin,
        "/api/v1/users",
        r#"{"email": "v@example.com", "role": "viewer"}"#,
    );
    let r = post(
        &admin,
        "/api/v1/tokens",
        r#"{"name": "y", "user": "v@example.com", "role": "operator"}"#,
    );
    r.error(403, "a token above its user's role");
    let r = post(
        &admin,
        "/api/v1/tokens",
        r#"{"name": "y", "user": "v@example.com"}"#,
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json()["role"], "viewer");
    // Every change is in the audit log, with who made it.
    let audit = hub
        .request(
            "GET",
            "/api/v1/audit",
            &[("Authorization", &format!("Bearer {admin}"))],
            b"",
        )
        .json();
    let lines: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| format!("{} {} {}", a["actor"], a["action"], a["target"]))
        .collect();
    for want in [
        "\"owner@example.com\" \"user:add\" \"boss@example.com owner\"",
        "\"admin@example.com\" \"token:create\" \"y for v@example.com (viewer)\"",
    ] {
        assert!(lines.iter().any(|l| l == want), "{want} not in {lines:#?}");
    }
}
