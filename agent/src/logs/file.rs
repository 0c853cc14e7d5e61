//! One log file shared by every stream that writes to it: appends of whole
//! lines in one `write` each (on `O_APPEND`, so instances sharing a file
//! never tear each other's lines), size-triggered rotation under the
//! writers' lock, and the count of bytes a full disk made us drop.

use pmr_shared::sync::Locked;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Paths that mean "no file", as pm2 accepts them.
pub fn is_null_path(path: &str) -> bool {
    path == "/dev/null" || path.eq_ignore_ascii_case("null")
}

/// One log file, shared by every stream that writes to it.
#[derive(Debug)]
pub struct LogFile {
    /// Where it lives; reopened by this path after a rotation.
    path: PathBuf,
    /// The open file and its size as counted by our writes; the lock is the
    /// writers' lock, under which rotation also happens. (Always `Some` so
    /// far: no path stores `None`.)
    file: Mutex<Option<(File, u64)>>,
    /// Bytes that could not be written (a full disk), since the daemon began.
    dropped: AtomicU64,
    /// Writes are failing now: said once in the daemon's log, not per write.
    failing: AtomicBool,
    /// The last lines written, with when each was read.
    pub(super) recent: super::recent::Recent,
}

impl LogFile {
    /// Opens (creating directories as needed) a file for appending.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = open_append(path)?;
        let size = file.metadata().map_or(0, |m| m.len());
        Ok(Self {
            path: path.to_path_buf(),
            file: Mutex::new(Some((file, size))),
            dropped: AtomicU64::new(0),
            failing: AtomicBool::new(false),
            recent: Default::default(),
        })
    }

    /// Where this file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last `n` lines instance `pm_id` wrote here since the daemon
    /// began, each with when it was read, oldest first.
    pub fn recent(&self, pm_id: u32, n: usize) -> Vec<super::recent::RecentLine> {
        self.recent.of(pm_id, n)
    }

    /// Bytes dropped because writing failed (a full disk).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends bytes that hold whole lines in one write. Returns where the
    /// file's next line will start (0 once it rotated), so a follower that
    /// loses the stream knows where to read on; `None` if nothing was written.
    pub fn write(&self, bytes: &[u8]) -> Option<u64> {
        let mut guard = self.file.locked();
        let (file, size) = guard.as_mut()?;
        if let Err(err) = file.write_all(bytes) {
            // Supervision goes on; the bytes are counted (describe, jlist).
            self.dropped
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if !self.failing.swap(true, Ordering::Relaxed) {
                tracing::warn!(path = %self.path.display(), %err, "log write failed; output is dropped and counted until writing works again");
            }
            return None;
        }
        if self.failing.swap(false, Ordering::Relaxed) {
            let dropped = self.dropped.load(Ordering::Relaxed);
            tracing::warn!(path = %self.path.display(), dropped, "log writes work again");
        }
        *size += bytes.len() as u64;
        // Rotating here, under the writers' lock and between whole writes,
        // is what keeps every line in exactly one file.
        if super::rotate::due(*size) {
            match super::rotate::rotate(&self.path, || open_append(&self.path)) {
                Ok(fresh) => *guard = Some((fresh, 0)),
                Err(err) => {
                    tracing::warn!(path = %self.path.display(), %err, "log rotation failed")
                }
            }
        }
        guard.as_ref().map(|(_, size)| *size)
    }

    /// Rotates now unless the file is empty (scheduled rotation).
    pub fn rotate_now(&self) -> io::Result<()> {
        let mut guard = self.file.locked();
        match guard.as_ref() {
            Some((_, size)) if *size > 0 => {
                let fresh = super::rotate::rotate(&self.path, || open_append(&self.path))?;
                *guard = Some((fresh, 0));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Reopens the file, for `reloadLogs` after an outside rotation.
    pub fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        let size = file.metadata().map_or(0, |m| m.len());
        *self.file.locked() = Some((file, size));
        Ok(())
    }

    /// Empties the file; appends continue at the new end.
    pub fn truncate(&self) -> io::Result<()> {
        let mut guard = self.file.locked();
        match guard.as_mut() {
            Some((file, size)) => {
                *size = 0;
                self.recent.clear();
                file.set_len(0)
            }
            None => Ok(()),
        }
    }
}

/// Opens `path` for appending, creating it and its directories.
fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_paths() {
        assert!(is_null_path("/dev/null"));
        assert!(is_null_path("NULL"));
        assert!(!is_null_path("/tmp/null.log"));
    }

    #[test]
    fn a_write_says_where_the_next_line_starts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.log");
        std::fs::write(&path, "before\n").unwrap();
        let f = LogFile::open(&path).unwrap();
        assert_eq!(f.write(b"one\n"), Some(11));
        assert_eq!(f.write(b"two\n"), Some(15));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 15);
        f.truncate().unwrap();
        assert_eq!(f.write(b"three\n"), Some(6));
    }
}
