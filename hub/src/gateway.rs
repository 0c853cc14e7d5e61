//! `/agent/v1`: the agents' websocket. Handshake (DESIGN.md §3), then a
//! session that ingests snapshots, events and rollups and carries actions.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::handshake::{self, AuthFields, MAX_SKEW_MS, NONCE_TTL_MS};
use pmr_shared::link::keys::PublicKey;
use pmr_shared::link::messages::{AgentMsg, HubMsg, LINK_PROTOCOL, MAX_FRAME_BYTES, Stream, close};

use crate::live::ServerView;
use crate::{Hub, now_ms};

/// How long an agent has to answer `hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Upgrades with small buffers and hard frame limits.
pub async fn upgrade(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(crate::PeerAddr(addr)): ConnectInfo<crate::PeerAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    if !hub.ip_limit.allow(&addr.ip()) {
        hub.metrics
            .handshake_failures
            .with_label_values(&["rate_limited_ip"])
            .inc();
        return (
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "too many connection attempts",
        )
            .into_response();
    }
    // Unauthenticated connections are capped globally: each may buffer up to
    // a frame, so their number bounds the memory strangers can take.
    let Ok(permit) = hub.pending_handshakes.clone().try_acquire_owned() else {
        hub.metrics
            .handshake_failures
            .with_label_values(&["busy"])
            .inc();
        return (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "too many handshakes in progress",
        )
            .into_response();
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(MAX_FRAME_BYTES * 2)
        .on_upgrade(move |socket| async move {
            let _ = session(hub, socket, permit).await;
        })
}

async fn close_with(mut socket: WebSocket, hub: &Hub, code: u16, label: &str) {
    hub.metrics
        .handshake_failures
        .with_label_values(&[label])
        .inc();
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(close::reason(code)),
    };
    let _ = socket.send(Message::Close(Some(frame))).await;
}

/// A verified agent.
struct Authed {
    key_id: i64,
    bucket_id: i64,
    bucket: String,
    machine_id: String,
    machine_name: String,
    agent_version: String,
}

async fn handshake(hub: &Hub, socket: &mut WebSocket) -> Result<Authed, (u16, &'static str)> {
    let mut nonce = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let issued = now_ms();
    let hello = HubMsg::Hello {
        proto: LINK_PROTOCOL,
        hub_id: hub.hub_id.clone(),
        nonce: handshake::hex(&nonce),
        ts: issued,
    };
    let text = serde_json::to_string(&hello).map_err(|_| (1011, "internal"))?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|_| (1006, "io"))?;
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, socket.recv())
        .await
        .map_err(|_| (close::TIMEOUT, "timeout"))?;
    let text = match first {
        Some(Ok(Message::Text(t))) => t,
        Some(Ok(_)) => return Err((close::BAD_FRAME, "bad_frame")),
        _ => return Err((1006, "io")),
    };
    let Ok(AgentMsg::Auth {
        proto,
        public_key,
        machine_id,
        machine_name,
        agent_version,
        ts,
        nonce: echoed,
        sig,
    }) = serde_json::from_str::<AgentMsg>(&text)
    else {
        return Err((close::BAD_FRAME, "bad_frame"));
    };
    if proto != LINK_PROTOCOL {
        return Err((close::PROTOCOL, "protocol"));
    }
    let now = now_ms();
    if echoed != handshake::hex(&nonce) || now - issued > NONCE_TTL_MS {
        return Err((close::NONCE, "nonce"));
    }
    if (now - ts).abs() > MAX_SKEW_MS {
        return Err((close::CLOCK_SKEW, "clock_skew"));
    }
    if machine_id.is_empty()
        || machine_id.len() > 128
        || machine_name.len() > 128
        || agent_version.len() > 64
    {
        return Err((close::BAD_FRAME, "bad_frame"));
    }
    let Ok(public) = PublicKey::parse(&public_key) else {
        return Err((close::UNKNOWN_KEY, "unknown_key"));
    };
    let canonical = public.to_string();
    let store = hub.store.clone();
    let row = tokio::task::spawn_blocking(move || store.key(&canonical))
        .await
        .map_err(|_| (1011, "internal"))?
        .map_err(|_| (1011, "internal"))?;
    let Some(row) = row else {
        return Err((close::UNKNOWN_KEY, "unknown_key"));
    };
    if row.revoked_at.is_some() {
        return Err((close::REVOKED, "revoked"));
    }
    let fields = AuthFields {
        hub_id: &hub.hub_id,
        nonce: &nonce,
        proto,
        public_key: &public_key,
        machine_id: &machine_id,
        machine_name: &machine_name,
        agent_version: &agent_version,
        ts,
    };
    let sig = handshake::unhex(&sig).unwrap_or_default();
    if !handshake::verify(&public, &fields, &sig) {
        return Err((close::BAD_SIGNATURE, "bad_signature"));
    }
    // Only proven key holders spend the key's budget: knowing a public key
    // (which is not secret) must not let anyone lock a bucket out.
    if !hub.key_limit.allow(&row.id) {
        return Err((close::RATE_LIMITED, "rate_limited_key"));
    }
    Ok(Authed {
        key_id: row.id,
        bucket_id: row.bucket_id,
        bucket: row.bucket,
        machine_id,
        machine_name,
        agent_version,
    })
}

async fn session(
    hub: Arc<Hub>,
    mut socket: WebSocket,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> anyhow::Result<()> {
    let authed = match handshake(&hub, &mut socket).await {
        Ok(a) => a,
        Err((code, label)) => {
            drop(permit);
            close_with(socket, &hub, code, label).await;
            return Ok(());
        }
    };
    drop(permit);
    let now = now_ms();
    let store = hub.store.clone();
    let (bid, mid, name, ver) = (
        authed.bucket_id,
        authed.machine_id.clone(),
        authed.machine_name.clone(),
        authed.agent_version.clone(),
    );
    let server_id =
        tokio::task::spawn_blocking(move || store.upsert_server(bid, &mid, &name, &ver, now))
            .await??;
    let store = hub.store.clone();
    let resume = tokio::task::spawn_blocking(move || store.resume(server_id)).await??;
    let welcome = HubMsg::Welcome {
        session_id: format!("{server_id}-{now}"),
        resume,
    };
    socket
        .send(Message::Text(serde_json::to_string(&welcome)?.into()))
        .await?;
    let mut attached = hub.live.attach(
        ServerView {
            id: server_id,
            bucket: authed.bucket.clone(),
            name: authed.machine_name.clone(),
            machine_id: authed.machine_id.clone(),
            agent_version: authed.agent_version.clone(),
            online: true,
            last_seen: now,
            connected_since: now,
            ..Default::default()
        },
        authed.key_id,
    );
    hub.metrics.agents_connected.inc();
    tracing::info!(server = %authed.machine_name, bucket = %authed.bucket, "agent connected");
    let result = run(&hub, server_id, &mut socket, &mut attached).await;
    hub.metrics.agents_connected.dec();
    hub.live.detach(server_id, attached.generation, now_ms());
    tracing::info!(server = %authed.machine_name, "agent disconnected");
    let code = match &result {
        Ok(Some(code)) => Some(*code),
        Err(_) => Some(close::BAD_FRAME),
        Ok(None) => None,
    };
    if let Some(code) = code {
        let frame = CloseFrame {
            code,
            reason: Utf8Bytes::from(close::reason(code)),
        };
        let _ = socket.send(Message::Close(Some(frame))).await;
    }
    Ok(())
}

/// A session with no frame for this long is dead (agents send every second).
const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// The hub pings this often so the agent can tell a dead hub too.
const PING_EVERY: Duration = Duration::from_secs(15);
/// A send that cannot complete in this time means the agent stopped reading.
const SEND_LIMIT: Duration = Duration::from_secs(10);
/// Longest names and texts accepted from an agent.
const MAX_NAME: usize = 256;
const MAX_TEXT: usize = 4096;
/// Most custom metrics per process, and bytes of versioning JSON.
const MAX_METRICS: usize = 64;
const MAX_VERSIONING: usize = 4096;
/// Frames per second one session may average (bursts cover replays).
const FRAME_RATE: f64 = 50.0;
const FRAME_BURST: f64 = 20_000.0;

/// Why a session ends.
enum End {
    /// The agent left or a newer session replaced this one.
    Gone,
    /// Close with this code.
    Code(u16),
}

/// Refuses what no honest agent sends: oversized names and texts, too many
/// metrics, sequence numbers the store cannot hold.
fn sane(msg: &AgentMsg) -> bool {
    let name_ok = |s: &str| s.len() <= MAX_NAME;
    let seq_ok = |s: u64| s <= i64::MAX as u64;
    match msg {
        AgentMsg::Snapshot(s) => {
            s.processes.len() <= crate::live::MAX_PROCESSES_PER_SERVER
                && s.host.hostname.len() <= MAX_NAME
                && s.processes.iter().all(|p| {
                    name_ok(&p.name)
                        && name_ok(&p.namespace)
                        && name_ok(&p.status)
                        && name_ok(&p.exec_mode)
                        && p.metrics.len() <= MAX_METRICS
                        && p.metrics
                            .iter()
                            .all(|(k, v)| k.len() <= MAX_NAME && v.to_string().len() <= MAX_NAME)
                        && p.versioning
                            .as_ref()
                            .is_none_or(|v| v.to_string().len() <= MAX_VERSIONING)
                })
        }
        AgentMsg::Event(e) => {
            seq_ok(e.seq)
                && name_ok(&e.name)
                && e.signal.as_deref().is_none_or(name_ok)
                && e.detail.as_ref().is_none_or(|d| d.len() <= MAX_TEXT)
        }
        AgentMsg::Rollup(r) => {
            seq_ok(r.seq)
                && r.processes.len() <= crate::live::MAX_PROCESSES_PER_SERVER
                && r.processes.iter().all(|p| name_ok(&p.name))
        }
        AgentMsg::ActionResult(r) => r.id.len() <= MAX_NAME && r.message.len() <= 64 * 1024,
        AgentMsg::Auth { .. } => false,
    }
}

/// The session loop; returns the close code to send, if any.
async fn run(
    hub: &Arc<Hub>,
    server_id: i64,
    socket: &mut WebSocket,
    attached: &mut crate::live::Attached,
) -> anyhow::Result<Option<u16>> {
    match session_loop(hub, server_id, socket, attached).await {
        Ok(End::Gone) => Ok(None),
        Ok(End::Code(c)) => Ok(Some(c)),
        Err(e) => {
            // Our failure, not the agent's: say so (1011), do not blame its frame.
            tracing::warn!("session of server {server_id} failed: {e:#}");
            Ok(Some(1011))
        }
    }
}

async fn session_loop(
    hub: &Arc<Hub>,
    server_id: i64,
    socket: &mut WebSocket,
    attached: &mut crate::live::Attached,
) -> anyhow::Result<End> {
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut tokens = FRAME_BURST;
    let mut refill = tokio::time::Instant::now();
    macro_rules! send {
        ($msg:expr) => {
            match tokio::time::timeout(SEND_LIMIT, sink.send($msg)).await {
                Ok(Ok(())) => {}
                _ => return Ok(End::Gone),
            }
        };
    }
    loop {
        tokio::select! {
            frame = tokio::time::timeout(IDLE_LIMIT, stream.next()) => {
                let msg = match frame {
                    Err(_) => return Ok(End::Gone),
                    Ok(Some(Ok(Message::Text(t)))) => t,
                    Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                    Ok(Some(Ok(Message::Close(_))) | None) => return Ok(End::Gone),
                    Ok(Some(Ok(Message::Binary(_)))) | Ok(Some(Err(_))) => return Ok(End::Code(close::BAD_FRAME)),
                };
                hub.metrics.frames_in.inc();
                let now_i = tokio::time::Instant::now();
                tokens = (tokens + now_i.duration_since(refill).as_secs_f64() * FRAME_RATE).min(FRAME_BURST);
                refill = now_i;
                if tokens < 1.0 {
                    return Ok(End::Code(close::RATE_LIMITED));
                }
                tokens -= 1.0;
                let Ok(msg) = serde_json::from_str::<AgentMsg>(&msg) else {
                    return Ok(End::Code(close::BAD_FRAME));
                };
                if !sane(&msg) {
                    return Ok(End::Code(close::BAD_FRAME));
                }
                let now = now_ms();
                match msg {
                    AgentMsg::Snapshot(s) => {
                        hub.metrics.ingest_lag.observe(((now - s.at).max(0) as f64) / 1000.0);
                        hub.live.apply(server_id, s, now);
                    }
                    AgentMsg::Event(e) => {
                        hub.live.touch(server_id, now);
                        let store = hub.store.clone();
                        let seq = tokio::task::spawn_blocking(move || store.insert_events(server_id, &[e])).await??;
                        let ack = HubMsg::Ack { stream: Stream::Events, seq };
                        send!(Message::Text(serde_json::to_string(&ack)?.into()));
                    }
                    AgentMsg::Rollup(r) => {
                        hub.live.touch(server_id, now);
                        let store = hub.store.clone();
                        let seq = tokio::task::spawn_blocking(move || store.insert_rollups(server_id, &[r])).await??;
                        let ack = HubMsg::Ack { stream: Stream::Rollups, seq };
                        send!(Message::Text(serde_json::to_string(&ack)?.into()));
                    }
                    AgentMsg::ActionResult(r) => {
                        let store = hub.store.clone();
                        let (id, ok, message) = (r.id.clone(), r.ok, r.message.clone());
                        tokio::task::spawn_blocking(move || store.finish_action(server_id, &id, ok, &message, now)).await??;
                        hub.live.action_done(server_id, r);
                    }
                    AgentMsg::Auth { .. } => return Ok(End::Code(close::BAD_FRAME)),
                }
            }
            _ = ping.tick() => send!(Message::Ping(Default::default())),
            out = attached.outbound.recv() => {
                let Some(out) = out else { return Ok(End::Gone) };
                send!(Message::Text(serde_json::to_string(&out)?.into()));
            }
            changed = attached.close.changed() => {
                if changed.is_err() {
                    return Ok(End::Gone);
                }
                let code = *attached.close.borrow();
                if let Some(code) = code {
                    return Ok(if code == 1000 { End::Gone } else { End::Code(code) });
                }
            }
        }
    }
}
