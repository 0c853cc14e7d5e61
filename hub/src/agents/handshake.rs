//! The hub's side of the handshake (docs/protocol.md, "Handshake"): send
//! `hello`, read `auth`, check it in the documented order, or refuse with a
//! close code and a reason that names what was wrong.

use std::time::Duration;

use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use pmr_shared::link::handshake::{self, AuthFields, MAX_SKEW_MS, NONCE_TTL_MS};
use pmr_shared::link::keys::PublicKey;
use pmr_shared::link::limits;
use pmr_shared::link::messages::{AgentMsg, HubMsg, LINK_PROTOCOL, close};

use super::ws_error_code;
use crate::clock::now_ms;
use crate::state::Hub;

/// How long an agent has to answer `hello` with `auth`.
pub const HELLO_TIMEOUT: Duration = Duration::from_secs(5);

/// A verified agent.
pub struct Authed {
    /// The bucket key it proved it holds.
    pub key_id: i64,
    /// That key's bucket.
    pub bucket_id: i64,
    /// The bucket's name.
    pub bucket: String,
    /// Stable machine id.
    pub machine_id: String,
    /// Display name.
    pub machine_name: String,
    /// Agent release.
    pub agent_version: String,
}

/// Why a handshake did not end in `welcome`.
pub enum Refusal {
    /// Close with this code; `label` names the reason in `/metrics`, `detail`
    /// goes into the close frame's reason when it says more than the code.
    Close {
        /// Close code.
        code: u16,
        /// Metrics label.
        label: &'static str,
        /// What exactly was wrong (a field name), if anything.
        detail: String,
    },
    /// The connection broke: there is no one to send a close frame to.
    Gone,
}

fn refuse(code: u16, label: &'static str) -> Refusal {
    Refusal::Close {
        code,
        label,
        detail: String::new(),
    }
}

/// Runs the handshake on a fresh socket.
pub async fn run(hub: &Hub, door: &super::Door, socket: &mut WebSocket) -> Result<Authed, Refusal> {
    let mut nonce = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let issued = now_ms();
    let hello = HubMsg::Hello {
        proto: LINK_PROTOCOL,
        hub_id: hub.hub_id.clone(),
        nonce: handshake::hex(&nonce),
        ts: issued,
    };
    let text = serde_json::to_string(&hello).map_err(|_| refuse(close::INTERNAL, "internal"))?;
    if socket.send(Message::Text(text.into())).await.is_err() {
        return Err(Refusal::Gone);
    }
    let text = first_text(socket).await?;
    let msg = serde_json::from_str::<AgentMsg>(&text);
    verify(
        hub,
        door,
        (&nonce, issued),
        msg.map_err(|_| refuse(close::BAD_FRAME, "bad_frame"))?,
    )
    .await
}

/// The agent's first frame, which must be text and come within the hello deadline.
async fn first_text(socket: &mut WebSocket) -> Result<Utf8Bytes, Refusal> {
    let first = tokio::time::timeout(HELLO_TIMEOUT, socket.recv())
        .await
        .map_err(|_| refuse(close::TIMEOUT, "timeout"))?;
    match first {
        Some(Ok(Message::Text(t))) => Ok(t),
        Some(Ok(Message::Close(_))) | None => Err(Refusal::Gone),
        Some(Ok(_)) => Err(refuse(close::BAD_FRAME, "bad_frame")),
        Some(Err(e)) => match ws_error_code(e) {
            Some(close::TOO_BIG) => Err(refuse(close::TOO_BIG, "too_big")),
            Some(code) => Err(refuse(code, "bad_frame")),
            None => Err(Refusal::Gone),
        },
    }
}

/// Checks an `auth` answer to the hello that issued `nonce` at `issued`:
/// protocol, nonce, clock, fields, a known and live key, its signature,
/// and the key's handshake rate.
async fn verify(
    hub: &Hub,
    door: &super::Door,
    (nonce, issued): (&[u8; 32], i64),
    msg: AgentMsg,
) -> Result<Authed, Refusal> {
    let AgentMsg::Auth {
        proto,
        public_key,
        machine_id,
        machine_name,
        agent_version,
        ts,
        nonce: echoed,
        sig,
    } = msg
    else {
        return Err(refuse(close::BAD_FRAME, "bad_frame"));
    };
    if proto != LINK_PROTOCOL {
        return Err(refuse(close::PROTOCOL, "protocol"));
    }
    let now = now_ms();
    if echoed != handshake::hex(nonce) || now - issued > NONCE_TTL_MS {
        return Err(refuse(close::NONCE, "nonce"));
    }
    if (now - ts).abs() > MAX_SKEW_MS {
        return Err(refuse(close::CLOCK_SKEW, "clock_skew"));
    }
    if let Err(bad) = limits::auth(&machine_id, &machine_name, &agent_version) {
        return Err(Refusal::Close {
            code: close::BAD_FRAME,
            label: "bad_field",
            detail: bad.to_string(),
        });
    }
    // A key that does not decode is one this hub cannot know.
    let Ok(public) = PublicKey::parse(&public_key) else {
        return Err(refuse(close::UNKNOWN_KEY, "unknown_key"));
    };
    let canonical = public.to_string();
    let store = hub.store.clone();
    let row = tokio::task::spawn_blocking(move || store.key(&canonical))
        .await
        .map_err(|_| refuse(close::INTERNAL, "internal"))?
        .map_err(|_| refuse(close::INTERNAL, "internal"))?;
    let Some(row) = row else {
        return Err(refuse(close::UNKNOWN_KEY, "unknown_key"));
    };
    if row.revoked_at.is_some() {
        return Err(refuse(close::REVOKED, "revoked"));
    }
    let fields = AuthFields {
        hub_id: &hub.hub_id,
        nonce,
        proto,
        public_key: &public_key,
        machine_id: &machine_id,
        machine_name: &machine_name,
        agent_version: &agent_version,
        ts,
    };
    let sig = handshake::unhex(&sig).unwrap_or_default();
    if !handshake::verify(&public, &fields, &sig) {
        return Err(refuse(close::BAD_SIGNATURE, "bad_signature"));
    }
    // Only proven key holders spend the key's budget: knowing a public key
    // (which is not secret) must not let anyone lock a bucket out.
    if !door.key_limit.allow(&row.id) {
        return Err(refuse(close::RATE_LIMITED, "rate_limited_key"));
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
