//! The keeper: the small process above the daemon that lets apps outlive it
//! (the containerd-shim / conmon design, one keeper for all apps).
//!
//! It starts the daemon as its child and is a child subreaper, so an app
//! whose daemon died is re-parented to it, not to init. The daemon parks
//! here a copy of every descriptor an app's life depends on (the read ends
//! of its output pipes, its IPC channel, the control and notify sockets,
//! the cluster's listening sockets): with the daemon gone, the apps' writes
//! wait in their pipes instead of failing, and connections queue. When the
//! daemon dies, the keeper starts another (after a back-off if it keeps
//! dying), hands it everything parked and the exit status of each app it
//! reaped meanwhile, and the new daemon adopts the apps. `pmr update` is
//! the same hand-over, to a new binary, with a health check and a way back.
//!
//! The keeper never reads app output, never parses configuration and runs
//! no async runtime: it has little that could fail or need an upgrade.

mod children;
pub mod link;
mod process;
pub mod wire;

pub use process::run;

/// First line a daemon prints on stdout once its socket accepts clients.
pub const READY: &str = "ready";
/// First line when another keeper already serves this `$PMR_HOME`.
pub const ALREADY_RUNNING: &str = "running";

/// Environment variable naming the descriptor of the daemon's end of the
/// keeper socket; set only for a daemon the keeper started.
pub const FD_VAR: &str = "PMR_KEEPER_FD";

/// File the keeper writes when a binary given to `pmr update` failed its
/// health check, read (and removed) by the `pmr update` that asked.
pub const UPDATE_FAILED: &str = "update.failed";

#[cfg(test)]
mod tests {
    #[test]
    fn architecture_md_gives_the_keepers_back_off() {
        let doc = include_str!("../../../docs/architecture.md");
        let said = format!(
            "200 ms doubling to {} s",
            super::process::MAX_BACKOFF.as_secs()
        );
        assert!(
            doc.contains(&said),
            "docs/architecture.md must say {said:?}"
        );
    }
}
