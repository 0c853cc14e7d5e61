//! The daemon (and `pmr-runtime`) is a child subreaper: a process an app
//! forks off and abandons (a double fork: `setsid`, then fork again, its
//! parent gone) becomes our child instead of init's. So it stays findable,
//! is stopped with its app (it carries the app's `PMR_ID`), and is reaped
//! when it ends. The apps' own processes are left to the task that waits
//! for them: reaping one here would hide its exit from its supervisor.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, waitpid};
use nix::unistd::Pid;
use pmr_shared::sync::Locked;

/// Main processes of running instances: a task waits for each.
static MANAGED: Mutex<BTreeSet<u32>> = Mutex::new(BTreeSet::new());

/// Makes this process the subreaper of everything it starts.
pub fn become_subreaper() {
    if std::process::id() != 1 {
        let _ = nix::sys::prctl::set_child_subreaper(true);
    }
}

/// Marks `pid` as waited for by its task until the mark is dropped.
pub(crate) struct Managed(u32);

impl Managed {
    /// Marks `pid` as its task's to wait for, until the guard is dropped.
    pub(crate) fn new(pid: u32) -> Self {
        MANAGED.locked().insert(pid);
        Self(pid)
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        MANAGED.locked().remove(&self.0);
    }
}

/// An inherited orphan: its number under `/proc` and its pid as we see it.
/// They differ when `/proc` belongs to an outer pid namespace (`pmr-runtime`
/// as PID 1 of a container started with `unshare --pid`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Orphan {
    /// Its number under `/proc`.
    proc: u32,
    /// Its pid in our namespace, the one to signal and wait for.
    pid: u32,
}

/// The `NSpid` line of a `/proc/<pid>/status`: the pid in each namespace,
/// outermost first.
fn ns_pids(proc: &str) -> Vec<u32> {
    std::fs::read_to_string(format!("/proc/{proc}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("NSpid:")).map(|v| {
                v.split_ascii_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
        })
        .unwrap_or_default()
}

/// The process group in a `/proc/<pid>/stat` (still there for a zombie).
fn group_of(proc: &str) -> Option<String> {
    let line = std::fs::read_to_string(format!("/proc/{proc}/stat")).ok()?;
    crate::procfs::stat_field(&line, 5).map(String::from)
}

/// Our children that no task waits for and that came from an app: inherited
/// orphans. The daemon's own helpers (`git fetch`, `post_update` commands)
/// stay in its process group, and whoever started them waits for them; apps
/// run in groups of their own, and so does everything they leave behind.
fn orphans() -> Vec<Orphan> {
    let managed = MANAGED.locked().clone();
    let ours = group_of("self");
    let level = ns_pids("self").len().max(1);
    let mut out: Vec<Orphan> = crate::procfs::children("self", crate::procfs::Threads::All)
        .unwrap_or_default()
        .into_iter()
        // In our own pid namespace `/proc` numbers are our pids: the apps'
        // main processes are skipped before any more of `/proc` is read.
        .filter(|proc| level > 1 || !managed.contains(proc))
        .filter(|proc| ours.is_none() || group_of(&proc.to_string()) != ours)
        .filter_map(|proc| {
            if level == 1 {
                return Some(Orphan { proc, pid: proc });
            }
            let pid = *ns_pids(&proc.to_string()).get(level - 1)?;
            Some(Orphan { proc, pid })
        })
        .filter(|o| !managed.contains(&o.pid))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Collects the exit status of every inherited orphan that has ended.
pub fn reap() {
    for o in orphans() {
        let _ = waitpid(Pid::from_raw(o.pid as i32), Some(WaitPidFlag::WNOHANG));
    }
}

/// Reaps orphans each time a child ends, for as long as the daemon runs.
pub async fn reap_forever() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut children) = signal(SignalKind::child()) else {
        return;
    };
    while children.recv().await.is_some() {
        reap();
    }
}

/// Orphans that came from instance `id` (its `PMR_ID` is in their
/// environment, as it is in every process the app started).
fn of_instance(id: u32) -> Vec<u32> {
    let marker = format!("PMR_ID={id}");
    orphans()
        .into_iter()
        .chain(kept())
        .filter(|o| {
            std::fs::read(format!("/proc/{}/environ", o.proc))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == marker.as_bytes()))
        })
        .map(|o| o.pid)
        .collect()
}

/// The keeper's children other than this daemon and the apps' main
/// processes: what apps abandoned while an earlier daemon ran (or none
/// did), re-parented to the keeper. The keeper reaps them.
fn kept() -> Vec<Orphan> {
    // Pids as `/proc` numbers them only in our own pid namespace.
    if !crate::keeper::link::active() || ns_pids("self").len() > 1 {
        return Vec::new();
    }
    let keeper = std::os::unix::process::parent_id();
    let managed = MANAGED.locked().clone();
    crate::procfs::children(keeper, crate::procfs::Threads::All)
        .unwrap_or_default()
        .into_iter()
        .filter(|p| *p != std::process::id() && !managed.contains(p))
        .map(|pid| Orphan { proc: pid, pid })
        .collect()
}

/// Stops what instance `id` abandoned: `sig`, then SIGKILL after `grace`.
pub async fn stop_abandoned(id: u32, sig: Signal, grace: Duration) {
    let left = of_instance(id);
    if left.is_empty() {
        return;
    }
    tracing::info!(
        "stopping {} process(es) instance {id} left behind",
        left.len()
    );
    for pid in &left {
        let _ = kill(Pid::from_raw(*pid as i32), sig);
    }
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        reap();
        if left
            .iter()
            .all(|p| kill(Pid::from_raw(*p as i32), None).is_err())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for pid in &left {
        let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    reap();
}
