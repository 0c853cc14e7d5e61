//! Websocket close codes that tell the agent why it was refused or ended,
//! each with the words `pmr link status` shows for it.

/// The signature does not verify (or the auth message is malformed).
pub const BAD_SIGNATURE: u16 = 4401;
/// The key is revoked.
pub const REVOKED: u16 = 4403;
/// The key is unknown to this hub.
pub const UNKNOWN_KEY: u16 = 4404;
/// The nonce was already used or has expired.
pub const NONCE: u16 = 4408;
/// The agent's clock is too far from the hub's.
pub const CLOCK_SKEW: u16 = 4409;
/// The protocol versions do not match.
pub const PROTOCOL: u16 = 4426;
/// Too many attempts from this address or key.
pub const RATE_LIMITED: u16 = 4429;
/// A frame was not valid JSON, not a known message, or broke a field
/// limit (the close reason names the field).
pub const BAD_FRAME: u16 = 4400;
/// The handshake took too long.
pub const TIMEOUT: u16 = 4410;
/// No frame came for 30 s: the session is dead.
pub const IDLE: u16 = 4411;
/// A newer session of the same machine (bucket and `machine_id`) took over.
pub const REPLACED: u16 = 4412;
/// A frame over [`super::MAX_FRAME_BYTES`] (RFC 6455's "message too big").
pub const TOO_BIG: u16 = 1009;
/// The hub needed this pending handshake's place for a fairer newcomer
/// (RFC 6455's "try again later").
pub const TRY_AGAIN: u16 = 1013;
/// The hub failed (RFC 6455's "internal error"); the agent is not to blame.
pub const INTERNAL: u16 = 1011;

/// A human reason for a close code, shown by `pmr link status`.
pub fn reason(code: u16) -> &'static str {
    match code {
        BAD_SIGNATURE => {
            "the hub refused the signature: is the secret key right for this public key?"
        }
        REVOKED => "the key was revoked on the hub",
        UNKNOWN_KEY => "the hub does not know this public key",
        NONCE => "the handshake nonce was reused or expired",
        CLOCK_SKEW => "this machine's clock is more than 60 s off the hub's",
        PROTOCOL => "the hub speaks another link protocol version",
        RATE_LIMITED => "too many connection attempts; backing off",
        BAD_FRAME => "the hub refused a frame (malformed, or a field over its limit)",
        TIMEOUT => "the handshake took too long",
        IDLE => "no frame from this agent for 30 s",
        REPLACED => "a newer session of this machine (same bucket and machine id) took over",
        TOO_BIG => "a frame was larger than 1 MiB",
        TRY_AGAIN => "the hub is busy with other handshakes; try again later",
        INTERNAL => "the hub failed; it will take the agent back when it recovers",
        _ => "closed by the hub",
    }
}
