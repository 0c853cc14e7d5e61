//! Supervision of app instances: one actor task per instance owns its child
//! process and pipes and is driven by [`Control`] messages.
//!
//! The rest of the daemon sees an instance only through its [`Handle`]: a
//! snapshot of its state behind a short-lived lock (never held across an
//! await) and a queue of control messages.
//!
//! Map: the actor is [`task`] (with [`policy`] deciding restarts); a child
//! is started by `spawn`, stopped by `stop`, taken over from an earlier
//! daemon by [`adopt`]; what it says comes through the log pumps of
//! [`crate::logs`], [`ipc`] and [`notify`] (readiness, metrics),
//! [`exceptions`] (crash reports); [`monitor`] samples CPU and memory,
//! [`cluster`] shares ports, [`orphans`] reaps what apps abandon, `watch`
//! restarts on file changes, [`versioning`] reads git metadata.

pub mod adopt;
pub mod cluster;
pub mod exceptions;
mod handle;
pub mod ipc;
mod lifecycle;
pub mod monitor;
pub mod notify;
pub mod orphans;
pub mod policy;
mod proc;
mod spawn;
mod stop;
pub mod task;
pub mod versioning;
mod watch;

use pmr_shared::app::AppSpec;

pub use handle::{Control, EnvView, Handle, InstanceFiles, IpcLink, Runtime};
pub use lifecycle::{LifeKind, Lifecycle};
pub use stop::stop_leftover;
pub use task::launch;
pub use versioning::versioning_dir;

/// The environment an instance would get (the spec's, plus pm2's instance
/// variables), for callers outside the supervisor.
pub fn spawn_env(
    spec: &AppSpec,
    id: u32,
    instance: u32,
) -> std::collections::BTreeMap<String, String> {
    spawn::instance_env(spec, id, instance)
}
