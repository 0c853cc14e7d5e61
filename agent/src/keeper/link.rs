//! The daemon's side of the keeper socket: what the last daemon left to
//! take over, descriptors to park while an app runs, and the exit status of
//! adopted apps (which the keeper, not the daemon, reaps).

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use tokio::sync::oneshot;

use pmr_shared::sync::Locked;

use super::wire::{self, Msg, VERSION};

/// The daemon's connection to its keeper.
struct Link {
    /// The daemon's end of the keeper socket.
    sock: OwnedFd,
    /// Adopted apps waiting for their exit status, by pid. Registered
    /// before [`listen`] reads the socket, so no report comes too early;
    /// one for any other pid (an orphan an app left) is dropped.
    waiting: Mutex<HashMap<u32, oneshot::Sender<i32>>>,
}

/// Set once at start when a keeper runs; without it parking is a no-op.
static LINK: OnceLock<Link> = OnceLock::new();
/// Set once the daemon hands over or crashes on purpose: what is parked
/// stays parked, whatever the daemon's own clean-up does.
static LEAVING: AtomicBool = AtomicBool::new(false);

/// What the keeper held when this daemon started.
#[derive(Default)]
pub struct Inherited {
    /// Descriptors by key (`rpc`, `notify`, `app:<id>:<pid>`, `bind:...`).
    pub parked: HashMap<String, Vec<OwnedFd>>,
    /// Raw wait statuses of apps that ended while no daemon ran, by pid.
    pub exited: HashMap<u32, i32>,
}

impl Inherited {
    /// The one descriptor parked under `key`.
    pub fn take_one(&mut self, key: &str) -> Option<OwnedFd> {
        self.parked.remove(key)?.into_iter().next()
    }
}

/// Connects to the keeper that started this daemon (none: `Ok(None)`) and
/// receives what it holds. Blocking; called before the runtime starts.
#[allow(unsafe_code)]
pub fn connect() -> io::Result<Option<Inherited>> {
    let Some(fd) = std::env::var(super::FD_VAR)
        .ok()
        .and_then(|v| v.parse::<RawFd>().ok())
    else {
        return Ok(None);
    };
    // SAFETY: the keeper passed this descriptor to this process alone, and
    // nothing else in it knows the number.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // Not for the apps.
    nix::fcntl::fcntl(
        &sock,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )?;
    wire::send(sock.as_fd(), &Msg::Hello { v: VERSION }, &[])?;
    let mut got = Inherited::default();
    loop {
        match wire::recv(sock.as_fd(), false)? {
            None => return Err(io::Error::other("the keeper hung up")),
            Some((Msg::Hello { v }, _)) if v != VERSION => {
                return Err(io::Error::other(format!(
                    "the keeper speaks hand-over version {v}, this daemon {VERSION}"
                )));
            }
            Some((Msg::Parked { key }, fds)) => {
                got.parked.insert(key, fds);
            }
            Some((Msg::Exited { pid, status }, _)) => {
                got.exited.insert(pid, status);
            }
            Some((Msg::End, _)) => break,
            Some(_) => {}
        }
    }
    nix::fcntl::fcntl(
        &sock,
        nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
    )?;
    let _ = LINK.set(Link {
        sock,
        waiting: Mutex::default(),
    });
    Ok(Some(got))
}

/// Whether a keeper holds this daemon's apps (not under `pmr-runtime`).
pub fn active() -> bool {
    LINK.get().is_some()
}

/// Sends `msg` (and `fds`) to the keeper; a failure is logged, not fatal.
fn send(msg: &Msg, fds: &[RawFd]) {
    if let Some(l) = LINK.get()
        && let Err(e) = wire::send(l.sock.as_fd(), msg, fds)
    {
        tracing::error!("keeper: cannot send {msg:?}: {e}");
    }
}

/// Descriptors parked under a key while their owner lives; dropping it
/// closes the keeper's copies.
#[derive(Debug)]
pub struct Parked(String);

impl Drop for Parked {
    fn drop(&mut self) {
        if !LEAVING.load(Ordering::Relaxed) {
            send(
                &Msg::Unpark {
                    key: self.0.clone(),
                },
                &[],
            );
        }
    }
}

/// Parks copies of `fds` under `key`; `None` without a keeper.
pub fn park(key: String, fds: &[RawFd]) -> Option<Parked> {
    LINK.get()?;
    send(&Msg::Park { key: key.clone() }, fds);
    Some(Parked(key))
}

/// Takes charge of what the keeper holds under `key` (parked by an earlier
/// daemon): it is released when the guard drops.
pub fn claim(key: String) -> Option<Parked> {
    LINK.get()?;
    Some(Parked(key))
}

/// The raw wait status of adopted process `pid`, once the keeper reaps it.
pub fn exit_of(pid: u32) -> oneshot::Receiver<i32> {
    let (tx, rx) = oneshot::channel();
    if let Some(l) = LINK.get() {
        l.waiting.locked().insert(pid, tx);
    }
    rx
}

/// Routes the keeper's exit reports to the adopted apps' tasks.
pub async fn listen() {
    let Some(l) = LINK.get() else { return };
    // A datagram socket to tokio: readiness is all it is used for.
    let Ok(dup) = l.sock.try_clone() else { return };
    let std = std::os::unix::net::UnixDatagram::from(dup);
    let Ok(fd) = tokio::net::UnixDatagram::from_std(std) else {
        return;
    };
    loop {
        if fd.readable().await.is_err() {
            return;
        }
        let got = fd.try_io(tokio::io::Interest::READABLE, || {
            wire::recv(fd.as_fd(), true)
        });
        match got {
            Ok(Some((Msg::Exited { pid, status }, _))) => {
                let tx = l.waiting.locked().remove(&pid);
                if let Some(tx) = tx {
                    let _ = tx.send(status);
                }
            }
            Ok(Some(_)) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Ok(None) | Err(_) => {
                tracing::error!(
                    "keeper: the keeper socket closed; apps no longer outlive this daemon"
                );
                return;
            }
        }
    }
}

/// Tells the keeper this daemon has taken over and answers clients.
pub fn ready() {
    send(&Msg::Ready, &[]);
}

/// Tells the keeper this daemon exits cleanly (its apps are stopped).
pub fn bye() {
    send(&Msg::Bye, &[]);
}

/// Tells the keeper to start `exe` once this daemon exits; nothing parked
/// is released from here on.
pub fn handover(exe: &str) {
    LEAVING.store(true, Ordering::Relaxed);
    send(&Msg::Handover { exe: exe.into() }, &[]);
}
