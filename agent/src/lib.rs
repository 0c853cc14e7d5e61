//! pmr's agent: the daemon that supervises apps, and the pm2-compatible CLI
//! that drives it over `$PMR_HOME/rpc.sock`.
//!
//! The CLI reaches the supervisor only through the socket protocol in
//! `pmr_shared::ipc`; the supervisor knows nothing of the CLI.

pub mod appspec;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod keeper;
pub mod link;
pub mod logging;
pub mod paths;
pub mod pm2_shape;
pub mod procfs;
pub mod runtime;
pub mod supervisor;
