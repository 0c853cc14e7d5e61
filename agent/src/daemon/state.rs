//! The daemon's one piece of shared state: which instances exist, and the
//! log files they share. Locks are held for synchronous look-ups only.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use pmr_shared::app::{AppSpec, ProcessInfo};
use std::time::Instant;
use tokio::sync::{Notify, broadcast, watch};

use crate::logs::{self, LogEvent, LogFile, StreamSink};
use crate::paths::{Paths, file_safe_name};
use crate::supervisor::{self, EnvView, Handle, InstanceFiles};

/// Instances by id, and the next id to hand out.
#[derive(Default)]
pub struct Registry {
    /// Every instance, ordered by id.
    pub apps: BTreeMap<u32, Arc<Handle>>,
    next_id: u32,
}

impl Registry {
    /// The next free id, or `wanted` when it is free.
    fn alloc(&mut self, wanted: Option<u32>) -> u32 {
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
    registry: Mutex<Registry>,
    log_files: Mutex<HashMap<PathBuf, Weak<LogFile>>>,
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
    reloading: Mutex<std::collections::BTreeSet<String>>,
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
    in_flight: watch::Sender<usize>,
    /// Set once a hand-over began: no new request is taken.
    leaving: std::sync::atomic::AtomicBool,
}

/// Counts one request in flight while it lives.
pub struct Busy<'a>(&'a Daemon);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n -= 1);
    }
}

/// Marks apps as reloading until dropped.
pub struct ReloadGuard<'a> {
    d: &'a Daemon,
    names: std::collections::BTreeSet<String>,
}

impl Drop for ReloadGuard<'_> {
    fn drop(&mut self) {
        let mut r = self.d.reloading.lock().unwrap_or_else(|e| e.into_inner());
        for n in &self.names {
            r.remove(n);
        }
    }
}

/// A new instance to create.
pub struct NewInstance {
    /// Options.
    pub spec: Arc<AppSpec>,
    /// Index among the app's instances.
    pub instance: u32,
    /// Id to reuse (resurrect), if free.
    pub wanted_id: Option<u32>,
    /// Restart counter to carry over.
    pub restart_time: u32,
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

    /// Waits (at most 2 s) until the list file holds every change made so
    /// far: what a request changed is on disk before it is answered, so an
    /// app the CLI reported started is known to the next daemon. `Err` says
    /// why the file could not be written (a full disk, no descriptor left).
    pub async fn list_saved(&self) -> Result<(), String> {
        let mut want = 0;
        self.list_wanted.send_modify(|g| {
            *g += 1;
            want = *g;
        });
        let mut written = self.list_written.subscribe();
        let limit = std::time::Duration::from_secs(2);
        match tokio::time::timeout(limit, written.wait_for(|(g, _)| *g >= want)).await {
            Ok(Ok(done)) => done.1.clone().map_or(Ok(()), Err),
            // Slow (a loaded disk): the writer carries on; not a failure.
            _ => Ok(()),
        }
    }

    /// Counts a request as in flight until the guard drops.
    pub fn busy(&self) -> Busy<'_> {
        self.in_flight.send_modify(|n| *n += 1);
        Busy(self)
    }

    /// Whether a hand-over began.
    pub fn is_leaving(&self) -> bool {
        self.leaving.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Takes no new request, and waits (at most `limit`) for those being
    /// answered, so none is cut off by a hand-over.
    pub async fn quiesce(&self, limit: std::time::Duration) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut n = self.in_flight.subscribe();
        let _ = tokio::time::timeout(limit, n.wait_for(|n| *n == 0)).await;
    }

    /// Marks CPU and memory as looked at, and waits (at most 1 s) for a
    /// sampling round if the last one is over a second old: a list after a
    /// quiet spell shows memory as it is, and CPU averaged since the last
    /// round, as pm2 shows it.
    pub async fn fresh_usage(&self) {
        let stale = {
            let mut t = self.usage_times.lock().unwrap_or_else(|e| e.into_inner());
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
        let looked = self.usage_times.lock().unwrap_or_else(|e| e.into_inner()).0;
        looked.elapsed() < std::time::Duration::from_secs(5)
            || self
                .registry()
                .apps
                .values()
                .any(|h| h.spec().max_memory_restart.is_some())
    }

    /// Claims `names` for a reload or a scale; refused while one of them
    /// has either under way.
    pub fn begin_reload(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<ReloadGuard<'_>, String> {
        let mut r = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(busy) = names.iter().find(|n| r.contains(*n)) {
            return Err(format!(
                "a reload or scale of {busy} is already under way; try again once it has finished"
            ));
        }
        r.extend(names.iter().cloned());
        Ok(ReloadGuard {
            d: self,
            names: names.clone(),
        })
    }

    /// True once the daemon has begun stopping every app for good.
    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Locks the registry for a synchronous look or change.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
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
        let files = self.log_files.lock().unwrap_or_else(|e| e.into_inner());
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

    /// Removes an instance from the registry (its actor has already ended).
    pub fn forget(&self, id: u32) {
        self.registry().apps.remove(&id);
        self.log_files
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, w| w.strong_count() > 0);
    }

    /// Creates the instances' actors (stopped); fails before creating
    /// anything if a log file cannot be opened.
    pub fn create(&self, new: Vec<NewInstance>) -> Result<Vec<Arc<Handle>>, String> {
        let mut reg = self.registry();
        if reg.apps.is_empty() {
            // pm2 hands out ids from 0 again once the list is empty.
            reg.next_id = 0;
        }
        let mut planned = Vec::with_capacity(new.len());
        let mut taken: Vec<u32> = Vec::new();
        for n in &new {
            let mut id = reg.alloc(n.wanted_id);
            while taken.contains(&id) {
                id = reg.alloc(None);
            }
            taken.push(id);
            let several = n.spec.instances > 1;
            let files = self.files_for(&n.spec, id, several);
            let out = self.sink(&files.out, files.combined.as_deref(), &n.spec, id, "out")?;
            let err = self.sink(&files.err, files.combined.as_deref(), &n.spec, id, "err")?;
            planned.push((id, files, out, err));
        }
        let mut handles = Vec::with_capacity(new.len());
        for (n, (id, files, out, err)) in new.into_iter().zip(planned) {
            let handle = supervisor::launch(supervisor::task::Launch {
                id,
                instance: n.instance,
                spec: n.spec,
                files,
                out,
                err,
                restart_time: n.restart_time,
                events: self.events.clone(),
            });
            reg.apps.insert(id, handle.clone());
            handles.push(handle);
        }
        drop(reg);
        self.apps_changed.notify_one();
        Ok(handles)
    }

    fn files_for(&self, spec: &AppSpec, id: u32, several: bool) -> InstanceFiles {
        let base = file_safe_name(&spec.name);
        let suffix = if several && !spec.merge_logs {
            format!("-{id}")
        } else {
            String::new()
        };
        let logs = self.paths.logs_dir();
        let pick = |custom: &Option<String>, default: PathBuf| match custom {
            Some(p) if logs::is_null_path(p) => "/dev/null".to_string(),
            Some(p) => with_suffix(p, &suffix),
            None => default.to_string_lossy().into_owned(),
        };
        InstanceFiles {
            out: pick(&spec.out_file, logs.join(format!("{base}-out{suffix}.log"))),
            err: pick(
                &spec.error_file,
                logs.join(format!("{base}-error{suffix}.log")),
            ),
            combined: spec
                .log_file
                .as_ref()
                .map(|p| pick(&Some(p.clone()), PathBuf::new())),
            pid: match &spec.pid_file {
                Some(p) => with_suffix(p, &format!("-{id}")),
                None => self
                    .paths
                    .pids_dir()
                    .join(format!("{base}-{id}.pid"))
                    .to_string_lossy()
                    .into(),
            },
        }
    }

    fn sink(
        &self,
        path: &str,
        combined: Option<&str>,
        spec: &AppSpec,
        id: u32,
        stream: &'static str,
    ) -> Result<StreamSink, String> {
        let sink = StreamSink {
            file: self.log_file(path)?,
            combined: match combined {
                Some(c) => self.log_file(c)?,
                None => None,
            },
            date_format: None,
            json: false,
            bus: self.log_bus.clone(),
            pm_id: id,
            name: "".into(),
            stream,
        };
        Ok(sink.for_spec(spec))
    }

    /// The shared writer for `path`, opened on first use.
    fn log_file(&self, path: &str) -> Result<Option<Arc<LogFile>>, String> {
        if logs::is_null_path(path) {
            return Ok(None);
        }
        let key = PathBuf::from(path);
        let mut files = self.log_files.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = files.get(&key).and_then(Weak::upgrade) {
            return Ok(Some(f));
        }
        let f =
            Arc::new(LogFile::open(&key).map_err(|e| format!("cannot open log file {path}: {e}"))?);
        files.insert(key, Arc::downgrade(&f));
        Ok(Some(f))
    }

    /// Every open log file, for `reloadLogs` and `flush`.
    pub fn open_log_files(&self) -> Vec<Arc<LogFile>> {
        let files = self.log_files.lock().unwrap_or_else(|e| e.into_inner());
        files.values().filter_map(Weak::upgrade).collect()
    }
}

/// `-<id>` goes before the extension, as pm2 does: `api.log` → `api-3.log`.
fn with_suffix(path: &str, suffix: &str) -> String {
    if suffix.is_empty() {
        return path.to_string();
    }
    let p = Path::new(path);
    match (p.file_stem(), p.extension()) {
        (Some(stem), Some(ext)) => p
            .with_file_name(format!(
                "{}{suffix}.{}",
                stem.to_string_lossy(),
                ext.to_string_lossy()
            ))
            .to_string_lossy()
            .into_owned(),
        _ => format!("{path}{suffix}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_goes_before_extension() {
        assert_eq!(with_suffix("/tmp/api.log", "-3"), "/tmp/api-3.log");
        assert_eq!(with_suffix("/tmp/api", "-3"), "/tmp/api-3");
        assert_eq!(with_suffix("/tmp/api.log", ""), "/tmp/api.log");
    }

    #[test]
    fn ids_restart_at_zero_and_reuse_wanted() {
        let mut r = Registry::default();
        assert_eq!(r.alloc(None), 0);
        assert_eq!(r.alloc(Some(7)), 7);
        assert_eq!(r.alloc(None), 8);
    }
}
