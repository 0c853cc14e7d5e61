//! The dump file: the process list in pm2's `dump.pm2` shape, written
//! atomically, with the previous one kept as `dump.pm2.bak`.

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
}

/// Writes the dump atomically; the previous dump becomes the backup.
pub fn save(paths: &Paths, list: &[ProcessInfo]) -> anyhow::Result<()> {
    let entries: Vec<Value> = list.iter().map(|p| pm2_shape::pm2_env(p, false)).collect();
    let bytes = serde_json::to_vec_pretty(&entries)?;
    let dump = paths.dump();
    if dump.exists() {
        std::fs::copy(&dump, paths.dump_backup())
            .with_context(|| format!("cannot keep {} as a backup", dump.display()))?;
    }
    let tmp = paths.home.join("dump.pm2.tmp");
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot write {}", tmp.display()))?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, &dump).with_context(|| format!("cannot replace {}", dump.display()))?;
    Ok(())
}

/// Reads the dump, falling back to the backup when the dump is unreadable.
pub fn load(paths: &Paths) -> anyhow::Result<Vec<DumpEntry>> {
    match read(&paths.dump()) {
        Ok(list) => Ok(list),
        Err(first) => {
            let backup = paths.dump_backup();
            if !backup.exists() {
                return Err(first);
            }
            tracing::warn!("{first:#}; using {}", backup.display());
            read(&backup).map_err(|e| first.context(format!("backup unusable too: {e:#}")))
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<DumpEntry>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a valid dump", path.display()))
}
