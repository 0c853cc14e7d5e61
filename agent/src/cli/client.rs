//! The CLI's side of the socket: find or start the daemon, check its
//! version, send requests. Blocking I/O: one CLI call is one short exchange.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use pmr_shared::ipc::{MAX_FRAME, Request, Response};
use pmr_shared::{PROTOCOL_VERSION, VERSION};

use crate::daemon::{ALREADY_RUNNING, READY};
use crate::paths::Paths;

/// The daemon answered with another protocol version.
#[derive(Debug)]
pub(crate) struct Mismatch {
    /// Its release version.
    pub version: String,
    /// Its protocol version.
    pub protocol: u32,
    /// Its pid.
    pub pid: u32,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the running pmr daemon (pid {}) is version {} (protocol {}), this pmr is version {} (protocol {}): run `pmr update` to restart the daemon with this version",
            self.pid, self.version, self.protocol, VERSION, PROTOCOL_VERSION
        )
    }
}

impl std::error::Error for Mismatch {}

/// A connection to the daemon, past the version check.
pub(crate) struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
    /// The daemon's pid, from its hello.
    pub(crate) daemon_pid: u32,
    buf: Vec<u8>,
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
        let mut client = Client {
            reader: BufReader::new(stream),
            writer,
            daemon_pid: 0,
            buf: Vec::new(),
        };
        client.send(&Request::Hello {
            protocol: PROTOCOL_VERSION,
            version: VERSION.into(),
        })?;
        // Read the hello loosely: a daemon of another version may add fields.
        let hello: serde_json::Value = client
            .read_value()?
            .context("the daemon closed the connection")?;
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

    fn send(&mut self, req: &Request) -> anyhow::Result<()> {
        let mut bytes = serde_json::to_vec(req)?;
        bytes.push(b'\n');
        self.writer
            .write_all(&bytes)
            .context("cannot talk to the daemon")
    }

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
    pub(crate) fn request(&mut self, req: &Request) -> anyhow::Result<Response> {
        self.send(req)?;
        match self.next()? {
            Some(Response::Error { message }) => bail!(message),
            Some(r) => Ok(r),
            None => bail!("the daemon closed the connection"),
        }
    }

    /// The next frame of a stream; `None` when the daemon hangs up.
    pub(crate) fn next(&mut self) -> anyhow::Result<Option<Response>> {
        self.read_value()
    }
}

/// Starts a daemon for `paths` in the background and waits until it is ready.
pub(crate) fn start_daemon(paths: &Paths) -> anyhow::Result<()> {
    std::fs::create_dir_all(&paths.home)
        .with_context(|| format!("cannot create {}", paths.home.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.daemon_log())
        .with_context(|| format!("cannot open {}", paths.daemon_log().display()))?;
    let exe = std::env::current_exe().context("cannot find the pmr executable")?;
    let mut child = std::process::Command::new(exe)
        .arg("daemon")
        .env("PMR_HOME", &paths.home)
        .current_dir(&paths.home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("cannot start the pmr daemon")?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    match line.trim() {
        READY | ALREADY_RUNNING => Ok(()),
        "" => bail!(
            "the daemon exited before it was ready; see {}",
            paths.daemon_log().display()
        ),
        other => bail!(
            "the daemon could not start: {}",
            other.strip_prefix("error: ").unwrap_or(other)
        ),
    }
}

/// Waits (bounded) until process `pid` is gone.
pub(crate) fn wait_gone(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// True while `pid` exists and is not a zombie waiting to be reaped.
pub(crate) fn alive(pid: u32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    match crate::procfs::read_stat(pid) {
        Some(stat) => crate::procfs::stat_field(&stat, 3) != Some("Z"),
        None => false,
    }
}
