//! Taking over an instance a previous daemon started (it crashed, or handed
//! over to a new binary): the process is the keeper's child now, so it is
//! waited for through the keeper's exit reports, and its output pipes and
//! IPC channel are the copies the keeper held.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use tokio::net::unix::pipe;
use tokio::sync::oneshot;

use super::proc::Proc;
use super::spawn::Spawned;
use crate::keeper::link::Parked;

/// What a new daemon found of one instance.
#[derive(Debug)]
pub struct Adoption {
    /// Its main process.
    pub pid: u32,
    /// The read ends of its stdout and stderr, then its IPC channel (Node).
    pub fds: Vec<OwnedFd>,
    /// Its exit, reported by the keeper; `None` if it is already gone
    /// and nobody saw how.
    pub exit: Option<oneshot::Receiver<i32>>,
    /// When it started (Unix ms), for its uptime.
    pub pm_uptime: u64,
    /// Shared listening sockets the last daemon held for cluster apps.
    pub binds: Vec<Arc<crate::supervisor::cluster::Shared>>,
    /// Releases the keeper's copies once the instance is gone.
    pub parked: Option<Parked>,
}

/// The instance as if just spawned, for the actor to run.
pub(crate) fn spawned(a: Adoption) -> io::Result<Spawned> {
    let mut fds = a.fds.into_iter();
    let (Some(out), Some(err)) = (fds.next(), fds.next()) else {
        return Err(io::Error::other("the keeper held no output pipes for it"));
    };
    Ok(Spawned {
        child: Proc::Adopted {
            exit: a.exit,
            done: None,
        },
        pid: a.pid,
        stdout: pipe::Receiver::from_file(std::fs::File::from(out))?,
        stderr: pipe::Receiver::from_file(std::fs::File::from(err))?,
        listener: None,
        binds: a.binds,
        ipc: fds.next().map(std::os::unix::net::UnixStream::from),
        managed: super::orphans::Managed::new(a.pid),
        parked: a.parked,
    })
}
