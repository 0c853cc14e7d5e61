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

/// A key pair of a second bucket, `staging`: (secret, public).
fn staging_key(hub: &Hub) -> (String, String) {
    let out =
        String::from_utf8(hub.admin(&["keys", "create", "--bucket", "staging"]).stdout).unwrap();
    let field = |k: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(k))
            .unwrap()
            .trim()
            .to_string()
    };
    (field("secret key: "), field("public key: "))
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
    let (stg_secret, stg_public) = staging_key(&hub);
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
            && l["result"]
                .as_str()
                .is_some_and(|r| r.starts_with("ok: api restarted on web-1"))
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

/// A request from source address `src` (127.0.0.x).
fn send_from(src: &str, port: u16, body: &Value) -> (u16, Value) {
    use std::io::{Read, Write};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{src}:0").parse().unwrap()).unwrap();
        let c = sock.connect(([127, 0, 0, 1], port).into()).await.unwrap();
        let std = c.into_std().unwrap();
        std.set_nonblocking(false).unwrap();
        std
    });
    let body = body.to_string();
    write!(
        s,
        "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn wrong_passwords_are_refused_then_limited_without_locking_the_user_out() {
    let hub = Hub::start(Tls::None);
    let pw = user(&hub, "a@example.com", "viewer", None);
    let wrong = json!({"email": "a@example.com", "password": "not the password"});
    let unknown = json!({"email": "nobody@example.com", "password": "not the password"});
    // An unknown account answers exactly as a wrong password does.
    let (s1, v1) = send_from("127.0.0.3", hub.port, &wrong);
    let (s2, v2) = send_from("127.0.0.3", hub.port, &unknown);
    assert_eq!(
        (s1, &v1),
        (
            401,
            &json!({"error": "wrong e-mail or password", "status": 401})
        )
    );
    assert_eq!((s2, &v2), (s1, &v1));
    // A stranger guessing from another address is slowed down...
    let statuses: Vec<u16> = (0..12)
        .map(|_| send_from("127.0.0.2", hub.port, &wrong).0)
        .collect();
    assert!(statuses.contains(&429), "never limited: {statuses:?}");
    // ...but cannot lock the user out: from the user's address it works.
    let ok = json!({"email": "a@example.com", "password": pw});
    assert_eq!(send_from("127.0.0.1", hub.port, &ok).0, 200);
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
    // Spent: no second owner, not even with the same token, and not even
    // once the owner is gone.
    assert_eq!(setup(&token, "other@example.com").0, 409);
    hub.admin(&["users", "add", "keep@example.com", "--role", "owner"]);
    hub.admin(&["users", "remove", "me@example.com"]);
    hub.admin(&["users", "remove", "keep@example.com"]);
    assert_eq!(
        setup(&token, "other@example.com").0,
        403,
        "a spent token made an owner"
    );
    let pw = user(&hub, "me@example.com", "owner", None);
    let me = sign_in(&hub, "me@example.com", &pw);
    assert_eq!(me.get("/api/v1/session").1["role"], "owner");

    // A token acts for its user, never above them.
    user(&hub, "ci@example.com", "viewer", None);
    let refused = hub
        .command()
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

#[test]
fn a_bucket_limited_follower_sees_only_its_bucket_and_stops_when_signed_out() {
    use std::io::{BufRead, BufReader, Write};
    let hub = Hub::start(Tls::None);
    let (stg_secret, stg_public) = staging_key(&hub);
    let (prod, staging) = (Agent::new(), Agent::new());
    for (a, app) in [(&prod, "api"), (&staging, "other")] {
        a.write("s.sh", "while true; do sleep 1; done\n");
        a.ok(&["start", "s.sh", "--name", app]);
    }
    prod.link(&hub, "web-1", &[]);
    let url = hub.ws_url();
    staging.ok(&["link", &stg_secret, &stg_public, "stg-1", "--hub", &url]);
    wait_until("both apps on the hub", || {
        hub.process("web-1", "api")?;
        hub.process("stg-1", "other")
    });
    let pw = user(&hub, "op@example.com", "operator", Some("prod"));
    let op = sign_in(&hub, "op@example.com", &pw);

    let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(40)))
        .unwrap();
    write!(
        s,
        "GET /api/v1/changes?kinds=event HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n",
        op.cookie
    )
    .unwrap();
    let mut lines = BufReader::new(s).lines();
    assert!(lines.next().unwrap().unwrap().starts_with("HTTP/1.1 200"));
    // The other bucket's app crashes first, then this bucket's.
    for (a, app) in [(&staging, "other"), (&prod, "api")] {
        let pid = a.jlist()[0]["pid"].as_u64().unwrap();
        std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        if app == "other" {
            wait_until("the other crash stored", || {
                let ev = hub.get("/api/v1/events?app=other");
                (!ev["events"].as_array()?.is_empty()).then_some(())
            });
        }
    }
    let mut seen = Vec::new();
    for l in lines.by_ref() {
        let l = l.expect("the stream ended early");
        if let Some(data) = l.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data).unwrap();
            let app = v["event"]["name"].as_str().unwrap().to_string();
            let done = app == "api";
            seen.push(app);
            if done {
                break;
            }
        }
    }
    assert!(
        !seen.iter().any(|a| a == "other"),
        "another bucket's event leaked: {seen:?}"
    );
    // Signed out, the stream ends at its next check.
    let out = send(
        hub.port,
        "DELETE",
        "/api/v1/session",
        &format!("Cookie: {}\r\nX-CSRF-Token: {}\r\n", op.cookie, op.csrf),
        None,
    );
    assert_eq!(out.0, 204);
    // The chunked body's last chunk ("0"), or the connection's end.
    loop {
        match lines.next() {
            None => break,
            Some(Ok(l)) if l == "0" => break,
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("the stream went on after sign-out: {e}"),
        }
    }
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_client_is_the_one_limited_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = crate::hostile_http::config(dir.path(), "trusted_proxies = [\"127.0.0.1\"]\n");
    let hub = Hub::start_with(Tls::None, &["--config", &cfg]);
    let pw = user(&hub, "a@example.com", "owner", None);
    let wrong = json!({"email": "a@example.com", "password": "not the password"});
    let from = |client: &str, body: &Value| {
        let h = format!("X-Forwarded-For: 203.0.113.9, {client}\r\n");
        send(hub.port, "POST", "/api/v1/session", &h, Some(body)).0
    };
    let statuses: Vec<u16> = (0..12).map(|_| from("10.0.0.1", &wrong)).collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    // Another client behind the same proxy is not held back by the first.
    assert_eq!(from("10.0.0.2", &wrong), 401);
    assert_eq!(
        from(
            "10.0.0.2",
            &json!({"email": "a@example.com", "password": pw})
        ),
        200
    );
    // Over the proxy's TLS the cookie is Secure and __Host- prefixed.
    let tls = "X-Forwarded-For: 10.0.0.3\r\nX-Forwarded-Proto: https\r\n";
    let creds = json!({"email": "a@example.com", "password": pw});
    let (s, head, _) = send(hub.port, "POST", "/api/v1/session", tls, Some(&creds));
    assert_eq!(s, 200);
    let set = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap();
    assert!(
        set.starts_with("__host-pmr_session=") && set.contains("; secure"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().replace("__host-", "__Host-");
    let (s, _, v) = send(
        hub.port,
        "GET",
        "/api/v1/session",
        &format!("{tls}Cookie: {cookie}\r\n"),
        None,
    );
    assert_eq!((s, v["role"].as_str()), (200, Some("owner")));
    let me = sign_in(&hub, "a@example.com", &pw);
    let (_, log) = me.get("/api/v1/audit");
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|l| l["address"] == "10.0.0.1"),
        "the forwarded client is audited: {log}"
    );
}
