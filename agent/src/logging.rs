//! Tracing set-up: the daemon logs to `$PMR_HOME/pmr.log` with timestamps
//! (pm2 leaves its own log without them, a known complaint), and rotates it
//! (pm2's grows forever): past 10 MiB (`PMR_DAEMON_LOG_MAX`, bytes) it
//! becomes `pmr.log.1`, and the older ones move up to `pmr.log.3`.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use tracing_subscriber::filter::LevelFilter;

/// Sends the daemon's tracing output to `path`; `PMR_LOG=debug` raises the level.
pub fn to_file(path: &Path) {
    let level = match std::env::var("PMR_LOG").as_deref() {
        Ok("trace") => LevelFilter::TRACE,
        Ok("debug") => LevelFilter::DEBUG,
        Ok("warn") => LevelFilter::WARN,
        Ok("error") => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    let Ok(file) = Rotating::open(path) else {
        return;
    };
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false)
        .with_writer(std::sync::Mutex::new(file))
        .try_init();
}

/// Rotated files kept beside the current one.
const KEEP: u32 = 3;

/// The daemon's log file, rotated by size.
struct Rotating {
    /// The log file; its older copies are `path.1` to `path.3`.
    path: PathBuf,
    /// The file being appended to.
    file: File,
    /// Bytes in the current file, counted as they are written.
    size: u64,
    /// Size past which the next write rotates first.
    limit: u64,
}

impl Rotating {
    /// Opens the daemon log for appending; `PMR_DAEMON_LOG_MAX` (bytes, 1 KiB
    /// at least) sets when it rotates, 10 MiB by default.
    fn open(path: &Path) -> io::Result<Self> {
        let file = append(path)?;
        let limit = std::env::var("PMR_DAEMON_LOG_MAX")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|l| *l >= 1024)
            .unwrap_or(10 * 1024 * 1024);
        Ok(Self {
            size: file.metadata()?.len(),
            path: path.to_path_buf(),
            file,
            limit,
        })
    }

    /// `pmr.log` → `.1` → ... → `.3` (dropped), then a fresh `pmr.log`,
    /// which also becomes the daemon's stderr (panics land there).
    fn rotate(&mut self) -> io::Result<()> {
        let name = |n: u32| PathBuf::from(format!("{}.{n}", self.path.display()));
        for n in (1..KEEP).rev() {
            let _ = std::fs::rename(name(n), name(n + 1));
        }
        let stderr_is_log = is_stderr(&self.file);
        std::fs::rename(&self.path, name(1))?;
        self.file = append(&self.path)?;
        self.size = 0;
        if stderr_is_log {
            point_stderr_at(&self.file);
        }
        Ok(())
    }
}

impl Write for Rotating {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.limit {
            // A failed rotation keeps writing to the current file.
            let _ = self.rotate();
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `path` opened for appending, created if missing.
fn append(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Whether the process's stderr is `file` (the CLI starts the daemon so;
/// a daemon run by hand or by systemd writes stderr elsewhere).
fn is_stderr(file: &File) -> bool {
    use std::os::fd::AsFd;
    use std::os::unix::fs::MetadataExt;
    let (Ok(err), Ok(log)) = (nix::sys::stat::fstat(io::stderr().as_fd()), file.metadata()) else {
        return false;
    };
    err.st_dev == log.dev() && err.st_ino == log.ino()
}

/// Makes `file` the process's stderr.
#[allow(unsafe_code)]
fn point_stderr_at(file: &File) {
    use std::os::fd::AsRawFd;
    // SAFETY: dup2 onto fd 2 replaces the daemon's stderr atomically; both
    // descriptors are valid for the call.
    unsafe {
        libc::dup2(file.as_raw_fd(), 2);
    }
}
