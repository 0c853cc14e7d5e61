//! One accepted connection: its place in the fair pool of connections,
//! what an upgraded, not-yet-authenticated websocket may still make the hub
//! read (an `auth` is well under 1 KiB; without the cap each pending
//! handshake could buffer a 1 MiB frame), and the guard around its socket,
//! which ends a connection whose writes stall (a client that stops reading
//! its response would otherwise hold it forever: hyper has no write
//! timeout). Reads are counted above TLS, in [`super::plain`].

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

use pmr_shared::sync::Locked;

use super::fair::Place;
use super::heads::Heads;

/// Bytes an upgraded websocket may send before it authenticates, those
/// hyper read past the upgrade request included.
pub const PRE_AUTH_READ_BUDGET: u64 = 16 * 1024;

/// What the handlers may do about the connection they run on.
pub struct Conn {
    place: Place,
    /// Bytes it may still send; `u64::MAX` for no limit.
    budget: AtomicU64,
    over: AtomicBool,
    /// Where its request heads end in what it read.
    heads: Mutex<Heads>,
}

impl Conn {
    /// A connection holding `place`, reads unlimited.
    pub fn new(place: Place) -> Arc<Self> {
        Arc::new(Self {
            place,
            budget: AtomicU64::new(u64::MAX),
            over: AtomicBool::new(false),
            heads: Mutex::new(Heads::default()),
        })
    }

    /// hyper parsed a request head; `body` is the body's length on the
    /// wire (`None`: chunked, unknown).
    pub fn request(&self, body: Option<u64>) {
        self.heads().request(body);
    }

    /// An upgrade to the agents' websocket: the connection leaves its
    /// address's share (the pending-handshake pool governs it now) and may
    /// read at most [`PRE_AUTH_READ_BUDGET`] more bytes until
    /// [`Conn::authenticated`], counting those hyper already read past the
    /// upgrade request (a frame sent in the same write).
    pub fn upgraded(&self) {
        self.place.settle();
        let read_ahead = self.heads().beyond_head();
        match PRE_AUTH_READ_BUDGET.checked_sub(read_ahead) {
            Some(left) => self.budget.store(left, Ordering::Release),
            None => {
                self.budget.store(0, Ordering::Release);
                self.over.store(true, Ordering::Release);
            }
        }
    }

    /// The agent proved its key: no read cap any more.
    pub fn authenticated(&self) {
        self.budget.store(u64::MAX, Ordering::Release);
        self.heads().stop();
    }

    /// Whether reads stopped, or must stop, because the budget ran out.
    pub fn over_budget(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// Notes bytes read from the client; false when they exceed the budget.
    pub(crate) fn read(&self, bytes: &[u8]) -> bool {
        self.heads().read(bytes);
        self.spend(bytes.len() as u64)
    }

    fn heads(&self) -> std::sync::MutexGuard<'_, Heads> {
        // The tracker holds no invariant a panic elsewhere could break.
        self.heads.locked()
    }

    /// Spends `n` bytes; false when that exceeds the budget.
    fn spend(&self, n: u64) -> bool {
        let ok = self
            .budget
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b == u64::MAX).then_some(b).or_else(|| b.checked_sub(n))
            })
            .is_ok();
        if !ok {
            self.over.store(true, Ordering::Release);
        }
        ok
    }
}

/// The socket, guarded against stalled writes.
pub struct Guarded<IO> {
    io: IO,
    write_limit: Duration,
    stall: Option<Pin<Box<Sleep>>>,
}

impl<IO> Guarded<IO> {
    /// Guards `io`; a write that cannot progress for `write_limit` fails.
    pub fn new(io: IO, write_limit: Duration) -> Self {
        Self {
            io,
            write_limit,
            stall: None,
        }
    }

    fn stalled<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let limit = self.write_limit;
        let sleep = self
            .stall
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client stopped reading",
        )))
    }

    fn progressed<T>(
        &mut self,
        r: Poll<io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<T>> {
        match r {
            Poll::Ready(r) => {
                self.stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => self.stalled(cx),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        self.progressed(r, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.progressed(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_shutdown(cx);
        self.progressed(r, cx)
    }
}
