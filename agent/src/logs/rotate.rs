//! Built-in log rotation (pm2 needs the pm2-logrotate module): by size and
//! on a cron schedule, with a number of files kept and optional gzip. A file is rotated inside the
//! lock its writers share, between two whole writes, so no line is lost,
//! doubled or split across files.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use pmr_shared::sync::{Locked, RwLocked};
use serde::{Deserialize, Serialize};

/// Rotation settings: `[logrotate]` in `$PMR_HOME/config.toml`, or
/// `pmr set pmr:logrotate.<key> <value>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotateConfig {
    /// Rotate a file when it reaches this size (`10M`, `1G`; `0` = never).
    pub max_size: String,
    /// Rotated files kept per log (the oldest go first).
    pub retain: usize,
    /// Gzip rotated files.
    pub compress: bool,
    /// dayjs format of the date in rotated names.
    pub date_format: String,
    /// Cron pattern (seconds optional) on which every non-empty log is
    /// rotated whatever its size; empty for none.
    pub rotate_interval: String,
    /// pm2-logrotate's `workerInterval` (seconds between its size checks);
    /// pmr checks the size at every write, so it is kept, not needed.
    pub worker_interval: u64,
    /// pm2-logrotate's `rotateModule` (rotate pm2 modules' logs); pmr has
    /// no modules, and its own `pmr.log` keeps to its own size.
    pub rotate_module: bool,
    /// Time zone of the date in rotated names (`Europe/Paris`, `UTC`);
    /// empty for the system's, as pm2-logrotate's `TZ`.
    pub tz: String,
}

impl Default for RotateConfig {
    fn default() -> Self {
        // pm2-logrotate's defaults, except that rotation is on: logs that
        // fill disks are pm2's most reported pain.
        Self {
            max_size: "10M".into(),
            retain: 30,
            compress: false,
            date_format: "YYYY-MM-DD_HH-mm-ss".into(),
            // pm2-logrotate's default: every day at midnight.
            rotate_interval: "0 0 * * *".into(),
            worker_interval: 30,
            rotate_module: true,
            tz: String::new(),
        }
    }
}

/// Serializes compression and pruning.
static JOBS: std::sync::Mutex<()> = std::sync::Mutex::new(());
/// `max_size` in bytes (0: never), read on every write, so kept apart
/// from [`CONFIG`] in an atomic.
static MAX_SIZE: AtomicU64 = AtomicU64::new(10 * 1024 * 1024);
/// The settings in force; `None` (the defaults) until [`configure`].
/// Process-wide: the daemon has one rotation policy for every log.
static CONFIG: RwLock<Option<RotateConfig>> = RwLock::new(None);
/// Wakes the scheduled rotation when the settings change.
pub static CHANGED: tokio::sync::Notify = tokio::sync::Notify::const_new();

/// Puts new settings in force for every log file; `Err` names the bad
/// setting (shown as is, never branched on, hence a `String`).
pub fn configure(cfg: RotateConfig) -> Result<(), String> {
    let size = if cfg.max_size.trim() == "0" {
        0
    } else {
        pmr_shared::app::parse_bytes(&cfg.max_size).ok_or_else(|| {
            format!(
                "logrotate.max_size: {:?} is not a size (10M, 1G...)",
                cfg.max_size
            )
        })?
    };
    if !cfg.rotate_interval.trim().is_empty() {
        crate::clock::parse_cron(&cfg.rotate_interval)
            .map_err(|e| format!("logrotate.rotate_interval: {e}"))?;
    }
    super::zone::check(&cfg.tz).map_err(|e| format!("logrotate.tz: {e}"))?;
    MAX_SIZE.store(size, Ordering::Relaxed);
    *CONFIG.write_locked() = Some(cfg);
    CHANGED.notify_waiters();
    Ok(())
}

/// When the scheduled rotation next fires, if one is set.
pub fn next_scheduled() -> Option<std::time::Duration> {
    let pattern = config().rotate_interval;
    if pattern.trim().is_empty() {
        return None;
    }
    let cron = crate::clock::parse_cron(&pattern).ok()?;
    let now = chrono::Local::now();
    let next = cron.find_next_occurrence(&now, false).ok()?;
    (next - now).to_std().ok()
}

/// A copy of the settings in force, so no lock is held while they are used.
fn config() -> RotateConfig {
    CONFIG.read_locked().clone().unwrap_or_default()
}

/// Whether a file of `size` bytes is due.
pub fn due(size: u64) -> bool {
    let max = MAX_SIZE.load(Ordering::Relaxed);
    max > 0 && size >= max
}

/// `app-out.log` → (`app-out`, `.log`).
fn split(path: &Path) -> (String, String) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.rfind('.') {
        Some(i) if i > 0 => (name[..i].to_string(), name[i..].to_string()),
        _ => (name, String::new()),
    }
}

/// Moves `path` aside as `<stem>__<date><ext>` and has `reopen` open a
/// fresh `path`; then compresses and prunes the old ones in the background.
/// If `reopen` fails, the file is moved back, so the writer's open handle
/// still names `path` and no line goes into a file about to be compressed.
pub fn rotate<T>(path: &Path, reopen: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
    let cfg = config();
    let (stem, ext) = split(path);
    let format = super::dayjs::to_strftime(&cfg.date_format);
    let stamp = match super::zone::offset(&cfg.tz) {
        Some(zone) => chrono::Utc::now()
            .with_timezone(&zone)
            .format(&format)
            .to_string(),
        None => chrono::Local::now().format(&format).to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut target = dir.join(format!("{stem}__{stamp}{ext}"));
    let mut n = 1;
    while target.exists()
        || target
            .with_extension(format!("{}.gz", ext.trim_start_matches('.')))
            .exists()
    {
        target = dir.join(format!("{stem}__{stamp}-{n}{ext}"));
        n += 1;
    }
    std::fs::rename(path, &target)?;
    let fresh = match reopen() {
        Ok(f) => f,
        Err(e) => {
            let _ = std::fs::rename(&target, path);
            return Err(e);
        }
    };
    let (keep, compress) = (cfg.retain, cfg.compress);
    let (dir, rotated) = (dir.to_path_buf(), target);
    // Compression and pruning never hold up the apps' output; one job at a
    // time, so pruning never races a compression.
    std::thread::spawn(move || {
        let _one = JOBS.locked();
        if compress {
            let _ = gzip(&rotated);
        }
        prune(&dir, &stem, &ext, keep);
    });
    Ok(fresh)
}

/// Compresses a rotated file to `<path>.gz` and removes the original; on
/// an error the original stays whole (a partial `.gz` may sit beside it).
fn gzip(path: &Path) -> io::Result<()> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    let mut input = File::open(path)?;
    let rotated_at = input.metadata()?.modified()?;
    let mut enc = flate2::write::GzEncoder::new(File::create(&gz)?, flate2::Compression::default());
    io::copy(&mut input, &mut enc)?;
    let out = enc.finish()?;
    // Keep the rotation time: pruning goes by it, oldest first.
    out.set_modified(rotated_at)?;
    out.sync_all()?;
    std::fs::remove_file(path)
}

/// Keeps the `keep` newest rotated files of one log.
fn prune(dir: &Path, stem: &str, ext: &str, keep: usize) {
    let prefix = format!("{stem}__");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut rotated: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with(&prefix) && (n.ends_with(ext) || n.ends_with(&format!("{ext}.gz")))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    rotated.sort();
    let excess = rotated.len().saturating_sub(keep);
    for (_, p) in rotated.into_iter().take(excess) {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_split_and_prune_keeps_the_newest() {
        assert_eq!(
            split(Path::new("/x/app-out.log")),
            ("app-out".into(), ".log".into())
        );
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            std::fs::write(dir.path().join(format!("a__{i}.log")), "x").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::fs::write(dir.path().join("a.log"), "live").unwrap();
        prune(dir.path(), "a", ".log", 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["a.log", "a__3.log", "a__4.log"]);
    }

    #[test]
    fn a_rotation_whose_reopen_fails_moves_the_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app-out.log");
        std::fs::write(&path, "kept\n").unwrap();
        let refused = rotate(&path, || -> io::Result<()> {
            Err(io::Error::other("no descriptors left"))
        });
        assert!(refused.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "kept\n");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "nothing left beside it: {names:?}");
        let fresh = rotate(&path, || std::fs::File::create(&path)).unwrap();
        drop(fresh);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(
            configure(RotateConfig {
                max_size: "lots".into(),
                ..Default::default()
            })
            .is_err()
        );
    }
}
