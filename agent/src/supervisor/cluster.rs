//! Cluster mode: the instances of an app share the ports they listen on.
//!
//! The daemon binds `PORT` once and passes the socket to each instance
//! as fd 3 with `LISTEN_FDS=1` and `LISTEN_PID` (systemd's socket-activation
//! convention), so the kernel spreads connections over the instances that
//! accept. Node apps need no change: a `--require` preload makes
//! `listen(PORT)` take the inherited socket, and asks the daemon over the
//! IPC channel for any other port the app listens on (bound here on demand,
//! shared by every instance and app that asks, as Node's cluster module
//! does). A socket lives as long as one instance holding it runs, so a
//! reload (new instance up before the old one stops) never closes it.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Mutex, Weak};

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, listen, setsockopt,
    socket, sockopt,
};
use pmr_shared::app::AppSpec;
use pmr_shared::sync::Locked;

/// The fd an instance finds its listening socket on (`SD_LISTEN_FDS_START`).
pub const LISTEN_FD: i32 = 3;
/// Backlog of the shared socket: Node's default, so a burst during a
/// reload waits in the queue instead of being refused.
const BACKLOG: i32 = 511;

/// Sockets bound for cluster apps, by address and port; each is kept alive
/// by the instances running with it, whichever app they belong to (as
/// under Node's cluster module, two apps on one port share it).
/// Each is parked with the keeper, so that a daemon that dies leaves it
/// open for the next one.
static LISTENERS: Mutex<Vec<(Bind, Weak<Shared>)>> = Mutex::new(Vec::new());

/// A shared listening socket. The keeper's copy closes with the last
/// holder, so a port no instance uses is free at once.
#[derive(Debug)]
pub struct Shared {
    /// The listening socket, passed to each instance as fd 3.
    fd: OwnedFd,
    /// The keeper's copy, released with this socket.
    _parked: Option<crate::keeper::link::Parked>,
}

impl Shared {
    /// The socket.
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

/// What a shared socket listens on: an address (`None`: every address, on
/// both IPv6 and IPv4 where it can) and a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bind {
    /// A specific address, or every address.
    pub addr: Option<IpAddr>,
    /// The TCP port, never 0.
    pub port: u16,
}

impl Bind {
    /// Every address on `port`; `::` and `0.0.0.0` mean the same, as the
    /// preload and Node's default listen treat them.
    pub fn new(addr: Option<IpAddr>, port: u16) -> Self {
        Self {
            addr: addr.filter(|a| !a.is_unspecified()),
            port,
        }
    }

    /// Its name with the keeper: `bind:<address or *>:<port>`.
    pub fn key(&self) -> String {
        match self.addr {
            Some(a) => format!("bind:{a}:{}", self.port),
            None => format!("bind:*:{}", self.port),
        }
    }

    /// The inverse of [`Bind::key`].
    pub fn from_key(key: &str) -> Option<Self> {
        let (addr, port) = key.strip_prefix("bind:")?.rsplit_once(':')?;
        let addr = match addr {
            "*" => None,
            a => Some(a.parse().ok()?),
        };
        Some(Self::new(addr, port.parse().ok().filter(|p| *p > 0)?))
    }
}

/// The port the daemon binds for this app, if it runs in cluster mode
/// with `PORT` set (and `PORT` is not incremented per instance).
pub fn shared_port(spec: &AppSpec, env: &BTreeMap<String, String>) -> Option<u16> {
    if !shares(spec) || spec.increment_var.as_deref() == Some("PORT") {
        return None;
    }
    env.get("PORT")?.trim().parse().ok().filter(|p| *p > 0)
}

/// Whether the app's instances share the ports they listen on.
pub fn shares(spec: &AppSpec) -> bool {
    spec.exec_mode == "cluster_mode" && spec.shared_port
}

/// The socket shared on `at`: the one running instances hold, or a new one.
pub fn listener(at: Bind) -> io::Result<Arc<Shared>> {
    let mut all = LISTENERS.locked();
    all.retain(|(_, w)| w.strong_count() > 0);
    if let Some(fd) = all
        .iter()
        .find(|(b, _)| *b == at)
        .and_then(|(_, w)| w.upgrade())
    {
        return Ok(fd);
    }
    let fd = bind_port(at)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on port {}: {e}", at.port)))?;
    let parked = crate::keeper::link::park(at.key(), &[fd.as_raw_fd()]);
    let shared = Arc::new(Shared {
        fd,
        _parked: parked,
    });
    all.push((at, Arc::downgrade(&shared)));
    Ok(shared)
}

/// Takes back a socket an earlier daemon parked under `key` (from
/// [`Bind::key`]); the caller keeps it alive while instances use it.
pub fn restore(key: &str, fd: OwnedFd) -> Option<Arc<Shared>> {
    let at = Bind::from_key(key)?;
    let shared = Arc::new(Shared {
        fd,
        _parked: crate::keeper::link::claim(key.to_string()),
    });
    let mut all = LISTENERS.locked();
    all.push((at, Arc::downgrade(&shared)));
    Some(shared)
}

/// Binds the address, or `[::]:port` (dual-stack, as Node's `listen(port)`
/// does) and `0.0.0.0:port` where IPv6 is missing.
fn bind_port(at: Bind) -> io::Result<OwnedFd> {
    let flags = SockFlag::SOCK_CLOEXEC;
    let v4 = |ip: Ipv4Addr| -> io::Result<OwnedFd> {
        let fd = socket(AddressFamily::Inet, SockType::Stream, flags, None)?;
        setsockopt(&fd, sockopt::ReuseAddr, &true)?;
        bind(
            fd.as_raw_fd(),
            &SockaddrIn::from(SocketAddrV4::new(ip, at.port)),
        )?;
        Ok(fd)
    };
    let fd = match at.addr {
        Some(IpAddr::V4(ip)) => v4(ip)?,
        Some(IpAddr::V6(ip)) => {
            let fd = socket(AddressFamily::Inet6, SockType::Stream, flags, None)?;
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            bind(
                fd.as_raw_fd(),
                &SockaddrIn6::from(SocketAddrV6::new(ip, at.port, 0, 0)),
            )?;
            fd
        }
        None => match socket(AddressFamily::Inet6, SockType::Stream, flags, None) {
            Ok(fd) => {
                setsockopt(&fd, sockopt::ReuseAddr, &true)?;
                setsockopt(&fd, sockopt::Ipv6V6Only, &false)?;
                let any = SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, at.port, 0, 0);
                bind(fd.as_raw_fd(), &SockaddrIn6::from(any))?;
                fd
            }
            Err(nix::errno::Errno::EAFNOSUPPORT) => v4(Ipv4Addr::UNSPECIFIED)?,
            Err(e) => return Err(e.into()),
        },
    };
    listen(&fd, Backlog::new(BACKLOG).unwrap_or(Backlog::MAXCONN))?;
    Ok(fd)
}

/// Sends the first bytes of `line` with `fd` attached (`SCM_RIGHTS`), as
/// Node's IPC channel expects a handle; returns how many bytes went.
pub(crate) async fn send_fd(
    stream: &tokio::net::UnixStream,
    line: &[u8],
    fd: &OwnedFd,
) -> io::Result<usize> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [fd.as_raw_fd()];
    loop {
        stream.writable().await?;
        let sent = stream.try_io(tokio::io::Interest::WRITABLE, || {
            let iov = [io::IoSlice::new(line)];
            let cmsg = [ControlMessage::ScmRights(&fds)];
            sendmsg::<()>(
                stream.as_raw_fd(),
                &iov,
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            )
            .map_err(io::Error::from)
        });
        match sent {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            other => return other,
        }
    }
}

/// Gives the child being spawned these descriptors at these numbers
/// (without close-on-exec, so the app inherits them): the listening socket
/// at 3, the Node IPC channel after it.
#[allow(unsafe_code)]
pub(crate) fn pass_fds(cmd: &mut tokio::process::Command, fds: &[(&OwnedFd, i32)]) {
    let mut map = [(-1, -1); 2];
    for (slot, (fd, target)) in map.iter_mut().zip(fds) {
        *slot = (fd.as_raw_fd(), *target);
    }
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe calls (fcntl, dup2) on its own copies.
    unsafe {
        cmd.pre_exec(move || {
            let mut map = map;
            // Move every source out of the target range first, so that
            // placing one never overwrites another.
            for (src, _) in map.iter_mut().filter(|(s, _)| *s >= 0) {
                let high = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, 16);
                if high < 0 {
                    return Err(io::Error::last_os_error());
                }
                *src = high;
            }
            for (src, target) in map.iter().filter(|(s, _)| *s >= 0) {
                if libc::dup2(*src, *target) < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}
