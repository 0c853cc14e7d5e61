//! Types the pmr CLI, the daemon and the hub agree on, and the one rule for
//! their locks ([`sync`]).
//!
//! Nothing here starts a runtime or touches the file system: the crate is the
//! vocabulary, the binaries are the behaviour.

pub mod app;
pub mod ipc;
#[cfg(feature = "link")]
pub mod link;
pub mod sync;

/// Version of the local socket protocol. Bumped on any incompatible change of
/// [`ipc::Request`] or [`ipc::Response`]; a CLI and a daemon that disagree refuse
/// to talk and point the user at `pmr update`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The release version of every pmr binary, shown next to the protocol version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
