//! An instance's main process, whoever reaps it: this daemon (its own
//! child) or the keeper (a process an earlier daemon started).

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use tokio::process::Child;
use tokio::sync::oneshot;

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
