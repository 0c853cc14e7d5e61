//! Taking over an instance a previous daemon started (it crashed, or handed
//! over to a new binary): the process is the keeper's child now, so it is
//! waited for through the keeper's exit reports, and its output pipes and
//! IPC channel are the copies the keeper held.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;

use tokio::net::unix::pipe;
use tokio::process::Child;
use tokio::sync::oneshot;

use super::spawn::Spawned;
use crate::keeper::link::Parked;

/// An instance's main process: a child of this daemon, or adopted.
pub(crate) enum Proc {
    /// Started by this daemon.
    Child(Child),
    /// Started by an earlier one; the keeper reports its exit.
    Adopted {
        /// The keeper's report (a raw wait status), `None` once known or
        /// when it cannot be known.
        exit: Option<oneshot::Receiver<i32>>,
        /// How it ended, once known.
        done: Option<ExitStatus>,
    },
}

impl Proc {
    /// Waits until the process has exited; for an adopted process whose
    /// status cannot be known (it died while no daemon and no keeper saw
    /// it), an error, which the restart policy treats as a crash.
    pub(crate) async fn wait(&mut self) -> io::Result<ExitStatus> {
        match self {
            Proc::Child(c) => c.wait().await,
            Proc::Adopted { exit, done } => {
                if let Some(s) = done {
                    return Ok(*s);
                }
                let Some(rx) = exit.as_mut() else {
                    return Err(io::Error::other("its exit status is unknown"));
                };
                match rx.await {
                    Ok(raw) => {
                        let status = ExitStatus::from_raw(raw);
                        *done = Some(status);
                        *exit = None;
                        Ok(status)
                    }
                    // The keeper is gone: nobody reaps it any more, so no
                    // exit can be seen; the instance stays as it is.
                    Err(_) => std::future::pending().await,
                }
            }
        }
    }
}

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
