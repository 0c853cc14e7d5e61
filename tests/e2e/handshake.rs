//! The handshake's refusals, each with its close code, while a real agent
//! stays connected.

use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::keys::SecretKey;
use pmr_shared::link::messages::{AgentMsg, HubMsg, close};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Agent, Hub, Tls, wait_until};

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn open(hub: &Hub) -> (Ws, String, [u8; 32]) {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/agent/v1", hub.ws_url()))
        .await
        .unwrap();
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        panic!("no hello")
    };
    let HubMsg::Hello { hub_id, nonce, .. } = serde_json::from_str(&t).unwrap() else {
        panic!("not hello")
    };
    let nonce: [u8; 32] = handshake::unhex(&nonce).unwrap().try_into().unwrap();
    (ws, hub_id, nonce)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An auth message; `signer` may differ from the presented key to forge.
pub fn auth(signer: &SecretKey, public: &str, hub_id: &str, nonce: &[u8; 32], ts: i64) -> AgentMsg {
    let f = AuthFields {
        hub_id,
        nonce,
        proto: 1,
        public_key: public,
        machine_id: "raw-1",
        machine_name: "raw",
        agent_version: "test",
        ts,
    };
    AgentMsg::Auth {
        proto: 1,
        public_key: public.into(),
        machine_id: "raw-1".into(),
        machine_name: "raw".into(),
        agent_version: "test".into(),
        ts,
        nonce: handshake::hex(nonce),
        sig: handshake::hex(&handshake::sign(signer, &f)),
    }
}

/// A snapshot of `n` processes with long names (about 400 bytes each).
pub fn snapshot(n: u32) -> pmr_shared::link::messages::Snapshot {
    let processes = (0..n)
        .map(|i| pmr_shared::link::messages::Proc {
            pm_id: i,
            name: format!("{i:0>200}"),
            status: "online".into(),
            exec_mode: "fork_mode".into(),
            ..Default::default()
        })
        .collect();
    pmr_shared::link::messages::Snapshot {
        seq: 1,
        full: true,
        at: now(),
        processes,
        ..Default::default()
    }
}

pub fn event(seq: u64) -> AgentMsg {
    AgentMsg::Event(pmr_shared::link::messages::Event {
        seq,
        at: now(),
        kind: pmr_shared::link::messages::EventKind::Online,
        pm_id: 0,
        name: "x".into(),
        namespace: None,
        code: None,
        signal: None,
        detail: None,
    })
}

pub async fn send(ws: &mut Ws, m: &AgentMsg) {
    ws.send(Message::Text(serde_json::to_string(m).unwrap().into()))
        .await
        .unwrap();
}

/// The close code the hub ends with (0 if it just dropped the connection).
pub async fn close_code(ws: &mut Ws) -> u16 {
    close_frame(ws).await.0
}

/// The close frame's code and reason (0 and "" if the hub just dropped the
/// connection), on any websocket.
pub async fn close_frame<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> (u16, String)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(20), ws.next())
            .await
            .expect("the hub kept the socket open")
        {
            Some(Ok(Message::Close(Some(f)))) => return (f.code.into(), f.reason.to_string()),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
            Some(Ok(_)) => continue,
        }
    }
}

pub async fn welcomed(ws: &mut Ws) -> bool {
    matches!(ws.next().await, Some(Ok(Message::Text(t))) if t.contains("\"welcome\""))
}

#[tokio::test(flavor = "current_thread")]
async fn refusals_have_their_close_codes() {
    let hub = Hub::start(Tls::None);
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    // A real agent that must stay connected through all of this.
    let agent = Agent::new();
    agent.write("s.sh", "while true; do sleep 1; done\n");
    agent.ok(&["start", "s.sh"]);
    agent.link(&hub, "steady", &[]);
    wait_until("steady online", || {
        (hub.server("steady")?["online"] == true).then_some(())
    });
    let since = hub.server("steady").unwrap()["connected_since"].clone();

    // Wrong signature: signed by another key.
    let (mut ws, id, nonce) = open(&hub).await;
    send(
        &mut ws,
        &auth(&SecretKey::generate(), &hub.public, &id, &nonce, now()),
    )
    .await;
    assert_eq!(close_code(&mut ws).await, close::BAD_SIGNATURE);

    // A valid answer, accepted once...
    let (mut ws1, id, nonce) = open(&hub).await;
    let good = auth(&bucket, &hub.public, &id, &nonce, now());
    send(&mut ws1, &good).await;
    assert!(welcomed(&mut ws1).await);
    // ...and replayed on a new connection: the nonce no longer matches.
    let (mut ws2, _, _) = open(&hub).await;
    send(&mut ws2, &good).await;
    assert_eq!(close_code(&mut ws2).await, close::NONCE);

    // Unknown key.
    let stranger = SecretKey::generate();
    let (mut ws, id, nonce) = open(&hub).await;
    send(
        &mut ws,
        &auth(
            &stranger,
            &stranger.public().to_string(),
            &id,
            &nonce,
            now(),
        ),
    )
    .await;
    assert_eq!(close_code(&mut ws).await, close::UNKNOWN_KEY);

    // Stale timestamp.
    let (mut ws, id, nonce) = open(&hub).await;
    send(
        &mut ws,
        &auth(&bucket, &hub.public, &id, &nonce, now() - 5 * 60_000),
    )
    .await;
    assert_eq!(close_code(&mut ws).await, close::CLOCK_SKEW);

    // Malformed JSON after the handshake.
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    ws.send(Message::Text("{not json".into())).await.unwrap();
    assert_eq!(close_code(&mut ws).await, close::BAD_FRAME);

    // An oversized frame ends that connection (and only that one).
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    // A valid snapshot well under the frame limit is taken (an event after
    // it is acknowledged); one over it, valid in every other way, ends that
    // connection with 1009, "message too big".
    send(&mut ws, &AgentMsg::Snapshot(snapshot(2000))).await;
    send(&mut ws, &event(1)).await;
    let ack = loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => break t.to_string(),
            Some(Ok(_)) => continue,
            other => panic!("connection ended after a legal frame: {other:?}"),
        }
    };
    assert!(ack.contains("\"ack\""), "{ack}");
    let big = serde_json::to_string(&AgentMsg::Snapshot(snapshot(4000))).unwrap();
    assert!(big.len() > pmr_shared::link::messages::MAX_FRAME_BYTES);
    let _ = ws.send(Message::Text(big.into())).await;
    assert_eq!(close_code(&mut ws).await, close::TOO_BIG);

    // A revoked key: new connections refused, live ones closed.
    let other = hub.admin(&["keys", "create", "--bucket", "staging"]);
    let text = String::from_utf8(other.stdout).unwrap();
    let sec = SecretKey::parse(
        text.lines()
            .find_map(|l| l.strip_prefix("secret key: "))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let public = sec.public().to_string();
    let (mut live, id, nonce) = open(&hub).await;
    send(&mut live, &auth(&sec, &public, &id, &nonce, now())).await;
    assert!(welcomed(&mut live).await);
    hub.admin(&["keys", "revoke", &public]);
    assert_eq!(close_code(&mut live).await, close::REVOKED);
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&sec, &public, &id, &nonce, now())).await;
    assert_eq!(close_code(&mut ws).await, close::REVOKED);

    // Through all of it the real agent stayed connected: same session.
    let steady = hub.server("steady").unwrap();
    assert_eq!(steady["online"], true);
    assert_eq!(
        steady["connected_since"], since,
        "the agent was dropped and came back"
    );
    assert!(agent.status().contains("status:   connected"));
    // And the hub counted the refusals by reason.
    let (_, metrics) = hub.http("GET", "/metrics", None, false);
    let metrics = metrics.as_str().unwrap().to_string();
    for reason in [
        "bad_signature",
        "nonce",
        "unknown_key",
        "clock_skew",
        "revoked",
    ] {
        assert!(
            metrics.contains(&format!("reason=\"{reason}\"")),
            "{reason} not counted"
        );
    }
}

#[test]
fn agent_shows_the_hubs_reason_and_backs_off() {
    let hub = Hub::start(Tls::None);
    let agent = Agent::new();
    agent.link(&hub, "doomed", &[]);
    wait_until("connected", || {
        agent.status().contains("status:   connected").then_some(())
    });
    hub.admin(&["keys", "revoke", &hub.public]);
    let status = wait_until("the reason", || {
        let s = agent.status();
        s.contains("revoked").then_some(s)
    });
    assert!(status.contains("disconnected"), "{status}");
    // It waits before trying again, and keeps the reason meanwhile.
    let waiting = wait_until("a scheduled retry", || {
        let s = agent.status();
        s.contains("next attempt in").then_some(s)
    });
    assert!(waiting.contains("revoked"), "{waiting}");
}

#[tokio::test(flavor = "current_thread")]
async fn rate_limits_per_address_and_per_key() {
    // One handshake per 100 s per key (burst 1), 0.5 per s per address (burst 5).
    let hub = Hub::start_with(
        Tls::None,
        &["--handshakes-per-key", "0.01", "--handshakes-per-ip", "0.5"],
    );
    let bucket = SecretKey::parse(&hub.secret).unwrap();
    let (mut ws, id, nonce) = open(&hub).await;
    send(&mut ws, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert!(welcomed(&mut ws).await);
    let (mut ws2, id, nonce) = open(&hub).await;
    send(&mut ws2, &auth(&bucket, &hub.public, &id, &nonce, now())).await;
    assert_eq!(close_code(&mut ws2).await, close::RATE_LIMITED);
    // The address has used 2 of its burst of 5; the rest are refused before upgrading.
    let mut refused = 0;
    for _ in 0..6 {
        if tokio_tungstenite::connect_async(format!("{}/agent/v1", hub.ws_url()))
            .await
            .is_err()
        {
            refused += 1;
        }
    }
    assert!(refused >= 2, "only {refused} refused");
}
