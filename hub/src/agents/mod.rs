//! `/agent/v1`: the agents' websocket door. An upgrade is admitted only
//! within the per-address handshake rate and the fair pool of pending
//! handshakes; then [`handshake`] proves the agent holds its bucket's key,
//! and [`session`] carries its snapshots, events, rollups and actions.

pub mod handshake;
pub mod refusals;
pub mod session;

use std::sync::Arc;

use axum::Extension;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use axum::extract::{ConnectInfo, State, WebSocketUpgrade};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use pmr_shared::link::messages::{MAX_FRAME_BYTES, close};
use tokio_tungstenite::tungstenite;

use crate::config::Config;
use crate::http::addr::AddrKey;
use crate::http::addr::PeerAddr;
use crate::http::conn::Conn;
use crate::http::error_response;
use crate::http::fair::{FairPool, Full};
use crate::ratelimit::RateLimit;
use crate::state::Hub;

/// What the door keeps between connections: the handshake rates per
/// address and per key, the pool of pending handshakes, the refusal log.
pub struct Door {
    /// Handshakes per client address (IPv6: per /64).
    pub ip_limit: RateLimit<AddrKey>,
    /// Handshakes per bucket key.
    pub key_limit: RateLimit<i64>,
    /// Upgrades waiting for `auth`, shared fairly between addresses.
    pub pending: Arc<FairPool>,
    /// The rate-limited log of refused handshakes.
    pub refusals: refusals::Refusals,
    /// The time and rate limits of each welcomed session.
    pub session: session::Limits,
}

impl Door {
    /// The door with the configured limits (bursts are 10 x the rates).
    /// `pending` shows the pending handshakes in `/metrics`.
    pub fn new(cfg: &Config, pending: prometheus::IntGauge) -> Arc<Self> {
        Arc::new(Self {
            ip_limit: RateLimit::new(cfg.handshakes_per_ip, cfg.handshakes_per_ip * 10.0),
            key_limit: RateLimit::new(cfg.handshakes_per_key, cfg.handshakes_per_key * 10.0),
            pending: FairPool::new(
                cfg.max_pending_handshakes,
                cfg.pending_handshakes_per_ip,
                pending,
            ),
            refusals: refusals::Refusals::default(),
            session: session::Limits::default(),
        })
    }

    /// Forgets idle rate-limit entries, every 10 s, for as long as the door is open.
    pub async fn sweep(self: Arc<Self>) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        loop {
            tick.tick().await;
            self.ip_limit.sweep();
            self.key_limit.sweep();
        }
    }
}

/// Seconds a refused client is told to wait (`Retry-After`).
const RETRY_AFTER_SECS: &str = "5";

fn busy(status: StatusCode, message: &str) -> Response {
    let mut r = error_response(status, message);
    r.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    r
}

/// Upgrades with small buffers and hard frame limits, or refuses over HTTP.
#[utoipa::path(
    get,
    path = "/agent/v1",
    tag = "operations",
    description = "The agents' websocket (RFC 6455 upgrade). After the upgrade the hub speaks the \
        link protocol of docs/protocol.md: `hello`, the agent's signed `auth`, `welcome`, then \
        snapshots, events, rollups and actions. Refusals before the upgrade are JSON errors \
        with `Retry-After: 5`.",
    responses(
        (status = 101, description = "Switching to the link protocol"),
        (status = 400, description = "Not a websocket upgrade", body = crate::http::error::ErrorBody),
        (status = 429, description = "Too many handshakes from this address", body = crate::http::error::ErrorBody),
        (status = 503, description = "This address holds its share of pending handshakes, or the pool is full", body = crate::http::error::ErrorBody),
    )
)]
pub async fn upgrade(
    State(hub): State<Arc<Hub>>,
    Extension(door): Extension<Arc<Door>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    conn: Option<Extension<Arc<Conn>>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let ws = match ws {
        Ok(ws) => ws,
        Err(e) => return error_response(e.status(), e.body_text()),
    };
    if !door.ip_limit.allow(&AddrKey::from(addr.ip())) {
        door.refusals
            .note(&hub.metrics, addr, "rate_limited_ip", "too many handshakes");
        return busy(
            StatusCode::TOO_MANY_REQUESTS,
            "too many connection attempts from this address",
        );
    }
    let place = match door.pending.admit(AddrKey::from(addr.ip())) {
        Ok(place) => place,
        Err(why) => {
            let (label, message) = match why {
                Full::Address => (
                    "busy_address",
                    "this address holds its whole share of pending handshakes",
                ),
                Full::Pool => ("busy", "too many handshakes in progress"),
            };
            door.refusals.note(&hub.metrics, addr, label, message);
            return busy(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    let conn = conn.map(|Extension(c)| c);
    if let Some(c) = &conn {
        c.upgraded();
    }
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(MAX_FRAME_BYTES * 2)
        .on_upgrade(move |socket| session::run(hub, door, socket, addr, place, conn))
}

/// Sends a close frame and waits (briefly) for the agent's; `detail` replaces the code's standard reason when
/// given (cut to the 123 bytes a close frame can carry).
pub(crate) async fn send_close(socket: &mut WebSocket, code: u16, detail: &str) {
    let mut reason = if detail.is_empty() {
        close::reason(code).to_string()
    } else {
        detail.to_string()
    };
    if reason.len() > 123 {
        let mut end = 123;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
    }
    let frame = CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    };
    // One 2 s deadline for sending the close frame (an agent that stopped
    // reading must not hold the task) and for finishing the closing
    // handshake: read (and drop) what the agent still sends until its own
    // close frame. Closing the TCP connection with unread bytes would reset
    // it, and a reset can discard the close frame before the agent reads it.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), async {
        if socket.send(Message::Close(Some(frame))).await.is_err() {
            return;
        }
        while let Some(Ok(m)) = socket.recv().await {
            if matches!(m, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// The close code a receive error calls for, or `None` when the connection
/// is simply gone (an endpoint never sends 1006: RFC 6455 §7.4.1).
pub(crate) fn ws_error_code(e: axum::Error) -> Option<u16> {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some(close::TOO_BIG),
        // The connection is gone (a FIN without a close frame included):
        // nothing to say and no one to say it to.
        Some(
            tungstenite::Error::Io(_)
            | tungstenite::Error::ConnectionClosed
            | tungstenite::Error::AlreadyClosed
            | tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            ),
        ) => None,
        Some(tungstenite::Error::Utf8(_)) => Some(1007),
        Some(_) => Some(1002),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::ws_error_code;
    use pmr_shared::link::messages::close;
    use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
    use tokio_tungstenite::tungstenite::{self, Error};

    fn code(e: Error) -> Option<u16> {
        ws_error_code(axum::Error::new(e))
    }

    #[test]
    fn receive_errors_map_to_codes_an_endpoint_may_send() {
        let big = CapacityError::MessageTooLong {
            size: 2,
            max_size: 1,
        };
        assert_eq!(code(Error::Capacity(big)), Some(close::TOO_BIG));
        assert_eq!(
            code(Error::Protocol(ProtocolError::UnmaskedFrameFromClient)),
            Some(1002)
        );
        // A peer that is simply gone gets nothing (and never 1006).
        assert_eq!(code(Error::ConnectionClosed), None);
        assert_eq!(
            code(Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)),
            None
        );
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, "budget");
        assert_eq!(code(tungstenite::Error::Io(io)), None);
    }
}
