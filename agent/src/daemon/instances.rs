//! Instances coming and going: ids handed out, actors created stopped,
//! each stream wired to its log files (shared by the instances that name
//! the same path, opened once), and the files forgotten with the last one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use pmr_shared::app::AppSpec;

use pmr_shared::sync::Locked;

use super::state::Daemon;
use crate::logs::{self, LogFile, StreamSink};
use crate::paths::file_safe_name;
use crate::supervisor::{self, Handle, InstanceFiles};

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
    /// Removes an instance from the registry (its actor has already ended).
    pub fn forget(&self, id: u32) {
        self.registry().apps.remove(&id);
        self.log_files.locked().retain(|_, w| w.strong_count() > 0);
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
            // `taken`: ids planned in this batch are not in the registry
            // yet, so `alloc` alone could hand one out twice.
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

    /// Where instance `id`'s output, errors and pid go, with pm2's names:
    /// `<name>-out-<id>.log` when the app has several instances (unless
    /// `merge_logs`), a given path suffixed the same way, `/dev/null` (or
    /// `NULL`) for none. A pid file always carries the id.
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

    /// One stream's sink: its file, the combined file, the bus; the line
    /// format and name are filled from `spec` by [`StreamSink::for_spec`].
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

    /// The shared writer for `path`, opened on first use. Held weakly here:
    /// the file closes when the last instance writing to it goes. One writer
    /// per path: writes go through its lock, and the size count and rotation
    /// belong to the file, not to each instance writing to it.
    fn log_file(&self, path: &str) -> Result<Option<Arc<LogFile>>, String> {
        if logs::is_null_path(path) {
            return Ok(None);
        }
        let key = PathBuf::from(path);
        let mut files = self.log_files.locked();
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
        let files = self.log_files.locked();
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
}
