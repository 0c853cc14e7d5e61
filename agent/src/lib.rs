//! pmr's agent: the daemon that supervises apps, and the pm2-compatible CLI
//! that drives it over `$PMR_HOME/rpc.sock`.
//!
//! The CLI reaches the supervisor only through the socket protocol in
//! `pmr_shared::ipc`; the supervisor knows nothing of the CLI.
//!
//! Map, from the outside in: [`cli`] (the `pmr` command) talks to
//! [`daemon`] (`pmrd`: the socket server, the app list, save and restore),
//! which runs one actor per app instance in [`supervisor`]; [`keeper`] is
//! the small process above the daemon that keeps apps and their pipes
//! alive across a daemon crash or `pmr update`; [`link`] connects the
//! daemon to a hub. [`appspec`] turns flags and ecosystem files into the
//! spec every layer shares; [`paths`] and [`config`] are where things are
//! and how the daemon is set; [`pm2_shape`] is pm2's JSON for scripts;
//! [`runtime`] is `pmr-runtime`, the supervisor in the foreground for
//! containers; [`logging`] is the daemon's own log; [`procfs`] reads
//! `/proc` for the few facts the kernel keeps there.

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
