//! Webhooks through a company proxy: a small CONNECT and plain-HTTP
//! forward proxy on loopback, a hub started with `HTTPS_PROXY` and
//! `HTTP_PROXY` naming it, and `NO_PROXY` letting a receiver bypass it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::receiver::{Answer, Receiver};
use super::{add_receiver, add_rule, crashing_agent, signed, test_attempts};
use crate::harness::{ClearProxies, Hub, Tls, wait_for};

/// A proxy that tunnels `CONNECT host:port` and forwards absolute-form
/// plain-HTTP requests, keeping each request line it was asked.
struct Proxy {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    fn start() -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let shared = seen.clone();
        std::thread::spawn(move || {
            for client in l.incoming().flatten() {
                let seen = shared.clone();
                std::thread::spawn(move || serve(client, &seen));
            }
        });
        Proxy { port, seen }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The request lines asked so far (`CONNECT localhost:1234 HTTP/1.1`).
    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// One client connection: its request head, then a tunnel or a forward.
fn serve(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte).unwrap_or(0) == 0 {
            return;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    let line = head.lines().next().unwrap_or_default().to_string();
    seen.lock().unwrap().push(line.clone());
    let mut parts = line.split(' ');
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let upstream = if method == "CONNECT" {
        let Ok(up) = TcpStream::connect(target) else {
            let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n");
            return;
        };
        client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .unwrap();
        up
    } else {
        // `POST http://host:port/path HTTP/1.1`: origin-form to the host.
        let rest = target.strip_prefix("http://").unwrap_or(target);
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let Ok(mut up) = TcpStream::connect(authority) else {
            return;
        };
        let tail = &head[line.len()..];
        let path = if path.is_empty() { "/" } else { path };
        up.write_all(format!("{method} {path} HTTP/1.1{tail}").as_bytes())
            .unwrap();
        up
    };
    pipe(client, upstream);
}

/// Copies both ways until either side closes.
fn pipe(a: TcpStream, b: TcpStream) {
    let (mut a2, mut b2) = (a.try_clone().unwrap(), b.try_clone().unwrap());
    let t = std::thread::spawn(move || {
        let (mut a, mut b) = (a, b);
        let _ = std::io::copy(&mut a, &mut b);
        let _ = b.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b2, &mut a2);
    let _ = a2.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// Sends a test notification to receiver `id` through the hub's API and
/// returns the last attempt's outcome and error.
fn test_send(hub: &Hub, id: i64) -> String {
    let (attempts, _) = test_attempts(hub, id);
    let last = attempts.as_array().unwrap().last().unwrap().clone();
    format!(
        "{} {}",
        last["outcome"].as_str().unwrap(),
        last["error"].as_str().unwrap_or("")
    )
}

#[test]
fn webhooks_go_through_the_environments_proxy_unless_no_proxy_says_not() {
    let certs = tempfile::tempdir().unwrap();
    let tls = crate::tls::make_ca(certs.path());
    let Tls::Ca { ca, .. } = &tls else {
        unreachable!()
    };
    let ca = ca.display().to_string();
    let proxy = Proxy::start();
    let hub = Hub::start_env(
        Tls::None,
        &[],
        &[
            ("HTTPS_PROXY", &proxy.url()),
            ("http_proxy", &proxy.url()),
            ("NO_PROXY", ""),
            ("no_proxy", ""),
            ("SSL_CERT_FILE", &ca),
        ],
    );
    // HTTPS: a CONNECT tunnel, then TLS to the receiver through it; two
    // sends share one tunnel (the client keeps its connection).
    let https = Receiver::start_tls(Answer::Script(vec![200]), &tls);
    let (id, secret) = add_receiver(&hub, "slack-like", &https.url(), json!({}));
    assert_eq!(test_send(&hub, id).trim(), "delivered");
    assert_eq!(test_send(&hub, id).trim(), "delivered");
    let connect = format!("CONNECT localhost:{} HTTP/1.1", https.port);
    let seen = proxy.seen();
    assert_eq!(
        seen.iter().filter(|l| **l == connect).count(),
        1,
        "one tunnel for both sends: {seen:?}"
    );
    let got = https.got();
    assert_eq!(got.len(), 2);
    assert!(signed(&got[0], secret.as_deref().unwrap()), "signed");
    assert_eq!(got[0].json()["version"], "4");
    // Plain HTTP: an absolute-form request to the proxy.
    let plain = Receiver::start(Answer::Script(vec![200]));
    let (id, secret) = add_receiver(&hub, "plain", &plain.url(), json!({}));
    assert_eq!(test_send(&hub, id).trim(), "delivered");
    let forward = format!("POST {} HTTP/1.1", plain.url());
    assert!(proxy.seen().contains(&forward), "{:?}", proxy.seen());
    assert!(signed(&plain.got()[0], secret.as_deref().unwrap()));
    // The command line's sends take the same road, and NO_PROXY (any
    // case, host or address) sends them straight to the receiver.
    let cli = |no_proxy: &str| {
        let out = hub
            .command()
            .args(["alerts", "test", "slack-like"])
            .env_clear_proxies()
            .env("HTTPS_PROXY", proxy.url())
            .env("no_proxy", no_proxy)
            .env_remove("NO_PROXY")
            .env("SSL_CERT_FILE", &ca)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success() && text.contains("delivered"), "{text}");
    };
    cli("");
    let tunnels = || proxy.seen().iter().filter(|l| **l == connect).count();
    assert_eq!(tunnels(), 2, "the command line's own client tunnels");
    cli("example.com, localhost");
    assert_eq!(tunnels(), 2, "NO_PROXY bypasses the proxy");
    assert_eq!(https.got().len(), 4, "every send reached the receiver");
    // A real alert from the alerting task takes the same road: a crash
    // loop notified to a new HTTPS receiver, signed, through a tunnel.
    let alerts = Receiver::start_tls(Answer::Script(vec![200]), &tls);
    let (_, secret) = add_receiver(&hub, "ops", &alerts.url(), json!({}));
    add_rule(
        &hub,
        json!({"name": "crash loop", "kind": "restarts", "count": 3, "window_secs": 10,
               "receivers": ["ops"], "scope": {"app": "crash"}}),
    );
    let _agent = crashing_agent(&hub, "web-1");
    let first = wait_for("the firing notification", Duration::from_secs(30), || {
        alerts.got().first().cloned()
    });
    assert_eq!(first.json()["status"], "firing");
    assert!(signed(&first, secret.as_deref().unwrap()), "signed");
    let tunnel = format!("CONNECT localhost:{} HTTP/1.1", alerts.port);
    assert!(proxy.seen().contains(&tunnel), "{:?}", proxy.seen());
}

#[test]
fn a_proxy_that_refuses_the_tunnel_is_a_logged_retryable_failure() {
    // A proxy port nobody listens on: the attempt fails with a connect
    // error that names neither the URL's path nor its query.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let proxy = format!("http://127.0.0.1:{port}");
    let hub = Hub::start_env(Tls::None, &[], &[("HTTPS_PROXY", &proxy), ("NO_PROXY", "")]);
    let (id, _) = add_receiver(
        &hub,
        "behind",
        "https://hooks.example.com/services/SECRET-PATH?token=SECRET-QUERY",
        json!({"max_attempts": 2}),
    );
    let (attempts, outcomes) = test_attempts(&hub, id);
    assert_eq!(outcomes, ["retrying", "failed"], "{attempts}");
    let error = attempts[0]["error"].as_str().unwrap();
    assert!(error.starts_with("connect: "), "{error}");
    assert!(!error.contains("SECRET"), "{error}");
}
