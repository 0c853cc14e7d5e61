//! Users, roles and buckets on a real hub with two real linked agents:
//! sessions in cookies with CSRF, roles checked on the server, buckets
//! hiding what a user may not see, sign-in limits, the audit log.

use serde_json::{Value, json};

use crate::harness::{Agent, Hub, Tls, wait_until};
use crate::hostile_http::raw;

/// A user made with `pmr-hub users add`; returns the generated password.
fn user(hub: &Hub, email: &str, role: &str, buckets: Option<&str>) -> String {
    let mut args = vec!["users", "add", email, "--role", role];
    if let Some(b) = buckets {
        args.extend(["--buckets", b]);
    }
    let out = String::from_utf8(hub.admin(&args).stdout).unwrap();
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("password for {email}: ")))
        .unwrap()
        .to_string()
}

/// A signed-in browser: its cookie and CSRF token.
struct Browser {
    port: u16,
    cookie: String,
    csrf: String,
}

fn send(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (status, head, body) = raw(port, &req);
    (
        status,
        head,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    )
}

fn sign_in(hub: &Hub, email: &str, password: &str) -> Browser {
    let (status, head, v) = send(
        hub.port,
        "POST",
        "/api/v1/session",
        "",
        Some(&json!({"email": email, "password": password})),
    );
    assert_eq!(status, 200, "{v}");
    let set = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a session cookie")
        .to_string();
    assert!(
        set.contains("httponly") && set.contains("samesite=lax"),
        "{set}"
    );
    assert!(
        !set.contains("secure"),
        "plain HTTP: no Secure flag ({set})"
    );
    let cookie = set.split(';').next().unwrap().to_string();
    Browser {
        port: hub.port,
        cookie,
        csrf: v["csrf"].as_str().unwrap().to_string(),
    }
}

impl Browser {
    fn get(&self, path: &str) -> (u16, Value) {
        let (s, _, v) = send(
            self.port,
            "GET",
            path,
            &format!("Cookie: {}\r\n", self.cookie),
            None,
        );
        (s, v)
    }

    /// A state-changing request, with or without the CSRF token.
    fn post(&self, path: &str, body: &Value, csrf: bool) -> (u16, Value) {
        let mut h = format!("Cookie: {}\r\n", self.cookie);
        if csrf {
            h.push_str(&format!("X-CSRF-Token: {}\r\n", self.csrf));
        }
        let (s, _, v) = send(self.port, "POST", path, &h, Some(body));
        (s, v)
    }
}

fn names(v: &Value) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

#[test]
fn roles_buckets_csrf_and_audit_on_a_real_fleet() {
    let hub = Hub::start(Tls::None);
    // Two buckets, one agent in each.
    let stg =
        String::from_utf8(hub.admin(&["keys", "create", "--bucket", "staging"]).stdout).unwrap();
    let field = |k: &str| {
        stg.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_string()
    };
    let (stg_secret, stg_public) = (field("secret key: "), field("public key: "));
    let prod = Agent::new();
    prod.write("s.sh", "while true; do sleep 1; done\n");
    prod.ok(&["start", "s.sh", "--name", "api"]);
    prod.link(&hub, "web-1", &[]);
    let staging = Agent::new();
    let url = hub.ws_url();
    staging.ok(&["link", &stg_secret, &stg_public, "stg-1", "--hub", &url]);
    wait_until("both online", || {
        (hub.server("web-1")?["online"] == true && hub.server("stg-1")?["online"] == true)
            .then_some(())
    });
    let stg_id = hub.server("stg-1").unwrap()["id"].clone();

    let owner = sign_in(
        &hub,
        "own@example.com",
        &user(&hub, "own@example.com", "owner", None),
    );
    let viewer = sign_in(
        &hub,
        "see@example.com",
        &user(&hub, "see@example.com", "viewer", None),
    );
    let pw = user(&hub, "op@example.com", "operator", Some("prod"));
    let operator = sign_in(&hub, "op@example.com", &pw);

    // Everyone sees; the operator only its bucket.
    assert_eq!(names(&viewer.get("/api/v1/servers").1), ["stg-1", "web-1"]);
    assert_eq!(names(&operator.get("/api/v1/servers").1), ["web-1"]);
    let (s, _) = operator.get(&format!("/api/v1/servers/{stg_id}"));
    assert_eq!(s, 404, "a server of another bucket does not exist for it");
    let (_, me) = operator.get("/api/v1/session");
    assert_eq!(
        (me["role"].as_str(), me["buckets"].clone()),
        (Some("operator"), json!(["prod"]))
    );

    // Acting needs the operator role, and the session's CSRF token.
    let restart = json!({"server": "web-1", "action": "restart", "targets": ["api"], "wait": true});
    let (s, v) = viewer.post("/api/v1/actions", &restart, true);
    assert_eq!(s, 403, "a viewer acts: {v}");
    assert!(v["error"].as_str().unwrap().contains("operator"), "{v}");
    let (s, v) = operator.post("/api/v1/actions", &restart, false);
    assert_eq!(s, 403, "no CSRF token: {v}");
    assert!(v["error"].as_str().unwrap().contains("CSRF"), "{v}");
    let (s, v) = operator.post("/api/v1/actions", &restart, true);
    assert_eq!((s, v["ok"].clone()), (200, json!(true)), "{v}");
    let elsewhere = json!({"server": stg_id, "action": "flush", "targets": []});
    assert_eq!(operator.post("/api/v1/actions", &elsewhere, true).0, 404);

    // The audit log is for admins and up; it has who did what from where.
    assert_eq!(operator.get("/api/v1/audit").0, 403);
    let (s, log) = owner.get("/api/v1/audit");
    assert_eq!(s, 200, "{log}");
    let lines = log.as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["actor"] == "op@example.com"
            && l["action"] == "action:restart"
            && l["result"] == "sent"
            && l["address"] == "127.0.0.1"),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["action"] == "sign-in" && l["actor"] == "see@example.com")
    );

    // Signing out ends the session (with its CSRF token, like any change).
    let out = send(
        hub.port,
        "DELETE",
        "/api/v1/session",
        &format!(
            "Cookie: {}\r\nX-CSRF-Token: {}\r\n",
            operator.cookie, operator.csrf
        ),
        None,
    );
    assert_eq!(out.0, 204);
    assert!(out.1.contains("max-age=0"), "{}", out.1);
    assert_eq!(operator.get("/api/v1/servers").0, 401);
}

#[test]
fn wrong_passwords_are_refused_then_limited() {
    let hub = Hub::start(Tls::None);
    user(&hub, "a@example.com", "viewer", None);
    let attempt = || {
        send(
            hub.port,
            "POST",
            "/api/v1/session",
            "",
            Some(&json!({"email": "a@example.com", "password": "not the password"})),
        )
    };
    let (s, _, v) = attempt();
    assert_eq!(s, 401, "{v}");
    assert_eq!(v["error"], "wrong e-mail or password");
    let statuses: Vec<u16> = (0..12).map(|_| attempt().0).collect();
    assert!(statuses.contains(&429), "never limited: {statuses:?}");
    // An unknown account gets the same answer as a wrong password.
    let (s, _, v) = send(
        hub.port,
        "POST",
        "/api/v1/session",
        "",
        Some(&json!({"email": "nobody@example.com", "password": "x"})),
    );
    assert!(s == 401 || s == 429, "{s} {v}");
}

#[test]
fn the_first_owner_comes_from_the_one_time_token_and_tokens_act_for_users() {
    let hub = Hub::start(Tls::None);
    let out = wait_until("the setup line", || {
        let o = hub.out();
        o.contains("\"token\":\"").then_some(o)
    });
    let token = out
        .split("\"token\":\"")
        .nth(1)
        .and_then(|t| t.split('"').next())
        .unwrap()
        .to_string();
    let setup = |token: &str, email: &str| {
        send(
            hub.port,
            "POST",
            "/api/v1/setup",
            "",
            Some(&json!({"token": token, "email": email, "password": "a long enough passphrase"})),
        )
    };
    assert_eq!(setup("0".repeat(64).as_str(), "me@example.com").0, 403);
    let (s, _, v) = setup(&token, "me@example.com");
    assert_eq!(s, 201, "{v}");
    // Spent: no second owner, not even with the same token.
    assert_eq!(setup(&token, "other@example.com").0, 409);
    let me = sign_in(&hub, "me@example.com", "a long enough passphrase");
    assert_eq!(me.get("/api/v1/session").1["role"], "owner");

    // A token acts for its user, never above them.
    user(&hub, "ci@example.com", "viewer", None);
    let refused = std::process::Command::new(crate::harness::bin("pmr-hub"))
        .arg("--data-dir")
        .arg(hub.dir.path())
        .args([
            "tokens",
            "create",
            "--name",
            "ci",
            "--user",
            "ci@example.com",
            "--role",
            "operator",
        ])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("higher than ci@example.com's role"));
    let t = String::from_utf8(
        hub.admin(&[
            "tokens",
            "create",
            "--name",
            "ci",
            "--user",
            "ci@example.com",
        ])
        .stdout,
    )
    .unwrap()
    .trim()
    .to_string();
    let (s, _, v) = send(
        hub.port,
        "GET",
        "/api/v1/session",
        &format!("Authorization: Bearer {t}\r\n"),
        None,
    );
    assert_eq!(
        (s, v["name"].as_str(), v["role"].as_str()),
        (200, Some("ci@example.com"), Some("viewer"))
    );
    let act = json!({"server": "x", "action": "flush", "targets": []});
    let (s, _, _) = send(
        hub.port,
        "POST",
        "/api/v1/actions",
        &format!("Authorization: Bearer {t}\r\n"),
        Some(&act),
    );
    assert_eq!(s, 403);
}
