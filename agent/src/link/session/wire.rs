//! One websocket's framing for the link: JSON text messages each way,
//! bounded in time, and the typed reason a session ended.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::messages::{AgentMsg, close};
use tokio_tungstenite::tungstenite::Message;

/// Longest wait for the hub during the handshake.
pub(super) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// A send that cannot complete in this time means the hub stopped reading.
const SEND_LIMIT: Duration = Duration::from_secs(10);

/// The websocket to the hub, over TLS or not.
pub(super) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Why a session ended; its words go to `pmr link status`, its close code
/// to the backoff (a hub that refuses for rate is left alone longer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SessionEnd {
    /// The hub closed the link with this close code.
    #[error("the hub closed the link: {} (code {code})", close::reason(*code))]
    Closed {
        /// The websocket close code (`close::*`).
        code: u16,
    },
    /// Anything else: no answer, a refused upgrade, a protocol error.
    #[error("{0}")]
    Failed(String),
}

impl From<String> for SessionEnd {
    fn from(why: String) -> Self {
        SessionEnd::Failed(why)
    }
}

impl From<&str> for SessionEnd {
    fn from(why: &str) -> Self {
        SessionEnd::Failed(why.into())
    }
}

/// The end a close frame means.
pub(super) fn close_reason(
    frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>,
) -> SessionEnd {
    match frame {
        Some(f) => SessionEnd::Closed {
            code: f.code.into(),
        },
        None => "the hub closed the link".into(),
    }
}

/// The next text message, within [`CONNECT_TIMEOUT`].
pub(super) async fn next_text(ws: &mut Ws) -> Result<String, SessionEnd> {
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, ws.next()).await {
            Err(_) => return Err("the hub did not answer in time".into()),
            Ok(None) => return Err("the hub closed the connection".into()),
            Ok(Some(Err(e))) => return Err(format!("websocket error: {e}").into()),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(Message::Close(f)))) => return Err(close_reason(f)),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

/// Sends one message, within [`SEND_LIMIT`].
pub(super) async fn send(ws: &mut Ws, msg: &AgentMsg) -> Result<(), SessionEnd> {
    let text = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    match tokio::time::timeout(SEND_LIMIT, ws.send(Message::Text(text.into()))).await {
        Ok(r) => r.map_err(|e| format!("websocket error: {e}").into()),
        Err(_) => Err("the hub stopped reading".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_close_keeps_its_code_and_its_words() {
        let end = SessionEnd::Closed {
            code: close::RATE_LIMITED,
        };
        assert_eq!(
            end.to_string(),
            format!(
                "the hub closed the link: {} (code {})",
                close::reason(close::RATE_LIMITED),
                close::RATE_LIMITED
            )
        );
    }
}
