//! pmr's agent: the daemon that supervises apps, and the pm2-compatible CLI
//! that drives it over `$PMR_HOME/rpc.sock`.
//!
//! Layers, from the bottom: `clock`, `procfs`, `paths`, `logs` (capture,
//! rotation, reading back) and `node` (the scripts pmr ships) serve every
//! part; the `supervisor` runs apps on them; the `daemon` owns the
//! supervisors and answers the socket; the `cli` reaches the supervisor only
//! through the socket protocol in `pmr_shared::ipc` (it reads log files
//! itself, through `logs`, never through `supervisor`), and the supervisor
//! knows nothing of the CLI. The `link` reports to a hub through the
//! daemon's request handlers, like a second CLI.

pub mod appspec;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod keeper;
pub mod link;
pub mod logging;
pub mod logs;
pub mod node;
pub mod paths;
pub mod pm2_shape;
pub mod procfs;
pub mod runtime;
pub mod supervisor;
