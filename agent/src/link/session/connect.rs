//! Opening a link: the websocket upgrade (a busy hub's `Retry-After` kept
//! for the backoff), the hub's hello, the agent's signed proof of its key,
//! and the hub's welcome with what it already has.
//!
//! Every failure here is a `SessionEnd` the session loop turns into a wait
//! and a retry; nothing is sent but the auth message until the welcome.

use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::messages::{AgentMsg, HubMsg, LINK_PROTOCOL, MAX_FRAME_BYTES, Resume};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::Target;
use super::wire::{CONNECT_TIMEOUT, SessionEnd, Ws, next_text, send};
use crate::clock::now_ms;
use crate::link::Shared;

/// Most a hub's `Retry-After` may hold the agent back.
const MAX_RETRY_AFTER_SECS: u64 = 300;

/// Connects and authenticates; the hub's resume marks say what to replay.
/// `hub` is the one address of the hub's this attempt dials.
pub(super) async fn open(
    shared: &Shared,
    t: &Target,
    hub: &str,
) -> Result<(Ws, Resume), SessionEnd> {
    let url = format!("{}/agent/v1", hub.trim_end_matches('/'));
    // The hub's frame cap on both sides: a larger frame from the hub is an
    // error, not an allocation.
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024);
    let connector = t.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    // `true`: no Nagle delay, snapshots are small and go every second.
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(&url, Some(config), true, connector);
    let (mut ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| format!("no answer from {url} within {}s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| refused(shared, &url, e))?;
    let resume = authenticate(&mut ws, t).await?;
    Ok((ws, resume))
}

/// Hello, auth, welcome. The signature covers the hub's id and one-time
/// nonce, so a recorded auth proves nothing to another hub or a later
/// connection; the secret key itself never leaves the machine.
async fn authenticate(ws: &mut Ws, t: &Target) -> Result<Resume, SessionEnd> {
    let s = &t.settings;
    let hello: HubMsg = serde_json::from_str(&next_text(ws).await?)
        .map_err(|e| format!("bad hello from the hub: {e}"))?;
    let HubMsg::Hello {
        proto,
        hub_id,
        nonce,
        ..
    } = hello
    else {
        return Err("the hub did not start with hello".into());
    };
    if proto != LINK_PROTOCOL {
        return Err(
            format!("the hub speaks link protocol {proto}, this agent {LINK_PROTOCOL}").into(),
        );
    }
    let nonce_bytes: [u8; 32] = handshake::unhex(&nonce)
        .and_then(|b| b.try_into().ok())
        .ok_or("the hub sent a malformed nonce")?;
    let ts = now_ms() as i64;
    let fields = AuthFields {
        hub_id: &hub_id,
        nonce: &nonce_bytes,
        proto: LINK_PROTOCOL,
        public_key: &s.public_key,
        machine_id: &t.machine_id,
        machine_name: &s.machine_name,
        agent_version: pmr_shared::VERSION,
        ts,
    };
    let sig = handshake::sign(&t.secret.0, &fields);
    let auth = AgentMsg::Auth {
        proto: LINK_PROTOCOL,
        public_key: s.public_key.clone(),
        machine_id: t.machine_id.clone(),
        machine_name: s.machine_name.clone(),
        agent_version: pmr_shared::VERSION.into(),
        ts,
        nonce,
        sig: handshake::hex(&sig),
    };
    send(ws, &auth).await?;
    let welcome: HubMsg = serde_json::from_str(&next_text(ws).await?)
        .map_err(|e| format!("bad welcome from the hub: {e}"))?;
    let HubMsg::Welcome { resume, .. } = welcome else {
        return Err("the hub did not welcome the agent".into());
    };
    Ok(resume)
}

/// Words for a failed connection; a busy hub's `Retry-After` (HTTP 429 or
/// 503) is kept for the next wait.
fn refused(shared: &Shared, url: &str, e: tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    let Error::Http(r) = &e else {
        return format!("cannot connect to {url}: {e}");
    };
    let status = r.status().as_u16();
    if status == 429 || status == 503 {
        let secs = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(5)
            .min(MAX_RETRY_AFTER_SECS);
        shared
            .busy_wait_ms
            .store(secs * 1000, std::sync::atomic::Ordering::Relaxed);
    }
    // The hub's JSON error says why; keep it short and printable.
    let why: String = r
        .body()
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!("the hub at {url} refused the connection: HTTP {status} {why}")
}
