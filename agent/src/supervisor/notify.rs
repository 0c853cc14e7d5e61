//! The notify socket: what Node apps say over IPC, any app can say over a
//! datagram socket, sd_notify style. Apps find its path in
//! `PMR_NOTIFY_SOCKET` (and in `NOTIFY_SOCKET`, so libraries written for
//! systemd work unchanged). Each datagram holds `KEY=VALUE` lines:
//!
//! - `READY=1`: the app is ready (`wait_ready`, reload);
//! - `STATUS=<text>`: a free-form status, shown as the `status` metric;
//! - `METRIC=<name>=<value>[ <unit>]`: a custom metric, as @pm2/io's.
//!
//! The sender is known from its credentials (`SO_PASSCRED`): the instance
//! whose process, or one of whose descendants, sent it.

use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use nix::sys::socket::{
    ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg, setsockopt, sockopt,
};
use serde_json::{Value, json};
use tokio::io::Interest;
use tokio::net::UnixDatagram;
use tokio::sync::watch;

use pmr_shared::sync::Locked;

use super::ipc::{AppIo, READY, Readiness};

/// Largest datagram read; longer ones are cut.
const MAX_DATAGRAM: usize = 16 * 1024;
/// How far up the parent chain a sender is looked for.
const MAX_DEPTH: usize = 16;

/// Datagrams from unknown pids kept for a moment: a fast app may notify
/// before the daemon has registered its new pid.
const MAX_PENDING: usize = 64;
/// How long an unclaimed datagram waits for its pid to be registered.
const PENDING_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// The socket's path, set once it listens.
static PATH: OnceLock<PathBuf> = OnceLock::new();
/// Running children by pid (where their readiness and metrics go), and
/// datagrams not yet claimed.
static TARGETS: Mutex<Option<Targets>> = Mutex::new(None);

/// The registered children and the datagrams that came before them.
#[derive(Default)]
struct Targets {
    /// Where each running child's datagrams go, by its pid.
    by_pid: HashMap<u32, Target>,
    /// Datagrams from pids not registered yet: (when, pid, text), oldest first.
    pending: std::collections::VecDeque<(std::time::Instant, u32, String)>,
    /// Counts registrations, so an old guard cannot drop a newer one.
    generation: u64,
}

/// Where one child's readiness and metrics go; `generation` tells a
/// registration from a later one for a reused pid.
#[derive(Clone)]
struct Target {
    /// Raised by `READY=1`.
    ready: watch::Sender<Readiness>,
    /// Where metrics set over the socket go.
    io: Arc<Mutex<AppIo>>,
    /// The registration this target came from.
    generation: u64,
}

/// The socket's path once it listens (for the apps' environment).
pub fn path() -> Option<&'static Path> {
    PATH.get().map(PathBuf::as_path)
}

/// Registers a running child; dropping the guard unregisters it (unless
/// its pid has since been reused by a newer registration).
pub struct Registration(u32, u64);

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(t) = TARGETS.locked().as_mut()
            && t.by_pid
                .get(&self.0)
                .is_some_and(|x| x.generation == self.1)
        {
            t.by_pid.remove(&self.0);
        }
    }
}

/// Makes `pid`'s notifications reach `ready` and `io`, including any it
/// sent before this call.
pub fn register(pid: u32, ready: watch::Sender<Readiness>, io: Arc<Mutex<AppIo>>) -> Registration {
    let mut guard = TARGETS.locked();
    let t = guard.get_or_insert_with(Targets::default);
    t.generation += 1;
    let target = Target {
        ready,
        io,
        generation: t.generation,
    };
    t.by_pid.insert(pid, target.clone());
    let early: Vec<String> = t
        .pending
        .iter()
        .filter(|(_, p, _)| *p == pid)
        .map(|(_, _, text)| text.clone())
        .collect();
    t.pending.retain(|(_, p, _)| *p != pid);
    let generation = t.generation;
    drop(guard);
    for text in early {
        apply(&text, &target);
    }
    Registration(pid, generation)
}

/// Binds `path` (or takes the socket the last daemon left with the
/// keeper, messages sent meanwhile queued in it) and serves it for the life
/// of the process.
pub fn start(path: &Path, inherited: Option<std::os::fd::OwnedFd>) -> std::io::Result<()> {
    let sock = match inherited {
        Some(fd) => {
            let sock = std::os::unix::net::UnixDatagram::from(fd);
            sock.set_nonblocking(true)?;
            UnixDatagram::from_std(sock)?
        }
        None => {
            let _ = std::fs::remove_file(path);
            let sock = UnixDatagram::bind(path)?;
            // Parked for good: the next daemon takes it over.
            std::mem::forget(crate::keeper::link::park(
                "notify".into(),
                &[sock.as_raw_fd()],
            ));
            sock
        }
    };
    setsockopt(&sock, sockopt::PassCred, &true)?;
    let _ = PATH.set(path.to_path_buf());
    tokio::spawn(serve(sock));
    Ok(())
}

/// Reads datagrams for the daemon's lifetime, checks the sender's
/// credentials and hands each to its child (or keeps it pending).
async fn serve(sock: UnixDatagram) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        if sock.readable().await.is_err() {
            return;
        }
        let got = sock.try_io(Interest::READABLE, || {
            let mut iov = [std::io::IoSliceMut::new(&mut buf)];
            let mut space = nix::cmsg_space!(UnixCredentials);
            let msg = recvmsg::<()>(
                sock.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_DONTWAIT,
            )
            .map_err(std::io::Error::from)?;
            let pid = msg
                .cmsgs()
                .ok()
                .into_iter()
                .flatten()
                .find_map(|c| match c {
                    ControlMessageOwned::ScmCredentials(cred) => Some(cred.pid() as u32),
                    _ => None,
                });
            Ok((msg.bytes, pid))
        });
        match got {
            Ok((n, Some(pid))) => {
                let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                match find(pid) {
                    Some(t) => apply(&text, &t),
                    None => keep_pending(pid, text),
                }
            }
            Ok((_, None)) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => tracing::warn!("notify socket: {e}"),
        }
    }
}

/// Holds a datagram from a pid pmr does not know (yet), for a moment.
fn keep_pending(pid: u32, text: String) {
    let mut guard = TARGETS.locked();
    let t = guard.get_or_insert_with(Targets::default);
    let now = std::time::Instant::now();
    while t
        .pending
        .front()
        .is_some_and(|(at, _, _)| now.duration_since(*at) > PENDING_FOR)
        || t.pending.len() >= MAX_PENDING
    {
        t.pending.pop_front();
    }
    t.pending.push_back((now, pid, text));
}

/// The instance `pid` belongs to: itself, or its nearest managed ancestor.
fn find(pid: u32) -> Option<Target> {
    let targets = TARGETS.locked();
    let map = &targets.as_ref()?.by_pid;
    let mut p = pid;
    for _ in 0..MAX_DEPTH {
        if let Some(t) = map.get(&p) {
            return Some(t.clone());
        }
        p = parent(p)?;
    }
    None
}

/// The parent of `pid`, from `/proc` (none above init).
fn parent(pid: u32) -> Option<u32> {
    crate::procfs::stat_field(&crate::procfs::read_stat(pid)?, 4)?
        .parse()
        .ok()
        .filter(|p| *p > 1)
}

/// Applies one datagram's `KEY=value` lines: `READY=1`, `STATUS=…` and metrics.
fn apply(text: &str, t: &Target) {
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        match key.trim() {
            "READY" if value.trim() == "1" => {
                t.ready
                    .send_if_modified(|r| std::mem::replace(r, READY) != READY);
            }
            "STATUS" => set_metric(t, "status", json!(value.trim()), ""),
            "METRIC" => {
                let Some((name, rest)) = value.split_once('=') else {
                    continue;
                };
                let (val, unit) = rest.trim().split_once(' ').unwrap_or((rest.trim(), ""));
                let v = val
                    .parse::<f64>()
                    .ok()
                    .and_then(|f| serde_json::Number::from_f64(f).map(Value::Number))
                    .unwrap_or_else(|| json!(val));
                set_metric(t, name.trim(), v, unit.trim());
            }
            _ => {}
        }
    }
}

/// Records a metric, bounded: names up to 128 bytes, 256 metrics per app.
fn set_metric(t: &Target, name: &str, value: Value, unit: &str) {
    if name.is_empty() || name.len() > 128 {
        return;
    }
    let mut io = t.io.locked();
    if io.monitor.len() >= 256 && !io.monitor.contains_key(name) {
        return;
    }
    io.monitor.insert(
        name.to_string(),
        json!({ "value": value, "unit": unit, "type": "notify", "historic": true }),
    );
}
