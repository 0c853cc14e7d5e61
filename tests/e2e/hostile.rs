//! The hub under hostile traffic (issue 10): idle upgrades from several
//! addresses, idle and slowloris connections, oversized and forged frames,
//! out-of-order replays, and a second session of one machine. Real hub,
//! real sockets, loopback only (127.0.0.x are distinct source addresses).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::keys::SecretKey;
use pmr_shared::link::messages::{AgentMsg, HubMsg, close};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::handshake::{auth, close_code, close_frame, event, now, open, send, welcomed};
use crate::harness::{Agent, Hub, Tls, wait_until};

type RawWs = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A websocket upgrade from source address `src`; the hub's HTTP refusal as
/// (status, body) when there is one.
async fn upgrade_from(hub: &Hub, src: Ipv4Addr) -> Result<RawWs, (u16, String)> {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::new(src.into(), 0)).unwrap();
    let stream = sock
        .connect(SocketAddr::from(([127, 0, 0, 1], hub.port)))
        .await
        .unwrap();
    let url = format!("ws://127.0.0.1:{}/agent/v1", hub.port);
    match tokio_tungstenite::client_async(url, stream).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(r)) => Err((
            r.status().as_u16(),
            String::from_utf8_lossy(r.body().as_deref().unwrap_or_default()).to_string(),
        )),
        Err(e) => panic!("upgrade failed without an HTTP answer: {e}"),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn idle_upgrades_from_eight_addresses_leave_room_for_an_agent() {
    let hub = Hub::start(Tls::None);
    let mut idle = Vec::new();
    for a in 2..=9u8 {
        let src = Ipv4Addr::new(127, 0, 0, a);
        for _ in 0..16 {
            idle.push(upgrade_from(&hub, src).await.expect("within the share"));
        }
        // One more is over this address's share: refused before upgrading.
        let Err((status, body)) = upgrade_from(&hub, src).await else {
            panic!("a 17th pending upgrade from {src} was let in");
        };
        assert_eq!(status, 503, "{body}");
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(body["error"].as_str().unwrap().contains("share"), "{body}");
    }
    // A real agent from another address links while they hold all that.
    let agent = Agent::new();
    agent.link(&hub, "fresh", &[]);
    wait_until("the fresh agent online", || {
        (hub.server("fresh")?["online"] == true).then_some(())
    });
    // The idle ones never answered hello: closed with 4410 after 5 s.
    let (code, _) = close_frame(&mut idle[0]).await;
    assert_eq!(code, close::TIMEOUT);
    let log = hub.log();
    assert!(
        log.contains("agent handshake refused")
            && log.contains("127.0.0.2")
            && log.contains("busy_address"),
        "refusals are logged with address and reason:\n{log}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn oversized_frame_before_auth_gets_a_real_close_code() {
    let hub = Hub::start(Tls::None);
    let (mut ws, _, _) = open(&hub).await;
    let big = "x".repeat(2 * 1024 * 1024);
    let _ = ws.send(Message::Text(big.into())).await;
    assert_eq!(close_code(&mut ws).await, close::TOO_BIG);
}

/// An `auth` with a chosen machine name.
fn auth_named(
    bucket: &SecretKey,
    public: &str,
    hub_id: &str,
    nonce: &[u8; 32],
    name: &str,
) -> AgentMsg {
    let ts = now();
    let f = AuthFields {
        hub_id,
        nonce,
        proto: 1,
        public_key: public,
        machine_id: "m-hostile",
        machine_name: name,
        agent_version: "test",
        ts,
    };
    AgentMsg::Auth {
        proto: 1,
        public_key: public.into(),
        machine_id: "m-hostile".into(),
        machine_name: name.into(),
        agent_version: "test".into(),
        ts,
        nonce: handshake::hex(nonce),
        sig: handshake::hex(&handshake::sign(bucket, &f)),
    }
}

#[tokio::test(flavor = "current_thread")]
async fn control_characters_in_names_are_refused_and_never_reach_the_log() {
    let hub = Hub::start(Tls::None);
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let forged = "web\n2026-12-01T00:00:00.000000Z  INFO agent connected server=root";
    let (mut ws, id, nonce) = open(&hub).await;
    send(
        &mut ws,
        &auth_named(&bucket, &hub.public, &id, &nonce, forged),
    )
    .await;
    let (code, reason) = close_frame(&mut ws).await;
    assert_eq!(code, close::BAD_FRAME);
    assert_eq!(reason, "machine_name: control character");

    // After the handshake: a process name with an escape sequence.
    let (mut ws, id, nonce) = open(&hub).await;
    send(
        &mut ws,
        &auth_named(&bucket, &hub.public, &id, &nonce, "web-ok"),
    )
    .await;
    assert!(welcomed(&mut ws).await);
    let snap = serde_json::json!({"type":"snapshot","seq":1,"full":true,"at":now(),
        "host":{"hostname":"h","cpus":1,"cpu":0.0,"mem_total":1,"mem_used":1,"load":[0,0,0],"disk_total":1,"disk_used":1,"uptime":1},
        "processes":[{"pm_id":0,"name":"api\n\u{1b}[31mforged","namespace":"default","status":"online","pid":1,
          "restart_time":0,"unstable_restarts":0,"pm_uptime":0,"cpu":0.0,"memory":0,"exec_mode":"fork_mode"}]});
    ws.send(Message::Text(snap.to_string().into()))
        .await
        .unwrap();
    let (code, reason) = close_frame(&mut ws).await;
    assert_eq!(code, close::BAD_FRAME);
    assert_eq!(reason, "processes[0].name: control character");
    let log = hub.log();
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-12-01T00:00:00.000000Z")),
        "a forged line reached the log:\n{log}"
    );
    assert!(log.contains("bad_field"), "{log}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_lower_or_repeated_seq_is_acknowledged() {
    let hub = Hub::start(Tls::None);
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    let mut acks = Vec::new();
    for seq in [5, 3, 3, 5] {
        send(&mut ws, &event(seq)).await;
        let ack = loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => match serde_json::from_str::<HubMsg>(&t).unwrap()
                {
                    HubMsg::Ack { seq, .. } => break seq,
                    _ => continue,
                },
                Ok(Some(Ok(_))) => continue,
                other => panic!("no ack for seq {seq}: {other:?}"),
            }
        };
        assert_eq!(ack, seq, "each frame gets the ack of its own seq");
        acks.push(ack);
    }
    assert_eq!(acks.len(), 4);
    let events = hub.get("/api/v1/events");
    assert_eq!(events["events"].as_array().unwrap().len(), 2, "{events}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_second_session_of_a_machine_replaces_the_first_with_4412() {
    let hub = Hub::start(Tls::None);
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let (mut first, id, nonce) = open(&hub).await;
    send(&mut first, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut first).await);
    let (mut second, id, nonce) = open(&hub).await;
    send(&mut second, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut second).await);
    assert_eq!(close_code(&mut first).await, close::REPLACED);
    send(&mut second, &event(1)).await;
    let next = second.next().await;
    assert!(
        matches!(&next, Some(Ok(Message::Text(t))) if t.contains("\"ack\"")),
        "{next:?}"
    );
}

/// A raw HTTP exchange: (status, lower-cased head, body).
fn raw(port: u16, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

#[test]
fn every_router_level_error_is_json() {
    let hub = Hub::start(Tls::None);
    let get = |path: &str, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
    };
    let many_headers: String = (0..120).map(|i| format!("X-H{i}: v\r\n")).collect();
    let long = format!("/api/v1/servers?{}", "a".repeat(9000));
    let cases = [
        (get("/nope", ""), 404),
        (
            "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .to_string(),
            405,
        ),
        (get(&long, ""), 414),
        (get("/healthz", &many_headers), 431),
        (get("/agent/v1", ""), 400),
        (get("/api/v1/servers", ""), 401),
    ];
    for (req, want) in cases {
        let (status, head, body) = raw(hub.port, &req);
        assert_eq!(status, want, "{req:.60}: {head}\n{body}");
        assert!(
            head.contains("content-type: application/json"),
            "{want}: {head}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|_| panic!("{want}: {body}"));
        assert!(v["error"].is_string() && v["status"] == want, "{v}");
    }
}

fn config(dir: &std::path::Path, body: &str) -> String {
    let p = dir.join("hub.toml");
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn slowloris_and_idle_keep_alive_connections_are_dropped() {
    let cfg_dir = tempfile::tempdir().unwrap();
    let cfg = config(cfg_dir.path(), "header_timeout_secs = 2\n");
    let hub = Hub::start_with(Tls::None, &["--config", &cfg]);
    // One header line a second: the head is never done within 2 s.
    let mut slow = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let start = Instant::now();
    let mut cut = false;
    for i in 0..20 {
        std::thread::sleep(Duration::from_secs(1));
        if slow
            .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
            .is_err()
        {
            cut = true;
            break;
        }
        // Meanwhile others are served.
        let (status, _, _) = raw(
            hub.port,
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(status, 200);
    }
    assert!(cut, "the slow client was never cut off");
    assert!(start.elapsed() < Duration::from_secs(15));
    // A keep-alive connection that goes quiet after one request is closed too.
    let mut idle = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let quiet = Instant::now();
    let end = idle.read(&mut buf);
    assert!(
        matches!(end, Ok(0) | Err(_)) && quiet.elapsed() < Duration::from_secs(10),
        "{end:?}"
    );
}

#[test]
fn idle_tls_connections_are_dropped() {
    let certs = tempfile::tempdir().unwrap();
    let tls = crate::tls::make_ca(certs.path());
    let Tls::Ca { ca, .. } = &tls else {
        unreachable!()
    };
    let ca = ca.clone();
    let cfg = config(
        certs.path(),
        "header_timeout_secs = 2\ntls_handshake_timeout_secs = 2\n",
    );
    let hub = Hub::start_with(tls, &["--config", &cfg]);
    // No TLS hello at all.
    let mut bare = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    bare.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 64];
    assert!(matches!(bare.read(&mut buf), Ok(0) | Err(_)));
    assert!(start.elapsed() < Duration::from_secs(10));
    // A finished TLS handshake, then nothing.
    let mut roots = rustls::RootCertStore::empty();
    let pem = std::fs::read(&ca).unwrap();
    for c in rustls_pemfile_certs(&pem) {
        roots.add(c).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(std::sync::Arc::new(cfg), name).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    let start = Instant::now();
    let end = tls.read(&mut buf);
    assert!(matches!(end, Ok(0) | Err(_)), "{end:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
}

/// PEM certificates, without another dependency.
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap())
        .collect()
}

#[test]
fn metrics_token_and_separate_listener() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = config(
        dir.path(),
        &format!("metrics_token = \"s3cret-scrape\"\nmetrics_listen = \"127.0.0.1:{port}\"\n"),
    );
    let hub = Hub::start_with(Tls::None, &["--config", &cfg]);
    let get = |p: u16, auth: &str| {
        raw(
            p,
            &format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{auth}Connection: close\r\n\r\n"),
        )
    };
    // Not on the main port any more.
    assert_eq!(get(hub.port, "").0, 404);
    let (status, head, body) = get(port, "");
    assert_eq!(status, 401, "{body}");
    assert!(head.contains("www-authenticate: bearer"), "{head}");
    assert_eq!(get(port, "Authorization: Bearer wrong\r\n").0, 401);
    let (status, _, body) = get(port, "Authorization: bearer s3cret-scrape\r\n");
    assert_eq!(status, 200);
    assert!(body.contains("pmr_hub_agents_connected"), "{body}");
}

#[test]
fn keys_create_prints_a_link_command_that_works_as_printed() {
    let hub = Hub::start(Tls::SelfSigned);
    let fp = hub.fingerprint.clone().unwrap();
    let out = String::from_utf8(hub.admin(&["keys", "create", "--bucket", "edge"]).stdout).unwrap();
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("pmr link S"))
        .expect("a link line");
    assert!(line.contains(&format!("--fingerprint {fp}")), "{line}");
    assert!(line.contains("--hub wss://"), "{line}");
    // Run it as printed, with the hub's address in place of this machine's name.
    let args: Vec<String> = line
        .split_whitespace()
        .skip(1)
        .map(|a| {
            if a.starts_with("wss://") {
                format!("wss://127.0.0.1:{}", hub.port)
            } else {
                a.to_string()
            }
        })
        .collect();
    let agent = Agent::new();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    agent.ok(&args);
    wait_until("linked as printed", || {
        agent.status().contains("status:   connected").then_some(())
    });
}

#[tokio::test(flavor = "current_thread")]
async fn a_silent_session_is_closed_with_4411_despite_the_hubs_pings() {
    let hub = Hub::start(Tls::None);
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    // Read nothing (so no pong answers the hub's ping at 15 s) for 31 s.
    tokio::time::sleep(Duration::from_secs(31)).await;
    assert_eq!(close_code(&mut ws).await, close::IDLE);
}

#[tokio::test(flavor = "current_thread")]
async fn an_agent_refused_as_busy_says_why_and_waits_the_retry_after() {
    // One handshake per 1000 s from an address (a burst of 1): a raw upgrade
    // takes it, so the agent's own attempt gets HTTP 429.
    let hub = Hub::start_with(Tls::None, &["--handshakes-per-ip", "0.001"]);
    let _first = open(&hub).await;
    let agent = Agent::new();
    agent.link(&hub, "patient", &[]);
    let status = wait_until("the refusal", || {
        let s = agent.status();
        (s.contains("HTTP 429") && s.contains("next attempt in")).then_some(s)
    });
    assert!(status.contains("too many connection attempts"), "{status}");
    let wait: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("next attempt in "))
        .and_then(|l| l.trim_end_matches('s').parse().ok())
        .unwrap();
    // Retry-After is 5 s; the status was read a moment after it was set.
    assert!(wait > 3.5, "the agent retries after {wait} s: {status}");
}

#[test]
fn one_address_holds_only_its_share_of_connections() {
    let hub = Hub::start(Tls::None);
    let src: std::net::IpAddr = "127.0.0.7".parse().unwrap();
    let mut held: Vec<TcpStream> = (0..300).map(|_| connect_from(src, hub.port)).collect();
    // The hub closes what is over the share (256) at accept, without a word;
    // the rest stay open (for the 10 s a request head may take).
    std::thread::sleep(Duration::from_millis(500));
    let mut buf = [0u8; 1];
    let open = held
        .iter_mut()
        .map(|s| s.read(&mut buf))
        .filter(|r| matches!(r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock))
        .count();
    assert_eq!(open, 256, "connections left open from one address");
    // Another address is served meanwhile, and the refusals are counted.
    let (status, _, body) = raw(
        hub.port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (_, metrics) = hub.http("GET", "/metrics", None, false);
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("pmr_hub_connections_refused_total{reason=\"address_full\"} 44"),
        "{metrics}"
    );
}

/// A non-blocking connection to the hub from source address `src`.
fn connect_from(src: std::net::IpAddr, port: u16) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(SocketAddr::new(src, 0)).unwrap();
        let hub = SocketAddr::from(([127, 0, 0, 1], port));
        // Still non-blocking once out of tokio.
        sock.connect(hub).await.unwrap().into_std().unwrap()
    })
}
