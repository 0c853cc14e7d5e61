//! The CLI's side of the socket: find or start the daemon, check its
//! version, send requests. Blocking I/O: one CLI call is one short exchange.
//!
//! Failures the commands branch on are typed ([`Mismatch`], [`NoAnswer`],
//! [`Refused`]) and travel inside `anyhow::Error`; a command finds them with
//! `downcast_ref` (or [`refused_as`]), never by reading the message.

mod errors;
mod process;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use anyhow::{Context, bail};
use pmr_shared::ipc::{MAX_FRAME, Request, Response};
use pmr_shared::{PROTOCOL_VERSION, VERSION};

use crate::paths::Paths;
use errors::is_replaced;
pub(crate) use errors::{Mismatch, NoAnswer, Refused, refused_as_or_said};
pub(crate) use process::{start_daemon, wait_gone};

/// A connection to the daemon, past the version check.
pub(crate) struct Client {
    /// Replies, one JSON line each.
    reader: BufReader<UnixStream>,
    /// Requests; a clone of the same socket.
    writer: UnixStream,
    /// The daemon's pid, from its hello.
    pub(crate) daemon_pid: u32,
    /// The line being read, reused across replies.
    buf: Vec<u8>,
    /// The daemon's log, named in errors.
    log: std::path::PathBuf,
    /// Where to connect again when the daemon is being replaced.
    paths: Paths,
}

/// How long the daemon may take to greet a new connection (at most 10 s):
/// a daemon that cannot accept (out of file descriptors) must not hang the CLI.
fn hello_wait() -> Duration {
    request_wait().min(Duration::from_secs(10))
}

/// How long a request may take (`PMR_CLI_TIMEOUT` seconds, default 300: a
/// reload of a large cluster waits for each new instance in turn).
fn request_wait() -> Duration {
    let secs = std::env::var("PMR_CLI_TIMEOUT")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .unwrap_or(300);
    Duration::from_secs(secs)
}

impl Client {
    /// Connects, starting the daemon first if none runs.
    pub(crate) fn connect_or_start(paths: &Paths) -> anyhow::Result<Client> {
        if let Some(c) = Self::connect(paths)? {
            return Ok(c);
        }
        start_daemon(paths)?;
        Self::connect(paths)?.with_context(|| {
            format!(
                "the daemon started but {} does not answer",
                paths.socket().display()
            )
        })
    }

    /// Connects to a running daemon; `None` when there is none.
    pub(crate) fn connect(paths: &Paths) -> anyhow::Result<Option<Client>> {
        let stream = match UnixStream::connect(paths.socket()) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(e).context(format!("cannot connect to {}", paths.socket().display()));
            }
        };
        let writer = stream.try_clone()?;
        stream.set_read_timeout(Some(hello_wait()))?;
        writer.set_write_timeout(Some(request_wait()))?;
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
            daemon_pid: 0,
            buf: Vec::new(),
            log: paths.daemon_log(),
            paths: paths.clone(),
        };
        // A daemon that dies as we connect (killed, or handing over) resets
        // the connection: that is no daemon, not an error.
        let reset = |k: std::io::ErrorKind| {
            matches!(
                k,
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            )
        };
        let dying = |e: &anyhow::Error| {
            e.downcast_ref::<std::io::Error>()
                .is_some_and(|e| reset(e.kind()))
        };
        let hello = Request::Hello {
            protocol: PROTOCOL_VERSION,
            version: VERSION.into(),
        };
        let mut bytes = serde_json::to_vec(&hello)?;
        bytes.push(b'\n');
        match client.writer.write_all(&bytes) {
            Err(e) if reset(e.kind()) => return Ok(None),
            Err(e) => return Err(client.lost(e.into(), hello_wait())),
            Ok(()) => {}
        }
        // Read the hello loosely: a daemon of another version may add fields.
        let hello: serde_json::Value = match client.read_value() {
            Ok(Some(h)) => h,
            Ok(None) => return Ok(None),
            Err(e) if dying(&e) => return Ok(None),
            Err(e) => return Err(client.lost(e, hello_wait())),
        };
        if hello.get("reply").and_then(|r| r.as_str()) == Some("error") {
            let why = hello
                .get("message")
                .and_then(|m| m.as_str())
                .unwrap_or("refused");
            bail!("{why}");
        }
        let protocol = hello.get("protocol").and_then(|p| p.as_u64()).unwrap_or(0) as u32;
        let pid = hello.get("pid").and_then(|p| p.as_u64()).unwrap_or(0) as u32;
        if protocol != PROTOCOL_VERSION {
            let version = hello
                .get("version")
                .and_then(|v| v.as_str())
                .unwrap_or("unknown")
                .to_string();
            return Err(Mismatch {
                version,
                protocol,
                pid,
            }
            .into());
        }
        client.daemon_pid = pid;
        Ok(Some(client))
    }

    /// Writes one request as a JSON line. An oversized one is refused here,
    /// with advice, rather than cut off by the daemon's frame limit.
    fn send(&mut self, req: &Request) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec(req)?;
        bytes.push(b'\n');
        if bytes.len() > MAX_FRAME {
            bail!(
                "this request is {:.1} MiB, over the {} MiB a request may be; nothing was sent. \
                 Each app carries its environment: start the apps in smaller groups, or leave \
                 variables out with filter_env",
                bytes.len() as f64 / 1048576.0,
                MAX_FRAME / 1048576
            );
        }
        let written = self.writer.write_all(&bytes);
        written.map_err(|e| self.lost(e.into(), request_wait()))
    }

    /// A failed exchange as the user should read it: never an `io::Error`
    /// (which `main` would take for a closed stdout), always what happened
    /// and where to look.
    fn lost(&self, e: anyhow::Error, waited: Duration) -> anyhow::Error {
        let kind = e.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        match kind {
            Some(std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => NoAnswer {
                waited,
                log: self.log.clone(),
            }
            .into(),
            Some(_) => anyhow::anyhow!(
                "lost the connection to the daemon: {e:#}; see {}",
                self.log.display()
            ),
            None => e,
        }
    }

    /// Reads one JSON line, never more than the frame limit; `None` when the
    /// daemon hung up between frames.
    fn read_value<T: serde::de::DeserializeOwned>(&mut self) -> anyhow::Result<Option<T>> {
        self.buf.clear();
        let n = (&mut self.reader)
            .take(MAX_FRAME as u64 + 1)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        if self.buf.last() != Some(&b'\n') {
            bail!("the daemon sent a truncated or oversized reply");
        }
        Ok(Some(
            serde_json::from_slice(&self.buf).context("the daemon sent a malformed reply")?,
        ))
    }

    /// Sends a request and reads its one reply; a daemon-side error becomes `Err`.
    /// A daemon being replaced (`pmr update`) refuses the request before
    /// doing anything, or has exited without reading it (it answers what it
    /// took before it leaves): either way the request is sent once more, to
    /// the new daemon.
    pub(crate) fn request(&mut self, req: &Request) -> anyhow::Result<Response> {
        let reply = self.exchange(req);
        let replaced = match &reply {
            Ok(Some(Response::Error { kind, message })) => is_replaced(*kind, message),
            Ok(None) | Err(_) => {
                self.daemon_pid != 0 && wait_gone(self.daemon_pid, Duration::from_secs(2))
            }
            Ok(Some(_)) => false,
        };
        let reply = if replaced && self.reconnect() {
            self.exchange(req)?
        } else {
            reply?
        };
        match reply {
            Some(Response::Error { kind, message }) => Err(Refused { kind, message }.into()),
            Some(r) => Ok(r),
            None => bail!("the daemon closed the connection"),
        }
    }

    /// After a stream (`logs`, `monit`) ended: if its daemon was replaced
    /// (`pmr update`, or the keeper replacing a crashed one), subscribes
    /// with `req` again, to the new daemon. False when the daemon is gone
    /// for good (`pmr kill`) or still runs (it ended the stream itself).
    pub(crate) fn resubscribe(&mut self, req: &Request) -> bool {
        let old = self.daemon_pid;
        old != 0
            && wait_gone(old, Duration::from_secs(2))
            && self.reconnect()
            && self.daemon_pid != old
            && self.request(req).is_ok()
    }

    /// Connects to the daemon that replaced this one; false if none came.
    fn reconnect(&mut self) -> bool {
        let paths = self.paths.clone();
        match Self::connect(&paths) {
            Ok(Some(c)) => {
                *self = c;
                true
            }
            _ => false,
        }
    }

    /// One request and its reply, waiting at most `PMR_CLI_TIMEOUT` (300 s
    /// by default) for it; no retry, which is [`Self::request`]'s to decide.
    fn exchange(&mut self, req: &Request) -> anyhow::Result<Option<Response>> {
        self.send(req)?;
        let wait = request_wait();
        self.reader.get_ref().set_read_timeout(Some(wait))?;
        self.read_value().map_err(|e| self.lost(e, wait))
    }

    /// The next frame of a stream (which may be quiet for long); `None`
    /// when the daemon hangs up.
    pub(crate) fn next(&mut self) -> anyhow::Result<Option<Response>> {
        self.reader.get_ref().set_read_timeout(None)?;
        self.read_value().map_err(|e| self.lost(e, Duration::ZERO))
    }
}
