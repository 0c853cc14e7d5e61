//! The process list on disk (`$PMR_HOME/list.json`), rewritten after every
//! change (a request, an app's start, exit or restart) so that a daemon that
//! dies without `save` (`kill -9`, the OOM killer, a panic) loses nothing:
//! the next daemon restores the list before it answers anyone. `dump.pm2`
//! stays the explicit save point of `save`, `resurrect` and `startup`, as in
//! pm2. A clean exit (`kill`, SIGTERM) leaves the list empty.
//!
//! Under the keeper the apps outlive the daemon; the next daemon reads this
//! list for their options, ids and counters, and takes their processes over.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pmr_shared::app::ProcessInfo;
use serde::{Deserialize, Serialize};

use std::collections::HashMap;

use super::persist::{self, DumpEntry};
use super::state::Daemon;
use crate::keeper::link::Inherited;
use crate::paths::Paths;
use crate::supervisor::adopt::Adoption;

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
    /// When it started, Unix ms (its uptime carries on when taken over).
    #[serde(default)]
    pub(super) pm_uptime: u64,
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
    pm_uptime: u64,
}

/// Start times by pid, read from `/proc` once per process, not per write.
type Starts = std::collections::HashMap<u32, Option<u64>>;

/// The list file's bytes. Each row carries its process's start time
/// (`pid_start`), so the next daemon can tell the process it left from an
/// unrelated one that reused the pid. `starts` forgets the pids gone.
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
            pm_uptime: p.pm_uptime,
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
    let mut wanted = d.list_wanted.subscribe();
    let mut seen = 0;
    loop {
        // First the list as it is (a restore came before this task), then
        // after each change.
        let generation = *wanted.borrow_and_update();
        // A request always writes, even what is on disk already: that is
        // how it learns the file can be written before it changes anything.
        let asked = std::mem::replace(&mut seen, generation) != generation;
        let mut failed = None;
        if !d.is_closing() {
            let list = d.list(crate::supervisor::EnvView::Given);
            let digest = |b: &[u8]| {
                use std::hash::{Hash, Hasher};
                let mut h = std::collections::hash_map::DefaultHasher::new();
                b.hash(&mut h);
                h.finish()
            };
            match render(&list, &mut starts) {
                Ok(bytes) if !asked && digest(&bytes) == last => {}
                Ok(bytes) => match persist::replace(&d.paths, &d.paths.list_file(), &bytes) {
                    Ok(()) => last = digest(&bytes),
                    Err(e) => failed = Some(format!("{e:#}")),
                },
                Err(e) => failed = Some(format!("{e:#}")),
            }
        }
        if let Some(e) = &failed {
            // Forget what is on disk: the next change writes again.
            last = 0;
            tracing::error!("cannot write the process list: {e}");
        }
        d.list_written.send_replace((generation, failed));
        tokio::select! {
            // A request waits for its change to be on disk: no settling.
            r = wanted.changed() => if r.is_err() { return },
            e = events.recv() => {
                if matches!(e, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    return;
                }
                // Lifecycle changes come in bursts (a crash loop, `scale
                // 100`): written once, unless a request wants it sooner.
                tokio::select! {
                    () = tokio::time::sleep(SETTLE) => {}
                    _ = wanted.changed() => {}
                }
                while events.try_recv().is_ok() {}
            }
        }
    }
}

/// Before a request that changes apps: the list is written as it is, and
/// if that fails (a full disk, no descriptor left) the request is refused
/// with the reason, so nothing is changed that a later daemon would undo.
/// `Err` is the reason (always the kind `Internal`, set by the handler).
pub(super) async fn writable_before(
    d: &Daemon,
    req: &pmr_shared::ipc::Request,
) -> Result<(), String> {
    use pmr_shared::ipc::Request;
    let changes = matches!(
        req,
        Request::Start { .. }
            | Request::Act { .. }
            | Request::Scale { .. }
            | Request::Resurrect
            | Request::Update { .. }
    );
    if !changes {
        return Ok(());
    }
    d.list_saved().await.map_err(|e| {
        format!(
            "{e}; nothing was done: the change could not be recorded, so a daemon started \
             later would undo it (free space in {}, then run the command again)",
            d.paths.home.display()
        )
    })
}

/// After a request: its change is on disk, or the reply says it is not.
pub(super) async fn recorded_after(
    d: &Daemon,
    reply: &pmr_shared::ipc::Response,
) -> Result<(), String> {
    match d.list_saved().await {
        Err(e) if !matches!(reply, pmr_shared::ipc::Response::Error { .. }) => Err(format!(
            "done, but not recorded: {e}; a daemon started later would not know of this change"
        )),
        _ => Ok(()),
    }
}

/// At start: brings back the list a daemon that died (or handed over) left
/// behind. Under a keeper, each instance whose process still runs is taken
/// over with the pipes the keeper held; one that died meanwhile goes through
/// its restart policy with the exit status the keeper saw. Without one (an
/// older daemon), an instance still running is stopped and started again,
/// never run twice.
pub(super) async fn restore(d: &Arc<Daemon>, mut inherited: Inherited) {
    // Shared sockets first: the instances taken over hold them.
    let mut binds = Vec::new();
    let keys: Vec<String> = inherited.parked.keys().cloned().collect();
    for key in keys.iter().filter(|k| k.starts_with("bind:")) {
        if let Some(b) = inherited
            .take_one(key)
            .and_then(|fd| crate::supervisor::cluster::restore(key, fd))
        {
            binds.push(b);
        }
    }
    let entries = match read(&d.paths) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!("{e:#}; the last process list is not restored");
            Vec::new()
        }
    };
    if !entries.is_empty() {
        tracing::info!(
            "the last daemon left {} instances; restoring them from {}",
            entries.len(),
            d.paths.list_file().display()
        );
    }
    let mut dumps = Vec::new();
    let mut stops = Vec::new();
    let mut adopt = HashMap::new();
    for e in entries {
        let spec = &e.dump.spec;
        if let Some(id) = e.dump.pm_id
            && let Some(a) = adoption(id, &e, &mut inherited, &binds, &mut stops)
        {
            tracing::info!("App [{}]({id}): taking over pid {}", spec.name, a.pid);
            adopt.insert(id, a);
        } else if e.pid > 0 && e.pid_start.is_some() && start_ticks(e.pid) == e.pid_start {
            // No keeper held its output: stop it gracefully, start it again.
            tracing::info!(
                "App [{}] still runs as pid {}; restarting it",
                spec.name,
                e.pid
            );
            let (pid, sig, grace) = (e.pid, spec.kill_signal.clone(), spec.kill_timeout);
            stops.push(Box::pin(async move {
                crate::supervisor::stop_leftover(pid, &sig, grace).await
            }));
        }
        dumps.push(e.dump);
    }
    // What the keeper holds for nobody: an app the list does not have (it
    // was being deleted as the daemon died) is stopped, not left unmanaged.
    for key in inherited.parked.into_keys() {
        let pid = key.strip_prefix("app:").and_then(|k| k.rsplit_once(':'));
        if let Some(pid) = pid
            .and_then(|(_, p)| p.parse::<u32>().ok())
            .filter(|p| ours(*p))
        {
            tracing::warn!("pid {pid} ({key}) is in no list; stopping it");
            stops.push(Box::pin(async move {
                crate::supervisor::stop_leftover(pid, "SIGINT", 1600).await
            }));
        }
        drop(crate::keeper::link::claim(key));
    }
    // All at once: the wait is one grace period at most, not one per app.
    futures_util::future::join_all(stops).await;
    let mut messages = Vec::new();
    if let Err(e) = super::recreate::recreate(d, dumps, &mut messages, adopt).await {
        tracing::error!("the last process list could not be restored: {e}");
    }
    for m in messages {
        tracing::info!("{m}");
    }
}

/// A stop of a process that must not run (an older duplicate, or one
/// without a keeper to take it over), awaited together before restoring.
type Stop = std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>;

/// What the keeper holds of instance `id`: its newest live process (an
/// older one, left by a reload the crash interrupted, is stopped), or the
/// last one's remaining output and exit status.
fn adoption(
    id: u32,
    e: &Entry,
    inherited: &mut Inherited,
    binds: &[Arc<crate::supervisor::cluster::Shared>],
    stops: &mut Vec<Stop>,
) -> Option<Adoption> {
    let prefix = format!("app:{id}:");
    let mut found: Vec<(u32, String)> = inherited
        .parked
        .keys()
        .filter_map(|k| Some((k.strip_prefix(&prefix)?.parse().ok()?, k.clone())))
        .collect();
    // Live ones first, newest first.
    found.sort_by_key(|(pid, _)| std::cmp::Reverse((ours(*pid), start_ticks(*pid))));
    let mut found = found.into_iter();
    let (pid, key) = found.next()?;
    let spec = &e.dump.spec;
    for (old, key) in found {
        inherited.parked.remove(&key);
        drop(crate::keeper::link::claim(key));
        if ours(old) {
            let (sig, grace) = (spec.kill_signal.clone(), spec.kill_timeout);
            stops.push(Box::pin(async move {
                crate::supervisor::stop_leftover(old, &sig, grace).await
            }));
        }
    }
    let exit = if ours(pid) {
        Some(crate::keeper::link::exit_of(pid))
    } else {
        // It ended while no daemon ran: the keeper reaped it.
        inherited.exited.get(&pid).map(|raw| {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let _ = tx.send(*raw);
            rx
        })
    };
    let shares = crate::supervisor::cluster::shares(spec);
    Some(Adoption {
        pid,
        fds: inherited.parked.remove(&key)?,
        exit,
        // The list may predate a restart the crash interrupted.
        pm_uptime: match pid == e.pid && e.pm_uptime > 0 {
            true => e.pm_uptime,
            false => crate::procfs::started_ms(pid).unwrap_or(e.pm_uptime),
        },
        binds: if shares { binds.to_vec() } else { Vec::new() },
        parked: crate::keeper::link::claim(key),
    })
}

/// Whether `pid` is a live child of the keeper (this daemon's parent): an
/// app the last daemon left. A pid reused by anyone else has another parent.
fn ours(pid: u32) -> bool {
    crate::procfs::read_stat(pid).is_some_and(|l| {
        crate::procfs::stat_field(&l, 3) != Some("Z")
            && crate::procfs::stat_field(&l, 4)
                .and_then(|p| p.parse::<u32>().ok())
                .is_some_and(|p| p == std::os::unix::process::parent_id())
    })
}
