//! One authenticated agent's session: ingest its frames within their
//! limits and rate, acknowledge what is stored, carry actions to it, and
//! close with a code that says why (never 1006, which no endpoint may send).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::limits;
use pmr_shared::link::messages::{AgentMsg, HubMsg, Stream, close};

use super::handshake::{self, Refusal};
use super::refusals::escape;
use super::{send_close, ws_error_code};
use crate::clock::now_ms;
use crate::http::conn::Conn;
use crate::http::fair::{Eviction, Place};
use crate::live::{Attached, ServerView};
use crate::ratelimit::TokenBucket;
use crate::state::Hub;

/// A session with no frame for this long is dead (agents send every second).
pub const IDLE_LIMIT: Duration = Duration::from_secs(30);
/// The hub pings this often so the agent can tell a dead hub too.
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// A send that cannot complete in this time means the agent stopped reading.
const SEND_LIMIT: Duration = Duration::from_secs(10);
/// Frames per second one session may average (the burst covers replays).
pub const FRAME_RATE: f64 = 50.0;
/// Frames one session may send at once.
pub const FRAME_BURST: f64 = 20_000.0;

/// Handshake, then the session, on an upgraded socket.
pub async fn run(
    hub: Arc<Hub>,
    door: Arc<super::Door>,
    mut socket: WebSocket,
    peer: SocketAddr,
    (place, mut eviction): (Place, Eviction),
    conn: Option<Arc<Conn>>,
) {
    let outcome = if conn.as_ref().is_some_and(|c| c.over_budget()) {
        // The upgrade came with more than the budget already (hyper read
        // it with the request): refused below, before `hello`.
        Err(Refusal::Gone)
    } else {
        tokio::select! {
            r = handshake::run(&hub, &door, &mut socket) => r,
            () = eviction.wait() => Err(Refusal::Close {
                code: close::TRY_AGAIN,
                label: "evicted",
                detail: String::new(),
            }),
        }
    };
    drop(place);
    let authed = match outcome {
        Ok(a) => a,
        Err(Refusal::Gone) => {
            // A read cut off by the pre-auth budget can still be told why.
            if conn.as_ref().is_some_and(|c| c.over_budget()) {
                let detail = "more bytes than a handshake needs";
                door.refusals.note(&hub.metrics, peer, "too_big", detail);
                send_close(&mut socket, close::TOO_BIG, detail).await;
            }
            return;
        }
        Err(Refusal::Close {
            code,
            label,
            detail,
        }) => {
            door.refusals.note(&hub.metrics, peer, label, &detail);
            send_close(&mut socket, code, &detail).await;
            return;
        }
    };
    if let Some(c) = &conn {
        c.authenticated();
    }
    let end = serve(&hub, &mut socket, authed).await.unwrap_or_else(|e| {
        // Our failure (the store, most likely), not the agent's: say so.
        tracing::warn!(%peer, "session failed: {e:#}");
        End::Code(close::INTERNAL, String::new())
    });
    if let End::Code(code, detail) = end {
        send_close(&mut socket, code, &detail).await;
    }
}

/// Welcomes an authenticated agent and runs its session; says how it ends.
async fn serve(
    hub: &Arc<Hub>,
    socket: &mut WebSocket,
    authed: handshake::Authed,
) -> anyhow::Result<End> {
    let now = now_ms();
    let server_id = hub
        .ingest
        .upsert_server(
            authed.bucket_id,
            &authed.machine_id,
            &authed.machine_name,
            &authed.agent_version,
            now,
        )
        .await?;
    let store = hub.store.clone();
    let resume = tokio::task::spawn_blocking(move || store.resume(server_id)).await??;
    let welcome = HubMsg::Welcome {
        session_id: format!("{server_id}-{now}"),
        resume,
    };
    if socket
        .send(Message::Text(serde_json::to_string(&welcome)?.into()))
        .await
        .is_err()
    {
        return Ok(End::Gone);
    }
    let mut attached = hub.ingest.attach(
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
    let (server, bucket) = (escape(&authed.machine_name), escape(&authed.bucket));
    let server = server.as_str();
    hub.metrics.agents_connected.inc();
    tracing::info!(%server, %bucket, server_id, "agent connected");
    let end = match frames(hub, server_id, socket, &mut attached).await {
        Ok(end) => end,
        Err(e) => {
            // Our failure, not the agent's: say so, do not blame its frame.
            tracing::warn!(%server, server_id, "session failed: {e:#}");
            End::Code(close::INTERNAL, String::new())
        }
    };
    hub.metrics.agents_connected.dec();
    hub.ingest.detach(server_id, attached.generation, now_ms());
    match &end {
        End::Gone => tracing::info!(%server, server_id, "agent disconnected"),
        End::Code(code, detail) => {
            let detail = escape(detail);
            tracing::info!(%server, server_id, code, %detail, "agent session closed");
        }
    }
    Ok(end)
}

/// Why a session ends.
enum End {
    /// The agent left, or the connection broke: nothing to send.
    Gone,
    /// Close with this code and, if not empty, this reason.
    Code(u16, String),
}

/// Hands one frame to ingest; returns the ack to send, if any.
async fn ingest(
    hub: &Hub,
    server_id: i64,
    msg: AgentMsg,
    now: i64,
) -> anyhow::Result<Option<HubMsg>> {
    // An ack names the frame it answers, once that is committed (now or
    // before: a replay, in any order): an outbox never waits on a lost ack.
    Ok(match msg {
        AgentMsg::Snapshot(s) => {
            hub.metrics
                .ingest_lag
                .observe(((now - s.at).max(0) as f64) / 1000.0);
            hub.ingest.snapshot(server_id, s, now);
            None
        }
        AgentMsg::Event(e) => {
            let seq = e.seq;
            hub.ingest.event(server_id, e, now).await?;
            Some(HubMsg::Ack {
                stream: Stream::Events,
                seq,
            })
        }
        AgentMsg::Rollup(r) => {
            let seq = r.seq;
            hub.ingest.rollup(server_id, r, now).await?;
            Some(HubMsg::Ack {
                stream: Stream::Rollups,
                seq,
            })
        }
        AgentMsg::ActionResult(r) => {
            hub.ingest.action_result(server_id, r, now).await?;
            None
        }
        AgentMsg::Logs(b) => {
            hub.ingest.log_lines(server_id, b);
            None
        }
        AgentMsg::Auth { .. } => unreachable!("refused by limits::message"),
    })
}

/// How a session the hub ended closes: with the code it was given, if any.
fn closing(attached: &Attached) -> End {
    match *attached.close.borrow() {
        Some(code) => End::Code(code, String::new()),
        None => End::Gone,
    }
}

async fn frames(
    hub: &Arc<Hub>,
    server_id: i64,
    socket: &mut WebSocket,
    attached: &mut Attached,
) -> anyhow::Result<End> {
    let (mut sink, mut stream) = socket.split();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut rate = TokenBucket::new(FRAME_RATE, FRAME_BURST);
    macro_rules! send {
        ($msg:expr) => {
            match tokio::time::timeout(SEND_LIMIT, sink.send($msg)).await {
                Ok(Ok(())) => {}
                _ => return Ok(End::Gone),
            }
        };
    }
    // One deadline, pushed back by every frame received (pongs included),
    // and not by anything the hub sends: the hub's own pings must not keep
    // a dead session alive.
    let idle = tokio::time::sleep(IDLE_LIMIT);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            () = &mut idle => return Ok(End::Code(close::IDLE, String::new())),
            frame = stream.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + IDLE_LIMIT);
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => {
                        // Answer the agent's close frame (tungstenite queued
                        // the echo) before the connection goes.
                        let _ = tokio::time::timeout(SEND_LIMIT, sink.close()).await;
                        return Ok(End::Gone);
                    }
                    None => return Ok(End::Gone),
                    Some(Ok(Message::Binary(_))) => {
                        return Ok(End::Code(close::BAD_FRAME, "binary frame".into()));
                    }
                    Some(Err(e)) => {
                        return Ok(ws_error_code(e).map_or(End::Gone, |c| End::Code(c, String::new())));
                    }
                };
                hub.metrics.frames_in.inc();
                if !rate.take(std::time::Instant::now()) {
                    let why = format!("more than {FRAME_RATE} frames/s on average");
                    return Ok(End::Code(close::RATE_LIMITED, why));
                }
                let msg = match serde_json::from_str::<AgentMsg>(&text) {
                    Ok(m) => m,
                    Err(e) => return Ok(End::Code(close::BAD_FRAME, format!("not a message: {e}"))),
                };
                if let Err(bad) = limits::message(&msg) {
                    return Ok(End::Code(close::BAD_FRAME, bad.to_string()));
                }
                if let Some(ack) = ingest(hub, server_id, msg, now_ms()).await? {
                    send!(Message::Text(serde_json::to_string(&ack)?.into()));
                }
            }
            _ = ping.tick() => send!(Message::Ping(Default::default())),
            out = attached.outbound.recv() => {
                // The hub drops the channel when it ends the session: say why.
                let Some(out) = out else { return Ok(closing(attached)) };
                send!(Message::Text(serde_json::to_string(&out)?.into()));
            }
            changed = attached.close.changed() => {
                if changed.is_err() || attached.close.borrow().is_some() {
                    return Ok(closing(attached));
                }
            }
        }
    }
}
