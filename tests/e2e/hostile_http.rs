//! The hub's HTTP side under hostile traffic (issue 10): errors of every
//! kind as JSON, slowloris and idle connections, idle TLS, one address's
//! share of connections, a client that stops reading, the `/metrics` token
//! and listener, and the `pmr link` line `keys create` prints.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::{Agent, Hub, Tls, wait_until};

/// A raw HTTP exchange: (status, lower-cased head, body).
pub fn raw(port: u16, request: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    split_answer(&out)
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

/// Requests hyper refuses before any route sees them: a target past the
/// 65534 bytes `http::Uri` holds, a head past hyper's 64 KiB buffer, more
/// header lines than it parses, a request line that is not HTTP.
fn unparsable_requests() -> Vec<(String, u16)> {
    let long = format!("/api/v1/servers?{}", "a".repeat(64 * 1024));
    let big_header = format!("X-Big: {}\r\n", "b".repeat(70 * 1024));
    let lines: String = (0..300).map(|i| format!("X-H{i}: v\r\n")).collect();
    let get = |path: &str, extra: &str| {
        format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n")
    };
    vec![
        (get(&long, ""), 414),
        (get("/healthz", &big_header), 431),
        (get("/healthz", &lines), 431),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400),
        (
            "GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n".to_string(),
            400,
        ),
    ]
}

/// Asserts one answer is the hub's JSON error with status `want`.
fn assert_json_error(req: &str, want: u16, (status, head, body): (u16, String, String)) {
    assert_eq!(status, want, "{req:.60}: {head}\n{body}");
    assert!(
        head.contains("content-type: application/json"),
        "{want}: {head}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{want}: {head}\n{body:?}"));
    assert!(v["error"].is_string() && v["status"] == want, "{v}");
}

#[test]
fn requests_hyper_refuses_get_the_same_json_errors() {
    let hub = Hub::start(Tls::None);
    for (req, want) in unparsable_requests() {
        assert_json_error(&req, want, raw(hub.port, &req));
    }
    // The hub still serves.
    let (status, _, _) = raw(
        hub.port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
}

#[test]
fn requests_hyper_refuses_get_json_errors_over_tls_too() {
    let certs = tempfile::tempdir().unwrap();
    let tls = crate::tls::make_ca(certs.path());
    let Tls::Ca { ca, .. } = &tls else {
        unreachable!()
    };
    let ca = ca.clone();
    let hub = Hub::start(tls);
    for (req, want) in unparsable_requests() {
        assert_json_error(&req, want, raw_tls(hub.port, &ca, &req));
    }
}

/// [`raw`] over TLS, trusting the CA in `ca`.
fn raw_tls(port: u16, ca: &std::path::Path, request: &str) -> (u16, String, String) {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile_certs(&std::fs::read(ca).unwrap()) {
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
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(request.as_bytes()).unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    split_answer(&out)
}

/// (status, lower-cased head, body) of a raw answer.
fn split_answer(out: &[u8]) -> (u16, String, String) {
    let text = String::from_utf8_lossy(out).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head.to_ascii_lowercase(), body.to_string())
}

pub fn config(dir: &std::path::Path, body: &str) -> String {
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
    // The running hub recorded its real port (started with port 0).
    assert!(line.contains(&format!(":{} ", hub.port)), "{line}");
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

#[test]
fn one_address_holds_only_its_share_of_connections() {
    let hub = Hub::start(Tls::None);
    let src: std::net::IpAddr = "127.0.0.7".parse().unwrap();
    let mut held = connect_from(src, hub.port, 300);
    // The hub closes what is over the share (256) at accept, without a word;
    // the rest stay open (for the 10 s a request head may take).
    wait_until("44 refused", || {
        let (_, m) = hub.http("GET", "/metrics", None, false);
        m.as_str()?
            .contains("pmr_hub_connections_refused_total{reason=\"address_full\"} 44")
            .then_some(())
    });
    let mut buf = [0u8; 1];
    let open = held
        .iter_mut()
        .map(|s| s.read(&mut buf))
        .filter(|r| matches!(r, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock))
        .count();
    assert_eq!(open, 256, "connections left open from one address");
    // Another address is served meanwhile.
    let (status, _, body) = raw(
        hub.port,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!((status, body.as_str()), (200, "ok"));
}

/// `n` non-blocking connections to the hub from source address `src`.
fn connect_from(src: std::net::IpAddr, port: u16, n: usize) -> Vec<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hub = SocketAddr::from(([127, 0, 0, 1], port));
    rt.block_on(async {
        let mut out = Vec::new();
        for _ in 0..n {
            let sock = tokio::net::TcpSocket::new_v4().unwrap();
            sock.bind(SocketAddr::new(src, 0)).unwrap();
            // Still non-blocking once out of tokio.
            out.push(sock.connect(hub).await.unwrap().into_std().unwrap());
        }
        out
    })
}

#[tokio::test(flavor = "current_thread")]
async fn a_client_that_stops_reading_its_response_is_let_go() {
    use crate::handshake::{auth, event, now, open, send, snapshot, welcomed};
    use futures_util::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "write_timeout_secs = 2\n");
    let hub = Hub::start_with(Tls::None, &["--config", &cfg]);
    // An agent with 2,000 long-named processes makes /metrics a few MiB.
    let bucket = pmr_shared::link::keys::SecretKey::parse(&hub.secret).unwrap();
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    send(
        &mut ws,
        &pmr_shared::link::messages::AgentMsg::Snapshot(snapshot(2000)),
    )
    .await;
    send(&mut ws, &event(1)).await;
    assert!(ws.next().await.is_some(), "no ack");
    let open_now = |hub: &Hub| -> Option<f64> {
        let (_, m) = hub.http("GET", "/metrics", None, false);
        m.as_str()?
            .lines()
            .find_map(|l| l.strip_prefix("pmr_hub_connections_open ")?.parse().ok())
    };
    // The agent's session and the asking connection.
    let baseline = open_now(&hub).unwrap();
    // A client with a tiny receive window asks for it and never reads.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut slow = sock
        .connect(SocketAddr::from(([127, 0, 0, 1], hub.port)))
        .await
        .unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut slow, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    wait_until("the slow reader counted", || {
        open_now(&hub).filter(|n| *n > baseline).map(|_| ())
    });
    // Its response stalls; after 2 s without progress the hub lets it go.
    wait_until("the stalled connection closed", || {
        open_now(&hub).filter(|n| *n <= baseline).map(|_| ())
    });
    let mut got = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut slow, &mut got).await;
    let text = String::from_utf8_lossy(&got);
    let whole = text.contains("pmr_server_up") && text.ends_with('\n');
    assert!(
        !whole || got.len() < 1_000_000,
        "the whole response arrived ({} bytes)",
        got.len()
    );
}

#[test]
fn a_request_whose_body_never_ends_gets_a_408() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "request_timeout_secs = 2\n");
    let hub = Hub::start_with(Tls::None, &["--config", &cfg]);
    let mut s = TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // 100 bytes announced, 10 sent, then nothing.
    write!(
        s,
        "POST /api/v1/actions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"server\":",
        hub.token
    )
    .unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"status\":408"), "{text}");
    assert!(start.elapsed() < Duration::from_secs(15));
}
