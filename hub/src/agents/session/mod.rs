//! One authenticated agent's session: ingest its frames within their
//! limits and rate, acknowledge what is stored, carry actions to it, and
//! close with a code that says why (never 1006, which no endpoint may send).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use pmr_shared::link::messages::{HubMsg, close};

use super::handshake::{self, Refusal};
use super::refusals::escape;
use super::send_close;
use crate::clock::now_ms;
use crate::http::conn::Conn;
use crate::http::fair::{Eviction, Place};
use crate::live::ServerView;
use crate::state::Hub;

mod frames;
#[cfg(test)]
mod tests;

/// The time and rate limits one session keeps. The door uses the
/// defaults (the protocol's); tests inject short ones.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// A session with no frame for this long is dead (agents send every second).
    pub idle: Duration,
    /// The hub pings this often so the agent can tell a dead hub too.
    pub ping_every: Duration,
    /// A send that cannot complete in this time means the agent stopped reading.
    pub send: Duration,
    /// Frames per second one session may average (the burst covers replays).
    pub frame_rate: f64,
    /// Frames one session may send at once.
    pub frame_burst: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30),
            ping_every: Duration::from_secs(15),
            send: Duration::from_secs(10),
            frame_rate: 50.0,
            frame_burst: 20_000.0,
        }
    }
}

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
    let (mut sink, mut stream) = socket.split();
    let end = serve(&hub, (&mut sink, &mut stream), authed, door.session)
        .await
        .unwrap_or_else(|e| {
            // Our failure (the store, most likely), not the agent's: say so.
            tracing::warn!(%peer, "session failed: {e:#}");
            End::Code(close::INTERNAL, String::new())
        });
    let mut socket = sink.reunite(stream).expect("halves of one socket");
    if let End::Code(code, detail) = end {
        send_close(&mut socket, code, &detail).await;
    }
}

/// Welcomes an authenticated agent and runs its session over any pair of
/// message sink and stream (a websocket's halves, or channels in tests);
/// says how it ends.
pub(crate) async fn serve<S, R>(
    hub: &Arc<Hub>,
    (sink, stream): (&mut S, &mut R),
    authed: handshake::Authed,
    limits: Limits,
) -> anyhow::Result<End>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
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
    let text = serde_json::to_string(&welcome)?;
    let sent = tokio::time::timeout(limits.send, sink.send(Message::Text(text.into()))).await;
    if !matches!(sent, Ok(Ok(()))) {
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
    let end = match frames::run(hub, server_id, (sink, stream), &mut attached, limits).await {
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
#[derive(Debug, PartialEq)]
pub(crate) enum End {
    /// The agent left, or the connection broke: nothing to send.
    Gone,
    /// Close with this code and, if not empty, this reason.
    Code(u16, String),
}
