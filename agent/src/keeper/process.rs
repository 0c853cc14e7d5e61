//! The keeper's one loop: a signalfd for its children and signals, the
//! daemon's socket, and two deadlines (a restart back-off, a health check).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::unistd::Pid;

use super::wire::{self, Msg};
use crate::paths::Paths;

/// Reaped exits kept for the next daemon; beyond this the oldest go.
pub(super) const MAX_EXITS: usize = 65_536;
/// How long a daemon started by `pmr update` has to take over.
pub(super) const HEALTH_LIMIT: Duration = Duration::from_secs(30);
/// A daemon that served this long after taking over restarts at once if
/// it dies; one that dies sooner (or before it is ready) waits, longer
/// each time, so a crash loop does not spin.
pub(super) const STABLE: Duration = Duration::from_secs(1);
/// The longest wait before restarting a daemon that keeps dying (below
/// the CLI's 10 s wait for an answer).
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What to do when the daemon exits.
pub(super) enum Then {
    /// It crashed: start another.
    Restart,
    /// `pmr kill` or SIGTERM: exit too.
    Exit,
    /// `pmr update`: start this binary.
    Handover(String),
}

/// The keeper's state: the daemon it watches, what it holds for it, and
/// when to start it again.
pub(super) struct Keeper {
    /// The home it keeps a daemon for (socket, pid file, logs).
    pub(super) paths: Paths,
    /// The binary of the last daemon that proved healthy, held open so
    /// that replacing the file on disk cannot take the way back away.
    pub(super) good: File,
    /// Descriptors the daemon parked (app pipes, IPC channels), by key,
    /// handed to the next daemon so no output is lost.
    pub(super) parked: BTreeMap<String, Vec<OwnedFd>>,
    /// Exits of adopted apps reaped while no daemon could hear them:
    /// (pid, wait status), for the next daemon.
    pub(super) exits: Vec<(u32, i32)>,
    /// The daemon running now, if any.
    pub(super) daemon: Option<Daemon>,
    /// The next wait before restarting a daemon that died young.
    pub(super) backoff: Duration,
    /// When the next daemon starts, while waiting out the back-off.
    pub(super) restart_at: Option<Instant>,
}

/// The daemon process the keeper watches, and what it said about itself.
pub(super) struct Daemon {
    /// Its pid (the keeper's child).
    pub(super) pid: Pid,
    /// The keeper's end of its socket; `None` once it closed.
    pub(super) sock: Option<OwnedFd>,
    /// What its exit means, as it last said.
    pub(super) then: Then,
    /// Set for a daemon started by `pmr update`, until it says `Ready`.
    pub(super) on_probation: Option<(Instant, String)>,
    /// When it said `Ready`.
    pub(super) ready: Option<Instant>,
}

/// Runs the keeper until its daemon exits cleanly. Prints nothing itself:
/// the first daemon inherits its stdout and prints the ready line.
pub fn run(paths: Paths) -> anyhow::Result<()> {
    let _ = nix::unistd::setsid();
    std::fs::create_dir_all(&paths.home)
        .with_context(|| format!("cannot create {}", paths.home.display()))?;
    let lock_path = paths.home.join("keeper.pid");
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    let mut lock = match lock_or_wait(&paths, file) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            println!("{}", super::ALREADY_RUNNING);
            return Ok(());
        }
        Err(e) => {
            println!("error: {e:#}");
            return Err(e);
        }
    };
    lock.set_len(0)?;
    write!(lock, "{}", std::process::id())?;
    nix::sys::prctl::set_child_subreaper(true)?;
    let mut mask = SigSet::empty();
    for s in [
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGHUP,
    ] {
        mask.add(s);
    }
    mask.thread_block()?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK)?;
    let mut k = Keeper {
        good: File::open("/proc/self/exe").context("cannot open the pmr binary")?,
        paths,
        parked: BTreeMap::new(),
        exits: Vec::new(),
        daemon: None,
        backoff: Duration::ZERO,
        restart_at: None,
    };
    let exe = format!("/proc/self/fd/{}", k.good.as_raw_fd());
    k.spawn(&exe, true)?;
    // Later daemons print nowhere: only the CLI that started us reads this.
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
    while k.daemon.is_some() || k.restart_at.is_some() {
        k.turn(&signals);
    }
    let _ = lock.set_len(0);
    Ok(())
}

/// How long a keeper that lost the race to start waits for the winner's
/// daemon to answer.
const WINNER_WAIT: Duration = Duration::from_secs(30);

/// Takes the keeper lock, or, when another keeper holds it (several CLIs
/// started a daemon at once), waits until that keeper's daemon answers on
/// the socket: `None` then, so the caller reports "running" only once a
/// client can be served. A winner that dies meanwhile leaves the lock to us.
fn lock_or_wait(paths: &Paths, mut file: File) -> anyhow::Result<Option<Flock<File>>> {
    let start = Instant::now();
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Some(lock)),
            Err((f, _)) => file = f,
        }
        if std::os::unix::net::UnixStream::connect(paths.socket()).is_ok() {
            return Ok(None);
        }
        if start.elapsed() >= WINNER_WAIT {
            let mut pid = String::new();
            let _ = std::io::Read::read_to_string(&mut file, &mut pid);
            anyhow::bail!(
                "another keeper (pid {}) holds {} but its daemon did not answer on {} within {} s",
                pid.trim(),
                paths.home.join("keeper.pid").display(),
                paths.socket().display(),
                WINNER_WAIT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Keeper {
    /// Waits for one thing to happen, and handles it.
    fn turn(&mut self, signals: &SignalFd) {
        let now = Instant::now();
        let deadline = [
            self.restart_at,
            self.daemon
                .as_ref()
                .and_then(|d| d.on_probation.as_ref().map(|p| p.0)),
        ]
        .into_iter()
        .flatten()
        .min();
        let timeout = deadline.map_or(-1, |d| {
            d.saturating_duration_since(now).as_millis().min(60_000) as i32
        });
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        let sock = self.daemon.as_ref().and_then(|d| d.sock.as_ref());
        let mut fds = vec![PollFd::new(signals.as_fd(), PollFlags::POLLIN)];
        if let Some(s) = sock {
            fds.push(PollFd::new(s.as_fd(), PollFlags::POLLIN));
        }
        let _ = poll(
            &mut fds,
            PollTimeout::try_from(timeout).unwrap_or(PollTimeout::NONE),
        );
        let woke = |f: &PollFd<'_>| f.revents().is_some_and(|r| !r.is_empty());
        let (from_signals, from_daemon) = (woke(&fds[0]), fds.get(1).is_some_and(woke));
        drop(fds);
        if from_daemon {
            self.read_daemon();
        }
        if from_signals {
            while let Ok(Some(info)) = signals.read_signal() {
                self.on_signal(info.ssi_signo as i32);
            }
        }
        let now = Instant::now();
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            let exe = format!("/proc/self/fd/{}", self.good.as_raw_fd());
            if let Err(e) = self.spawn(&exe, false) {
                self.say(&format!("cannot restart the daemon: {e:#}"));
                self.restart_at = Some(now + MAX_BACKOFF);
            }
        }
        if let Some(d) = &self.daemon
            && let Some((by, exe)) = &d.on_probation
            && *by <= now
        {
            let why = format!(
                "{exe} did not take over within {} s",
                HEALTH_LIMIT.as_secs()
            );
            self.say(&why);
            let _ = kill(d.pid, Signal::SIGKILL);
        }
    }

    /// Reads every message the daemon sent.
    fn read_daemon(&mut self) {
        loop {
            let Some(d) = self.daemon.as_mut() else {
                return;
            };
            let Some(sock) = d.sock.as_ref() else { return };
            let got = wire::recv(sock.as_fd(), true);
            let (msg, fds) = match got {
                Ok(Some(m)) => m,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.say(&format!("ignored: {e}"));
                    continue;
                }
                // The daemon is gone (or going); its exit is reaped below.
                Ok(None) | Err(_) => {
                    d.sock = None;
                    return;
                }
            };
            match msg {
                Msg::Hello { .. } => self.greet(),
                Msg::Park { key } => {
                    self.parked.insert(key, fds);
                }
                Msg::Unpark { key } => {
                    self.parked.remove(&key);
                }
                Msg::Ready => {
                    d.ready = Some(Instant::now());
                    if let Some((_, exe)) = d.on_probation.take() {
                        match File::open(&exe) {
                            Ok(f) => self.good = f,
                            Err(e) => self.say(&format!("cannot keep {exe} open: {e}")),
                        }
                    }
                }
                Msg::Bye => d.then = Then::Exit,
                Msg::Handover { exe } => d.then = Then::Handover(exe),
                Msg::Parked { .. } | Msg::Exited { .. } | Msg::End => {}
            }
        }
    }

    /// Answers a daemon's hello: the version, then all it must take over.
    pub(super) fn greet(&mut self) {
        let Some(sock) = self.daemon.as_ref().and_then(|d| d.sock.as_ref()) else {
            return;
        };
        let sock = sock.as_fd();
        let mut sent = wire::send(sock, &Msg::Hello { v: wire::VERSION }, &[]);
        for (key, fds) in &self.parked {
            let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
            sent = sent.and_then(|()| wire::send(sock, &Msg::Parked { key: key.clone() }, &raw));
        }
        for &(pid, status) in &self.exits {
            sent = sent.and_then(|()| wire::send(sock, &Msg::Exited { pid, status }, &[]));
        }
        if sent.and_then(|()| wire::send(sock, &Msg::End, &[])).is_ok() {
            self.exits.clear();
        }
    }

    /// One line in the daemon's log, opened for each line: the daemon
    /// rotates that file, and the keeper speaks rarely.
    pub(super) fn say(&self, what: &str) {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6fZ");
        let line = format!("{now} keeper: {what}\n");
        let log = File::options()
            .append(true)
            .create(true)
            .open(self.paths.daemon_log());
        if log.and_then(|mut f| f.write_all(line.as_bytes())).is_err() {
            eprint!("{line}");
        }
    }
}
