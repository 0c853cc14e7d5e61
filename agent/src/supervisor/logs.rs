//! Log capture: the apps' pipes into their files, whole lines only.
//!
//! Every pipe is drained as soon as it is readable into one scratch buffer per
//! thread, so an idle app costs no buffer and a flood never blocks the app on
//! a full pipe. A line is always written by one `write` call on a file opened
//! with `O_APPEND`, so instances sharing a file never tear each other's lines.

use std::cell::RefCell;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;
use tokio::sync::{Notify, broadcast};

/// Largest partial line kept while waiting for its newline; longer lines are
/// written in pieces of this size so memory stays bounded.
const MAX_CARRY: usize = 64 * 1024;
/// Most bytes taken from one pipe before the daemon serves others.
const MAX_ROUND: usize = 1024 * 1024;
/// A read round this large means the app is flooding its output.
const FLOOD_BYTES: usize = 32 * 1024;
/// Pause between reads during a flood; at 1 GB/s this is well under the
/// 1 MiB pipe, so the app never blocks on it.
const FLOOD_PAUSE: std::time::Duration = std::time::Duration::from_millis(1);
/// Size of the per-thread read buffer.
const SCRATCH: usize = 256 * 1024;

thread_local! {
    static SCRATCH_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

/// Paths that mean "no file", as pm2 accepts them.
pub fn is_null_path(path: &str) -> bool {
    path == "/dev/null" || path.eq_ignore_ascii_case("null")
}

/// One log file, shared by every stream that writes to it.
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Mutex<Option<(File, u64)>>,
    /// Bytes that could not be written (a full disk), since the daemon began.
    dropped: AtomicU64,
    /// Writes are failing now: said once in the daemon's log, not per write.
    failing: AtomicBool,
    /// The last lines written, with when each was read.
    recent: super::logs_recent::Recent,
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
    pub fn recent(&self, pm_id: u32, n: usize) -> Vec<super::logs_recent::RecentLine> {
        self.recent.of(pm_id, n)
    }

    /// Bytes dropped because writing failed (a full disk).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Appends bytes that hold whole lines in one write.
    pub fn write(&self, bytes: &[u8]) {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let Some((file, size)) = guard.as_mut() else {
            return;
        };
        if let Err(err) = file.write_all(bytes) {
            // Supervision goes on; the bytes are counted (describe, jlist).
            self.dropped
                .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            if !self.failing.swap(true, Ordering::Relaxed) {
                tracing::warn!(path = %self.path.display(), %err, "log write failed; output is dropped and counted until writing works again");
            }
            return;
        }
        if self.failing.swap(false, Ordering::Relaxed) {
            let dropped = self.dropped.load(Ordering::Relaxed);
            tracing::warn!(path = %self.path.display(), dropped, "log writes work again");
        }
        *size += bytes.len() as u64;
        // Rotating here, under the writers' lock and between whole writes,
        // is what keeps every line in exactly one file.
        if super::rotate::due(*size) {
            match super::rotate::rotate(&self.path).and_then(|_| open_append(&self.path)) {
                Ok(fresh) => *guard = Some((fresh, 0)),
                Err(err) => {
                    tracing::warn!(path = %self.path.display(), %err, "log rotation failed")
                }
            }
        }
    }

    /// Rotates now unless the file is empty (scheduled rotation).
    pub fn rotate_now(&self) -> io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some((_, size)) if *size > 0 => {
                super::rotate::rotate(&self.path)?;
                *guard = Some((open_append(&self.path)?, 0));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Reopens the file, for `reloadLogs` after an outside rotation.
    pub fn reopen(&self) -> io::Result<()> {
        let file = open_append(&self.path)?;
        let size = file.metadata().map_or(0, |m| m.len());
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = Some((file, size));
        Ok(())
    }

    /// Empties the file; appends continue at the new end.
    pub fn truncate(&self) -> io::Result<()> {
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
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

fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}

/// A chunk of whole lines, published while someone follows the logs.
#[derive(Debug, Clone)]
pub struct LogEvent {
    /// When the daemon read these lines from the app's pipe, Unix ms.
    pub at: u64,
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: Arc<str>,
    /// `out` or `err`.
    pub stream: &'static str,
    /// Whole lines.
    pub data: Arc<str>,
}

/// Where one stream of one instance goes.
#[derive(Clone)]
pub struct StreamSink {
    /// The stream's own file, `None` when disabled.
    pub file: Option<Arc<LogFile>>,
    /// The combined file, if configured.
    pub combined: Option<Arc<LogFile>>,
    /// dayjs-style prefix format, converted for chrono.
    pub date_format: Option<Arc<str>>,
    /// Write one JSON object per line (`log_type: json`).
    pub json: bool,
    /// Followers of `pmr logs`.
    pub bus: broadcast::Sender<LogEvent>,
    /// Instance id, for the bus.
    pub pm_id: u32,
    /// App name, for the bus.
    pub name: Arc<str>,
    /// `out` or `err`.
    pub stream: &'static str,
}

impl StreamSink {
    /// This sink with the app's current line format (`log_date_format`,
    /// `log_type`) and name, which a restart with new options may change.
    pub fn for_spec(&self, spec: &pmr_shared::app::AppSpec) -> Self {
        Self {
            date_format: spec
                .date_format()
                .map(|f| super::dayjs::to_strftime(f).into()),
            json: spec.log_type.as_deref() == Some("json"),
            name: spec.name.as_str().into(),
            ..self.clone()
        }
    }

    fn emit(&self, lines: &[u8]) {
        if lines.is_empty() {
            return;
        }
        let prefixed;
        let bytes = if self.json {
            prefixed = json_lines(
                lines,
                self.date_format.as_deref(),
                &self.name,
                self.pm_id,
                self.stream,
            );
            &prefixed[..]
        } else {
            match &self.date_format {
                Some(fmt) => {
                    prefixed = prefix_lines(lines, fmt);
                    &prefixed[..]
                }
                None => lines,
            }
        };
        let at = super::now_ms();
        if let Some(f) = &self.file {
            f.write(bytes);
            f.recent.push(at, self.pm_id, bytes);
        }
        if let Some(f) = &self.combined {
            f.write(bytes);
        }
        if self.bus.receiver_count() > 0 {
            let _ = self.bus.send(LogEvent {
                at,
                pm_id: self.pm_id,
                name: self.name.clone(),
                stream: self.stream,
                data: String::from_utf8_lossy(bytes).into(),
            });
        }
    }
}

/// pm2's `log_type: json` records: message, timestamp, type, process_id, app_name.
pub(crate) fn json_lines(
    lines: &[u8],
    fmt: Option<&str>,
    app: &str,
    pm_id: u32,
    stream: &'static str,
) -> Vec<u8> {
    let now = chrono::Local::now();
    let stamp = match fmt {
        Some(f) => now.format(f).to_string(),
        None => now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
    };
    let mut out = Vec::with_capacity(lines.len() * 2);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let message = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
        let record = serde_json::json!({
            "message": message,
            "timestamp": stamp,
            "type": stream,
            "process_id": pm_id,
            "app_name": app,
        });
        if serde_json::to_writer(&mut out, &record).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

fn prefix_lines(lines: &[u8], fmt: &str) -> Vec<u8> {
    let stamp = chrono::Local::now().format(fmt).to_string();
    let count = lines.iter().filter(|&&b| b == b'\n').count().max(1);
    let mut out = Vec::with_capacity(lines.len() + count * (stamp.len() + 2));
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(line);
    }
    out
}

/// How long an unfinished line waits for the rest before it is written.
const PARTIAL_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Reads a pipe until every writer has closed it, writing whole lines (and
/// an unfinished one once the app has been quiet for [`PARTIAL_WAIT`]).
pub async fn pump(rx: pipe::Receiver, sink: StreamSink) {
    let _live = Live::new();
    let mut carry: Vec<u8> = Vec::new();
    let mut grown = None;
    loop {
        if carry.is_empty() {
            match readable_or_leave(&rx).await {
                Some(Ok(())) => {}
                Some(Err(_)) => break,
                None => return release(grown),
            }
        } else {
            // Output without a newline (a prompt, `write('x')`) reaches the
            // log once the app has been quiet for a moment, as its own line.
            match tokio::time::timeout(PARTIAL_WAIT, readable_or_leave(&rx)).await {
                Ok(Some(Ok(()))) => {}
                Ok(Some(Err(_))) => break,
                // Handing over: what is read is written; the rest stays in
                // the pipe for the next daemon.
                Ok(None) => break,
                Err(_) => {
                    carry.push(b'\n');
                    sink.emit(&carry);
                    carry.clear();
                    continue;
                }
            }
        }
        let (done, read) = SCRATCH_BUF.with(|cell| {
            let mut buf = cell.borrow_mut();
            let mut read = 0;
            loop {
                match rx.try_read(&mut buf) {
                    Ok(0) => return (true, read),
                    Ok(n) => {
                        read += n;
                        absorb(&buf[..n], &mut carry, &sink);
                        if read >= MAX_ROUND {
                            // Give the rest of the daemon its turn.
                            return (false, read);
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (false, read),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(_) => return (true, read),
                }
            }
        });
        if done {
            break;
        }
        if read >= FLOOD_BYTES {
            grow_once(&rx, &mut grown);
            // A flood: let the pipe fill a little before the next read. The
            // app then writes into a non-empty pipe, which costs it no wake-up
            // of the daemon, and the daemon reads big chunks, not 8 KiB ones.
            tokio::time::sleep(FLOOD_PAUSE).await;
        }
    }
    if !carry.is_empty() {
        carry.push(b'\n');
        sink.emit(&carry);
    }
    release(grown);
}

/// Set when the daemon hands over: pumps stop reading.
static LEAVING: AtomicBool = AtomicBool::new(false);
/// Wakes the pumps when [`LEAVING`] is set.
static LEAVE: Notify = Notify::const_new();
/// Pumps still running, and a wake-up when the last one ends.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static ALL_DONE: Notify = Notify::const_new();

/// Counts a running pump.
struct Live;

impl Live {
    fn new() -> Self {
        LIVE.fetch_add(1, Ordering::SeqCst);
        Live
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if LIVE.fetch_sub(1, Ordering::SeqCst) == 1 {
            ALL_DONE.notify_waiters();
        }
    }
}

/// The pipe has something to read (or ended); `None` once the daemon is
/// handing over.
async fn readable_or_leave(rx: &pipe::Receiver) -> Option<io::Result<()>> {
    let leave = LEAVE.notified();
    tokio::pin!(leave);
    leave.as_mut().enable();
    if LEAVING.load(Ordering::SeqCst) {
        return None;
    }
    tokio::select! {
        r = rx.readable() => Some(r),
        () = leave => None,
    }
}

/// Stops every pump at a line boundary (a partial line is written as its
/// own line) and waits for them, for at most a second: what they have not
/// read stays in the pipes for the daemon that takes over.
pub async fn stop_pumps() {
    LEAVING.store(true, Ordering::SeqCst);
    LEAVE.notify_waiters();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let done = ALL_DONE.notified();
        tokio::pin!(done);
        done.as_mut().enable();
        if LIVE.load(Ordering::SeqCst) == 0 {
            return;
        }
        if tokio::time::timeout_at(deadline, done).await.is_err() {
            return;
        }
    }
}

/// Pipes enlarged so far; each costs its capacity in the user's pipe quota
/// (64 MiB by default), so only the chatty ones grow, and only so many.
static GROWN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Most pipes grown at once (32 MiB of the quota).
const MAX_GROWN: usize = 32;
/// Capacity of a grown pipe: room for the app to run ahead of a flood pause.
const GROWN_SIZE: i32 = 1024 * 1024;

/// Gives a flooding app's pipe more room, once, within the global cap;
/// `grown` is `Some(true)` when this pipe holds a share of the cap.
fn grow_once(rx: &pipe::Receiver, grown: &mut Option<bool>) {
    use std::sync::atomic::Ordering;
    if grown.is_some() {
        return;
    }
    let ok = GROWN.fetch_add(1, Ordering::Relaxed) < MAX_GROWN
        && nix::fcntl::fcntl(rx, nix::fcntl::FcntlArg::F_SETPIPE_SZ(GROWN_SIZE)).is_ok();
    if !ok {
        GROWN.fetch_sub(1, Ordering::Relaxed);
    }
    *grown = Some(ok);
}

/// Gives back a grown pipe's share of the cap when its pump ends.
fn release(grown: Option<bool>) {
    if grown == Some(true) {
        GROWN.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn absorb(chunk: &[u8], carry: &mut Vec<u8>, sink: &StreamSink) {
    match memrchr_newline(chunk) {
        Some(last) => {
            let (whole, rest) = chunk.split_at(last + 1);
            if carry.is_empty() {
                sink.emit(whole);
            } else {
                carry.extend_from_slice(whole);
                sink.emit(carry);
                carry.clear();
            }
            carry.extend_from_slice(rest);
        }
        None => carry.extend_from_slice(chunk),
    }
    while carry.len() >= MAX_CARRY {
        let mut piece: Vec<u8> = carry.drain(..MAX_CARRY).collect();
        piece.push(b'\n');
        sink.emit(&piece);
    }
    if carry.capacity() > MAX_CARRY * 2 && carry.len() < MAX_CARRY {
        carry.shrink_to(MAX_CARRY);
    }
}

fn memrchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
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

    fn sink_into(file: Arc<LogFile>) -> StreamSink {
        StreamSink {
            file: Some(file),
            combined: None,
            date_format: None,
            json: false,
            bus: broadcast::channel(4).0,
            pm_id: 0,
            name: "t".into(),
            stream: "out",
        }
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let file = Arc::new(LogFile::open(&path).unwrap());
        let sink = sink_into(file);
        let mut carry = Vec::new();
        absorb(b"hel", &mut carry, &sink);
        assert_eq!(std::fs::read(&path).unwrap(), b"");
        absorb(b"lo\nwor", &mut carry, &sink);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello\n");
        absorb(b"ld\n", &mut carry, &sink);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello\nworld\n");
        assert!(carry.is_empty());
    }

    #[test]
    fn endless_line_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let sink = sink_into(Arc::new(LogFile::open(&path).unwrap()));
        let mut carry = Vec::new();
        let chunk = vec![b'a'; 50_000];
        for _ in 0..4 {
            absorb(&chunk, &mut carry, &sink);
        }
        assert!(carry.len() < MAX_CARRY);
        let written = std::fs::read(&path).unwrap();
        assert_eq!(written.len() + carry.len(), 200_000 + 3);
    }

    #[test]
    fn prefix_every_line() {
        let out = prefix_lines(b"a\nb\n", "X");
        assert_eq!(out, b"X: a\nX: b\n");
    }
}
