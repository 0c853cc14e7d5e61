//! The agents' door under hostile traffic (issue 10): idle upgrades from
//! several addresses, oversized and forged frames, out-of-order replays, a
//! second session of one machine, a busy hub. Real hub,
//! real sockets, loopback only (127.0.0.x are distinct source addresses).
//! A silent session's close is tested without sockets in the hub's
//! `agents::session` tests, on a paused clock.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::keys::SecretKey;
use pmr_shared::link::messages::{AgentMsg, HubMsg, close};
use tokio_tungstenite::tungstenite::{self, Message};

use crate::handshake::{auth, close_code, close_frame, event, now, open, send, welcomed};
use crate::harness::{Agent, Hub, Tls, wait_until};
use crate::hostile_http::config;

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

/// A welcomed session of the hub's bucket key.
async fn session(hub: &Hub) -> crate::handshake::Ws {
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let (mut ws, id, nonce) = open(hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    ws
}

/// A raw handshake from 127.0.0.1 that must end in `welcome`.
async fn fresh_handshake(hub: &Hub) {
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let (mut ws, id, nonce) = open(hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(
        welcomed(&mut ws).await,
        "the fresh handshake was not welcomed"
    );
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
    // All 128 still hold their places (none has reached the 5 s deadline)...
    assert_eq!(metric(&hub, "pmr_hub_pending_handshakes"), Some(128.0));
    // ...and an agent from another address is welcomed meanwhile.
    fresh_handshake(&hub).await;
    assert_eq!(
        metric(&hub, "pmr_hub_handshake_failures_total{reason=\"timeout\"}"),
        None,
        "the fresh handshake had to wait for idle ones to time out"
    );
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
async fn a_full_pool_gives_a_newcomer_the_oldest_place_of_the_heaviest_address() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), "max_pending_handshakes = 32\n");
    let hub = Hub::start_with(Tls::None, &["--config", &cfg]);
    let mut idle = Vec::new();
    for a in [2u8, 3] {
        for _ in 0..16 {
            idle.push(
                upgrade_from(&hub, Ipv4Addr::new(127, 0, 0, a))
                    .await
                    .unwrap(),
            );
        }
    }
    assert_eq!(metric(&hub, "pmr_hub_pending_handshakes"), Some(32.0));
    // Full: the newcomer holds nothing, each of the others 16.
    fresh_handshake(&hub).await;
    let mut codes = Vec::new();
    for ws in &mut idle {
        codes.push(close_frame(ws).await.0);
    }
    let evicted = codes.iter().filter(|c| **c == close::TRY_AGAIN).count();
    assert_eq!(evicted, 1, "{codes:?}");
    assert!(
        codes[0] == close::TRY_AGAIN || codes[16] == close::TRY_AGAIN,
        "the oldest place goes: {codes:?}"
    );
    assert!(
        codes
            .iter()
            .all(|c| [close::TRY_AGAIN, close::TIMEOUT].contains(c)),
        "{codes:?}"
    );
}

/// A value from the hub's `/metrics`, by series (name and labels as printed).
pub(crate) fn metric(hub: &Hub, series: &str) -> Option<f64> {
    let (_, text) = hub.http("GET", "/metrics", None, false);
    text.as_str()?
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
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

    // Agent text that does reach the log (an unknown message type, quoted
    // in the close reason) is escaped: no forged line.
    let (mut ws, id, nonce) = open(&hub).await;
    send(
        &mut ws,
        &auth_named(&bucket, &hub.public, &id, &nonce, "web-ok"),
    )
    .await;
    assert!(welcomed(&mut ws).await);
    let evil = r#"{"type":"x\n2026-12-01T00:00:01.000000Z  INFO forged too"}"#;
    ws.send(Message::Text(evil.into())).await.unwrap();
    let (code, reason) = close_frame(&mut ws).await;
    assert_eq!(code, close::BAD_FRAME);
    assert!(reason.starts_with("not a message"), "{reason}");
    let log = wait_until("the close logged", || {
        let l = hub.log();
        l.contains("agent session closed").then_some(l)
    });
    assert!(
        !log.lines().any(|l| l.starts_with("2026-12-01T00:00:01")),
        "a forged line reached the log:\n{log}"
    );
    assert!(
        log.contains("forged too"),
        "the detail is logged, escaped:\n{log}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_lower_or_repeated_seq_is_acknowledged() {
    let hub = Hub::start(Tls::None);
    let mut ws = session(&hub).await;
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
    // Without Retry-After the tests' backoff cap is 2 s; with it, over 5 s
    // from the refusal (the status is read a moment after).
    assert!(wait > 2.5, "the agent retries after {wait} s: {status}");
}

/// A masked client text frame carrying `payload`.
fn masked_text_frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x81u8];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n if n <= 0xffff => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(0x80 | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mask = [0x12u8, 0x34, 0x56, 0x78];
    f.extend_from_slice(&mask);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

/// The close code the hub sends when the upgrade request and one text
/// frame of `len` bytes come in a single write (a `hello` may come first,
/// when the hub's read stopped short of what it holds).
fn close_after_upgrade_with_frame(hub: &Hub, len: usize) -> u16 {
    use std::io::{Read, Write};
    let upgrade = format!(
        "GET /agent/v1 HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        hub.port
    );
    let mut bytes = upgrade.into_bytes();
    bytes.extend(masked_text_frame(&vec![b'x'; len]));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", hub.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(&bytes).unwrap();
    // The 101's head, then the frames the hub sends.
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the upgrade answer");
        got.extend_from_slice(&buf[..n]);
    };
    assert!(
        got.starts_with(b"HTTP/1.1 101"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
    let rest = got.split_off(head_end);
    let mut ws = tungstenite::WebSocket::from_partially_read(
        s,
        rest,
        tungstenite::protocol::Role::Client,
        None,
    );
    loop {
        match ws.read() {
            Ok(Message::Text(t)) if t.contains("\"hello\"") => continue,
            Ok(Message::Close(Some(frame))) => return frame.code.into(),
            other => panic!("expected a close: {other:?}"),
        }
    }
}

#[test]
fn frame_bytes_sent_with_the_upgrade_count_toward_the_pre_auth_limit() {
    let hub = Hub::start(Tls::None);
    // 20 KiB is over the 16 KiB an agent may send before `welcome`: 1009,
    // not the 4400 of a frame read whole.
    assert_eq!(
        close_after_upgrade_with_frame(&hub, 20 * 1024),
        close::TOO_BIG
    );
    // 15 KiB is within it (the request head is not counted): read, and
    // refused as a frame that is not `auth`.
    assert_eq!(
        close_after_upgrade_with_frame(&hub, 15 * 1024),
        close::BAD_FRAME
    );
}
