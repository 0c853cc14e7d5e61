//! The agent–hub link: key encoding, the handshake's signed bytes and the
//! messages. `docs/protocol.md` is the prose description of the same.

pub mod handshake;
pub mod keys;
pub mod limits;
pub mod messages;
