//! pmr's agent: the daemon that supervises apps, and the pm2-compatible CLI
//! that drives it over `$PMR_HOME/rpc.sock`.
//!
//! Layers, from the bottom: [`clock`], [`procfs`] (the few facts the
//! kernel keeps in `/proc`), [`paths`] and [`config`] (where things are and
//! how the daemon is set), [`logs`] (capture, rotation, reading back) and
//! [`node`] (the scripts pmr ships) serve every part. [`appspec`] turns
//! flags and ecosystem files into the spec every layer shares. The
//! [`supervisor`] runs one actor per app instance; the [`daemon`] (`pmrd`)
//! owns the supervisors, the app list, save and restore, and answers the
//! socket; [`keeper`] is the small process above the daemon that keeps apps
//! and their pipes alive across a daemon crash or `pmr update`.
//!
//! The [`cli`] (the `pmr` command) reaches the supervisor only through the
//! socket protocol in `pmr_shared::ipc` (it reads log files itself, through
//! [`logs`], never through the supervisor), and the supervisor knows nothing
//! of the CLI. The [`link`] reports to a hub through the daemon's request
//! handlers, like a second CLI. [`runtime`] is `pmr-runtime`, the
//! supervisor in the foreground for containers; [`pm2_shape`] is pm2's JSON
//! for scripts; [`logging`] is the daemon's own log.

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
