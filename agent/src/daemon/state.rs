//! The daemon's one piece of shared state: which instances exist, the log
//! files they share, and the signals between its tasks. Locks are held for
//! synchronous look-ups only. Creating instances lives in `instances.rs`,
//! admission (in-flight requests, hand-over, reloads) in `gates.rs`, target
//! resolution in `resolve.rs`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use pmr_shared::app::ProcessInfo;
use std::time::Instant;
use tokio::sync::{Notify, broadcast, watch};

use crate::logs::{LogEvent, LogFile};
use crate::paths::Paths;
use crate::supervisor::{self, EnvView, Handle};

pub use super::gates::{Busy, ReloadGuard};
pub use super::instances::NewInstance;
use pmr_shared::sync::Locked;

/// Instances by id, and the next id to hand out.
#[derive(Default)]
pub struct Registry {
    /// Every instance, ordered by id.
    pub apps: BTreeMap<u32, Arc<Handle>>,
    /// Where the search for a free id starts; back to 0 when the registry
    /// empties, as pm2 numbers from 0 again.
    pub(super) next_id: u32,
}

impl Registry {
    /// The next free id, or `wanted` when it is free.
    pub(super) fn alloc(&mut self, wanted: Option<u32>) -> u32 {
        if let Some(id) = wanted.filter(|id| !self.apps.contains_key(id)) {
            self.next_id = self.next_id.max(id + 1);
            return id;
        }
        while self.apps.contains_key(&self.next_id) {
            self.next_id += 1;
        }
        let id = self.next_id;
        self.next_id += 1;
        id
    }
}

/// Shared by the socket server, the signal handlers and the sampler.
pub struct Daemon {
    /// Files of this `$PMR_HOME`.
    pub paths: Paths,
    /// User name shown in `list`.
    pub username: String,
    /// Every instance; locked only for synchronous work ([`Daemon::registry`]).
    pub(super) registry: Mutex<Registry>,
    /// One writer per log path, held weakly: a file closes with the last
    /// instance writing to it (see `instances.rs`).
    pub(super) log_files: Mutex<HashMap<PathBuf, Weak<LogFile>>>,
    /// Log lines for `pmr logs` followers.
    pub log_bus: broadcast::Sender<LogEvent>,
    /// Lifecycle events of every instance, for the hub link.
    pub events: broadcast::Sender<supervisor::Lifecycle>,
    /// Wakes the sampler when the first app appears.
    pub apps_changed: Notify,
    /// Bumped by each request that may change the list: the list file is
    /// rewritten, and the request answered once it is on disk.
    pub list_wanted: watch::Sender<u64>,
    /// The last `list_wanted` value the list file on disk was written for,
    /// and why that write failed, if it did.
    pub list_written: watch::Sender<(u64, Option<String>)>,
    /// Set to true once the daemon is going away.
    pub shutdown: watch::Sender<bool>,
    /// Set when the apps are being stopped for good: nothing new starts.
    pub closing: std::sync::atomic::AtomicBool,
    /// The hub link, when one is configured.
    pub link: crate::link::LinkManager,
    /// Apps with a reload under way.
    pub(super) reloading: Mutex<std::collections::BTreeSet<String>>,
    /// Set by `pmr update`: the binary the daemon hands over to as it exits.
    pub handover: Mutex<Option<String>>,
    /// When CPU and memory were last asked for (a list, `monit`, the hub),
    /// and when they were last sampled: the sampler only runs while someone
    /// looks, or while an app has a memory limit to check.
    pub usage_times: Mutex<(Instant, Instant)>,
    /// Wakes the sampler for a round now.
    pub sample_now: Notify,
    /// Counts sampling rounds.
    pub sampled: watch::Sender<u64>,
    /// Requests being answered; a hand-over waits for them.
    pub(super) in_flight: watch::Sender<usize>,
    /// Set once a hand-over began: no new request is taken.
    pub(super) leaving: std::sync::atomic::AtomicBool,
}

impl Daemon {
    /// An empty daemon state for `paths`.
    pub fn new(paths: Paths) -> Self {
        let username = nix::unistd::User::from_uid(nix::unistd::getuid())
            .ok()
            .flatten()
            .map_or_else(|| nix::unistd::getuid().to_string(), |u| u.name);
        Self {
            paths,
            username,
            registry: Mutex::default(),
            log_files: Mutex::default(),
            // Each chunk holds up to 256 KiB: 64 of them bound what a slow
            // follower can hold back.
            log_bus: broadcast::channel(64).0,
            events: broadcast::channel(1024).0,
            apps_changed: Notify::new(),
            list_wanted: watch::channel(0).0,
            list_written: watch::channel((0, None)).0,
            shutdown: watch::channel(false).0,
            closing: std::sync::atomic::AtomicBool::new(false),
            link: crate::link::LinkManager::default(),
            reloading: Mutex::default(),
            handover: Mutex::default(),
            usage_times: Mutex::new((Instant::now(), Instant::now())),
            sample_now: Notify::new(),
            sampled: watch::channel(0).0,
            in_flight: watch::channel(0).0,
            leaving: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Marks CPU and memory as looked at, and waits (at most 1 s) for a
    /// sampling round if the last one is over a second old: a list after a
    /// quiet spell shows memory as it is, and CPU averaged since the last
    /// round, as pm2 shows it.
    pub async fn fresh_usage(&self) {
        let stale = {
            let mut t = self.usage_times.locked();
            t.0 = Instant::now();
            t.1.elapsed() >= std::time::Duration::from_secs(1)
        };
        if stale && !self.registry().apps.is_empty() {
            let mut rounds = self.sampled.subscribe();
            rounds.mark_unchanged();
            self.sample_now.notify_one();
            let limit = std::time::Duration::from_secs(1);
            let _ = tokio::time::timeout(limit, rounds.changed()).await;
        }
    }

    /// Whether a sampling round is worth its cost: someone looked in the
    /// last 5 s, or an app has a memory limit.
    pub fn usage_wanted(&self) -> bool {
        let looked = self.usage_times.locked().0;
        looked.elapsed() < std::time::Duration::from_secs(5)
            || self
                .registry()
                .apps
                .values()
                .any(|h| h.spec().max_memory_restart.is_some())
    }

    /// Locks the registry for a synchronous look or change.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.locked()
    }

    /// Every instance, ordered by id.
    pub fn handles(&self) -> Vec<Arc<Handle>> {
        self.registry().apps.values().cloned().collect()
    }

    /// Snapshots of every instance.
    pub fn list(&self, env: EnvView) -> Vec<ProcessInfo> {
        self.handles().iter().map(|h| self.info(h, env)).collect()
    }

    /// One instance's snapshot, with what its log files could not take.
    pub fn info(&self, h: &Handle, env: EnvView) -> ProcessInfo {
        let mut info = h.info(&self.username, env);
        let files = self.log_files.locked();
        let paths = [
            Some(&h.files.out),
            Some(&h.files.err),
            h.files.combined.as_ref(),
        ];
        info.log_bytes_dropped = paths
            .into_iter()
            .flatten()
            .filter_map(|p| files.get(Path::new(p)).and_then(Weak::upgrade))
            .map(|f| f.dropped())
            .sum();
        info
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_restart_at_zero_and_reuse_wanted() {
        let mut r = Registry::default();
        assert_eq!(r.alloc(None), 0);
        assert_eq!(r.alloc(Some(7)), 7);
        assert_eq!(r.alloc(None), 8);
    }
}
