//! Log capture: the apps' pipes drained into their sinks, whole lines only.
//!
//! Every pipe is drained as soon as it is readable into one scratch buffer per
//! thread, so an idle app costs no buffer and a flood never blocks the app on
//! a full pipe. A daemon handing over stops its pumps at a line boundary and
//! leaves the rest in the pipes for the next one.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::net::unix::pipe;
use tokio::sync::Notify;

use super::StreamSink;

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
    /// One read buffer per runtime thread, shared by every pump on it, so
    /// a thousand quiet pipes do not each hold 256 KiB.
    static SCRATCH_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH]);
}

/// How long an unfinished line waits for the rest before it is written.
const PARTIAL_WAIT: std::time::Duration = std::time::Duration::from_millis(200);

/// Reads a pipe until every writer has closed it, writing whole lines (and
/// an unfinished one once the app has been quiet for `PARTIAL_WAIT` (200 ms)).
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
/// Notified when [`LIVE`] drops to 0: a hand-over waits for it (at most
/// 1 s) so that every pipe is read up to a line boundary first.
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

/// Writes the whole lines of `chunk` (after what `carry` held) and keeps
/// the unfinished rest in `carry`, cut into pieces past [`MAX_CARRY`].
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

/// Where the last newline of `bytes` is.
fn memrchr_newline(bytes: &[u8]) -> Option<usize> {
    bytes.iter().rposition(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::LogFile;
    use std::sync::Arc;
    use tokio::sync::broadcast;

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
}
