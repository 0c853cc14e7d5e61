//! Cluster mode: every instance of an app shares one listening port.
//!
//! The daemon binds the port once and passes the socket to each instance
//! as fd 3 with `LISTEN_FDS=1` and `LISTEN_PID` (systemd's socket-activation
//! convention), so the kernel spreads connections over the instances that
//! accept. Node apps need no change: a `--require` preload makes
//! `listen(PORT)` take the inherited socket. The socket lives as long as
//! one instance of the app runs, so a reload (new instance up before the
//! old one stops) never closes it.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, SockaddrIn, SockaddrIn6, bind, listen, setsockopt,
    socket, sockopt,
};
use pmr_shared::app::AppSpec;

/// The fd an instance finds its listening socket on (`SD_LISTEN_FDS_START`).
pub const LISTEN_FD: i32 = 3;
/// Backlog of the shared socket: Node's default, so a burst during a
/// reload waits in the queue instead of being refused.
const BACKLOG: i32 = 511;

/// Sockets bound for cluster apps, by port; each is kept alive by the
/// instances running with it.
static LISTENERS: Mutex<Vec<(u16, String, Weak<OwnedFd>)>> = Mutex::new(Vec::new());
static PRELOAD: OnceLock<PathBuf> = OnceLock::new();

/// The port the daemon binds for this app, if it runs in cluster mode
/// with `PORT` set (and `PORT` is not incremented per instance).
pub fn shared_port(spec: &AppSpec, env: &BTreeMap<String, String>) -> Option<u16> {
    if spec.exec_mode != "cluster_mode"
        || !spec.shared_port
        || spec.increment_var.as_deref() == Some("PORT")
    {
        return None;
    }
    env.get("PORT")?.trim().parse().ok().filter(|p| *p > 0)
}

/// The app's listening socket: the one its running instances share, or a
/// new one. Another app already holding the port is an error naming it.
pub fn listener(app: &str, port: u16) -> io::Result<Arc<OwnedFd>> {
    let mut all = LISTENERS.lock().unwrap_or_else(|e| e.into_inner());
    all.retain(|(_, _, w)| w.strong_count() > 0);
    if let Some((_, owner, w)) = all.iter().find(|(p, _, _)| *p == port) {
        if owner != app {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("port {port} is already shared by the instances of app {owner}"),
            ));
        }
        if let Some(fd) = w.upgrade() {
            return Ok(fd);
        }
    }
    let fd = Arc::new(
        bind_port(port)
            .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on port {port}: {e}")))?,
    );
    all.push((port, app.to_string(), Arc::downgrade(&fd)));
    Ok(fd)
}

/// Binds `[::]:port` (dual-stack, as Node's `listen(port)` does), or
/// `0.0.0.0:port` where IPv6 is missing.
fn bind_port(port: u16) -> io::Result<OwnedFd> {
    let flags = SockFlag::SOCK_CLOEXEC;
    let fd = match socket(AddressFamily::Inet6, SockType::Stream, flags, None) {
        Ok(fd) => {
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            setsockopt(&fd, sockopt::Ipv6V6Only, &false)?;
            let addr = SockaddrIn6::from(std::net::SocketAddrV6::new(
                std::net::Ipv6Addr::UNSPECIFIED,
                port,
                0,
                0,
            ));
            bind(fd.as_raw_fd(), &addr)?;
            fd
        }
        Err(nix::errno::Errno::EAFNOSUPPORT) => {
            let fd = socket(AddressFamily::Inet, SockType::Stream, flags, None)?;
            setsockopt(&fd, sockopt::ReuseAddr, &true)?;
            let addr = SockaddrIn::from(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::UNSPECIFIED,
                port,
            ));
            bind(fd.as_raw_fd(), &addr)?;
            fd
        }
        Err(e) => return Err(e.into()),
    };
    listen(&fd, Backlog::new(BACKLOG).unwrap_or(Backlog::MAXCONN))?;
    Ok(fd)
}

/// Writes the Node preload into `$PMR_HOME` (once per daemon) so that
/// cluster-mode Node apps can `--require` it.
pub fn install_preload(home: &Path) -> io::Result<()> {
    let path = home.join("node").join("pmr-preload.js");
    let body = include_str!("../../assets/node-preload.js");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(body) {
        std::fs::create_dir_all(path.parent().unwrap_or(home))?;
        let tmp = path.with_extension("js.tmp");
        std::fs::write(&tmp, body)?;
        std::fs::rename(&tmp, &path)?;
    }
    let _ = PRELOAD.set(path);
    Ok(())
}

/// The preload's path, once installed.
pub fn preload() -> Option<&'static Path> {
    PRELOAD.get().map(PathBuf::as_path)
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

/// Whether the app runs under node (or bun), which the preload serves.
pub fn is_node(spec: &AppSpec) -> bool {
    let program = if spec.interpreter == "none" {
        &spec.script
    } else {
        &spec.interpreter
    };
    let base = Path::new(program)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    base == "node" || base.starts_with("node") && base[4..].chars().all(|c| c.is_ascii_digit())
}
