//! The process list on disk (`$PMR_HOME/list.json`), rewritten after every
//! change (a request, an app's start, exit or restart) so that a daemon that
//! dies without `save` (`kill -9`, the OOM killer, a panic) loses nothing:
//! the next daemon restores the list before it answers anyone. `dump.pm2`
//! stays the explicit save point of `save`, `resurrect` and `startup`, as in
//! pm2. A clean exit (`kill`, SIGTERM) leaves the list empty.
//!
//! Apps do not yet outlive the daemon (their output pipes end with it), so
//! an instance found still running from the last daemon (same pid, same
//! start time) is stopped gracefully and started again, never run twice.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pmr_shared::app::ProcessInfo;
use serde::{Deserialize, Serialize};

use super::persist::{self, DumpEntry};
use super::state::Daemon;
use crate::paths::Paths;

/// Changes that come in a burst (a crash loop, `scale 100`) are written once.
const SETTLE: Duration = Duration::from_millis(100);

/// One instance as the list file keeps it.
#[derive(Debug, Deserialize)]
pub(super) struct Entry {
    /// What resurrect needs (options, id, status, counters).
    #[serde(flatten)]
    pub(super) dump: DumpEntry,
    /// Its main process when the list was written, 0 for none.
    #[serde(default)]
    pub(super) pid: u32,
    /// That process's start time (`/proc/<pid>/stat` field 22), so a pid
    /// reused by another process is never taken for the app.
    #[serde(default)]
    pub(super) pid_start: Option<u64>,
}

/// Writes the list crash-safely (temporary file, fsync, rename).
pub(super) fn write(paths: &Paths, list: &[ProcessInfo]) -> anyhow::Result<()> {
    persist::replace(
        paths,
        &paths.list_file(),
        &render(list, &mut Default::default())?,
    )
}

/// One instance as written: the dump's fields (what [`Entry`] reads back),
/// serialized straight from the snapshot, with no JSON tree in between (a
/// list of large environments would make a large tree on every change).
#[derive(Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    spec: &'a pmr_shared::app::AppSpec,
    pm_id: u32,
    status: &'a str,
    restart_time: u32,
    pmr_instance: u32,
    pid: u32,
    pid_start: Option<u64>,
}

/// Start times by pid, read from `/proc` once per process, not per write.
type Starts = std::collections::HashMap<u32, Option<u64>>;

fn render(list: &[ProcessInfo], starts: &mut Starts) -> anyhow::Result<Vec<u8>> {
    starts.retain(|pid, _| list.iter().any(|p| p.pid == *pid));
    let rows: Vec<Row<'_>> = list
        .iter()
        .map(|p| Row {
            spec: &p.spec,
            pm_id: p.pm_id,
            status: p.status.as_str(),
            restart_time: p.restart_time,
            pmr_instance: p.instance,
            pid: p.pid,
            pid_start: *starts.entry(p.pid).or_insert_with(|| start_ticks(p.pid)),
        })
        .collect();
    Ok(serde_json::to_vec_pretty(&rows)?)
}

/// The list the last daemon left; empty when there is none.
pub(super) fn read(paths: &Paths) -> anyhow::Result<Vec<Entry>> {
    let path = paths.list_file();
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a process list", path.display()))
}

/// When process `pid` started, in clock ticks since boot.
pub(super) fn start_ticks(pid: u32) -> Option<u64> {
    if pid == 0 {
        return None;
    }
    let line = crate::procfs::read_stat(pid)?;
    crate::procfs::stat_field(&line, 22)?.parse().ok()
}

/// Rewrites the list whenever a request or an app's lifecycle changed it;
/// the one writer of the file.
pub(super) async fn persist_forever(d: Arc<Daemon>) {
    let mut events = d.events.subscribe();
    // A digest of what is on disk, not a copy: the list may be large.
    let mut last = 0u64;
    let mut starts = Starts::new();
    loop {
        // First the list as it is (a restore came before this task), then
        // after each change.
        if !d.is_closing() {
            let list = d.list(crate::supervisor::EnvView::Given);
            let digest = |b: &[u8]| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                b.hash(&mut h);
                h.finish()
            };
            match render(&list, &mut starts) {
                Ok(bytes) if digest(&bytes) == last => {}
                Ok(bytes) => match persist::replace(&d.paths, &d.paths.list_file(), &bytes) {
                    Ok(()) => last = digest(&bytes),
                    Err(e) => tracing::error!("cannot write the process list: {e:#}"),
                },
                Err(e) => tracing::error!("cannot write the process list: {e:#}"),
            }
        }
        tokio::select! {
            () = d.list_changed.notified() => {}
            e = events.recv() => {
                if matches!(e, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
            }
        }
        tokio::time::sleep(SETTLE).await;
        while events.try_recv().is_ok() {}
    }
}

/// At start: brings back the list a daemon that died left behind.
pub(super) async fn restore(d: &Arc<Daemon>) {
    let entries = match read(&d.paths) {
        Ok(e) if e.is_empty() => return,
        Ok(e) => e,
        Err(e) => {
            tracing::error!("{e:#}; the last process list is not restored");
            return;
        }
    };
    tracing::warn!(
        "the last daemon ended without stopping its apps; restoring its {} instances from {}",
        entries.len(),
        d.paths.list_file().display()
    );
    let mut dumps = Vec::new();
    let mut stops = Vec::new();
    for e in entries {
        let alive = e.pid > 0 && e.pid_start.is_some() && start_ticks(e.pid) == e.pid_start;
        if alive {
            // Its output has nowhere to go: stop it gracefully, start it again.
            let spec = &e.dump.spec;
            tracing::info!(
                "App [{}] still runs as pid {}; restarting it",
                spec.name,
                e.pid
            );
            let (pid, sig, grace) = (e.pid, spec.kill_signal.clone(), spec.kill_timeout);
            stops.push(async move { crate::supervisor::stop_leftover(pid, &sig, grace).await });
        }
        dumps.push(e.dump);
    }
    // All at once: the wait is one grace period at most, not one per app.
    futures_util::future::join_all(stops).await;
    let mut messages = Vec::new();
    if let Err(e) = super::handlers::recreate(d, dumps, &mut messages).await {
        tracing::error!("the last process list could not be restored: {e}");
    }
    for m in messages {
        tracing::info!("{m}");
    }
}
