//! The dump file: the process list in pm2's `dump.pm2` shape, written
//! atomically, with the previous one kept as `dump.pm2.bak`.
//!
//! Written by `pmr save` and when a signal stops the daemon; read only by
//! `pmr resurrect` (at boot, through the startup unit). The list a daemon
//! restores after a crash or a hand-over is the other file, `list_file`.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use pmr_shared::app::{AppSpec, ProcessInfo};
use serde::Deserialize;
use serde_json::Value;

use crate::paths::Paths;
use crate::pm2_shape;

/// What resurrect needs of one dumped instance.
#[derive(Debug, Clone, Deserialize)]
pub struct DumpEntry {
    /// The options, under pm2's keys.
    #[serde(flatten)]
    pub spec: AppSpec,
    /// Id it had.
    #[serde(default)]
    pub pm_id: Option<u32>,
    /// `stopped` instances come back stopped.
    #[serde(default)]
    pub status: Option<String>,
    /// Restart counter it had.
    #[serde(default)]
    pub restart_time: u32,
    /// Its instance index.
    #[serde(default)]
    pub pmr_instance: Option<u32>,
}

/// Writes the dump atomically; the previous dump becomes the backup, but
/// only if it reads back as a list: a broken dump never replaces a good
/// backup, which may be the only good list left.
pub fn save(paths: &Paths, list: &[ProcessInfo]) -> anyhow::Result<()> {
    let entries: Vec<Value> = list.iter().map(pm2_shape::dump_entry).collect();
    let bytes = serde_json::to_vec_pretty(&entries)?;
    let dump = paths.dump();
    if dump.exists() {
        match read(&dump) {
            Ok(_) => {
                let old = std::fs::read(&dump)
                    .with_context(|| format!("cannot read {}", dump.display()))?;
                replace(paths, &paths.dump_backup(), &old)
                    .context("cannot keep the previous list as a backup")?;
            }
            Err(e) => tracing::warn!("{e:#}; not kept as the backup"),
        }
    }
    replace(paths, &dump, &bytes)
}

/// `cleardump`: an empty dump (`[]`), written as pm2 writes it.
pub fn write_empty(dump: &std::path::Path) -> anyhow::Result<()> {
    let tmp = dump.with_extension("tmp");
    std::fs::write(&tmp, b"[]").with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, dump).with_context(|| format!("cannot replace {}", dump.display()))
}

/// Writes `bytes` to a temporary file, syncs it, renames it over `path`
/// and syncs the directory: a crash leaves the old file or the new one.
pub(super) fn replace(paths: &Paths, path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    let written = std::fs::File::create(&tmp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.sync_all()
    });
    if let Err(e) = written {
        // What was written of it is space a full disk needs back.
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", tmp.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))?;
    if let Ok(dir) = std::fs::File::open(&paths.home) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Entries of the dump (or of the backup when the dump is unreadable), and
/// one message per entry that could not be used.
pub fn load(paths: &Paths) -> anyhow::Result<(Vec<DumpEntry>, Vec<String>)> {
    if !paths.dump().exists() && !paths.dump_backup().exists() {
        // Nothing saved yet (a boot before the first `pmr save`): not an error.
        return Ok((
            Vec::new(),
            vec![format!("nothing to restore: no {}", paths.dump().display())],
        ));
    }
    match read(&paths.dump()) {
        Ok(list) => Ok(list),
        Err(first) => {
            let backup = paths.dump_backup();
            if !backup.exists() {
                return Err(first);
            }
            tracing::warn!("{first:#}; using {}", backup.display());
            let note = format!("{first:#}; restored from {}", backup.display());
            let (entries, mut notes) =
                read(&backup).map_err(|e| first.context(format!("backup unusable too: {e:#}")))?;
            notes.insert(0, note);
            // As pm2 does: the broken dump goes, so the next save starts clean
            // and never makes a broken file the backup.
            if paths.dump().exists() {
                let _ = std::fs::remove_file(paths.dump());
            }
            Ok((entries, notes))
        }
    }
}

/// One dump file: a file that is not a JSON list fails whole; an entry
/// that does not parse is skipped with a note, so one bad app costs only
/// itself.
fn read(path: &Path) -> anyhow::Result<(Vec<DumpEntry>, Vec<String>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let list: Vec<Value> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a valid dump", path.display()))?;
    let mut entries = Vec::with_capacity(list.len());
    let mut notes = Vec::new();
    for (i, mut v) in list.into_iter().enumerate() {
        normalize(&mut v);
        match serde_json::from_value::<DumpEntry>(v) {
            Ok(e) => entries.push(e),
            Err(e) => notes.push(format!("{} entry {}: {e}; skipped", path.display(), i + 1)),
        }
    }
    Ok((entries, notes))
}

/// pm2 dumps hold env values of any JSON type (`PORT: 3000`); the app sees
/// strings, so convert instead of refusing the whole file.
fn normalize(v: &mut Value) {
    if let Some(Value::Object(env)) = v.get_mut("env") {
        for val in env.values_mut() {
            let text = match &*val {
                Value::String(_) => continue,
                Value::Null => String::new(),
                other => other.to_string(),
            };
            *val = Value::String(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pm2_style_env_values_become_strings_and_bad_entries_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            home: dir.path().to_path_buf(),
        };
        std::fs::write(
            paths.dump(),
            r#"[{"name":"a","pm_exec_path":"/x/a.js","env":{"PORT":3000,"DEBUG":true,"N":null}},
                {"name":"b","instances":"many"}]"#,
        )
        .unwrap();
        let (entries, notes) = load(&paths).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].spec.env["PORT"], "3000");
        assert_eq!(entries[0].spec.env["DEBUG"], "true");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("entry 2"), "{notes:?}");
    }

    #[test]
    fn corrupt_dump_falls_back_to_the_backup() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths {
            home: dir.path().to_path_buf(),
        };
        std::fs::write(paths.dump(), "{ not json").unwrap();
        std::fs::write(paths.dump_backup(), r#"[{"name":"a","pm_exec_path":"/x"}]"#).unwrap();
        let (entries, notes) = load(&paths).unwrap();
        assert_eq!(entries[0].spec.name, "a");
        assert!(notes[0].contains("restored from"), "{notes:?}");
    }
}
