//! The keeper's children: starting a daemon, reaping whatever ends (the
//! daemon, or an app whose daemon died), and what a daemon's exit means:
//! exit too, start the new binary of `pmr update`, or start another after
//! a crash.

use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{SigSet, Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::process::{Daemon, HEALTH_LIMIT, Keeper, MAX_BACKOFF, MAX_EXITS, STABLE, Then};
use super::wire::{self, Msg};

impl Keeper {
    /// Starts a daemon from `exe`; `first` gives it the keeper's stdout.
    /// The daemon finds its end of the keeper's socket pair by number in
    /// [`super::FD_VAR`]; the signals the keeper blocks (it reads them from
    /// a signalfd) are unblocked again for the child.
    #[allow(unsafe_code)]
    pub(super) fn spawn(&mut self, exe: &str, first: bool) -> anyhow::Result<()> {
        let (ours, theirs) = wire::pair()?;
        let fd: RawFd = theirs.as_raw_fd();
        let mut cmd = Command::new(exe);
        cmd.arg0("pmr")
            .arg("daemon")
            .env("PMR_HOME", &self.paths.home)
            .env(super::FD_VAR, fd.to_string())
            .current_dir(&self.paths.home)
            .stdin(Stdio::null());
        if !first {
            cmd.stdout(Stdio::null());
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let _ = SigSet::all().thread_unblock();
                // The daemon's end survives the exec.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().with_context(|| format!("cannot start {exe}"))?;
        drop(theirs);
        self.daemon = Some(Daemon {
            pid: Pid::from_raw(child.id() as i32),
            sock: Some(ours),
            then: Then::Restart,
            on_probation: None,
            ready: None,
        });
        Ok(())
    }

    /// Handles one signal the keeper caught: SIGCHLD reaps its children
    /// (and restarts a daemon that died); SIGHUP is ignored; any other
    /// stops the keeper, asking the daemon to stop the apps first.
    pub(super) fn on_signal(&mut self, signo: i32) {
        if signo != libc::SIGCHLD {
            if signo == libc::SIGHUP {
                return;
            }
            // Stopped by systemd or a user: the daemon stops the apps.
            self.restart_at = None;
            if let Some(d) = self.daemon.as_mut() {
                d.then = Then::Exit;
                let _ = kill(d.pid, Signal::SIGTERM);
            }
            return;
        }
        loop {
            let (pid, status) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                // Rebuilt as the raw status `waitpid(2)` encodes (code in
                // the second byte, signal in the low seven bits, 0x80 for a
                // core), so the daemon decodes it as its own child's.
                Ok(WaitStatus::Exited(pid, code)) => (pid, code << 8),
                Ok(WaitStatus::Signaled(pid, sig, core)) => {
                    (pid, sig as i32 | if core { 0x80 } else { 0 })
                }
                Ok(WaitStatus::StillAlive) | Err(_) => return,
                Ok(_) => continue,
            };
            if self.daemon.as_ref().is_some_and(|d| d.pid == pid) {
                self.daemon_exited(status);
                continue;
            }
            // An app whose daemon died: its status goes to the daemon.
            let pid = pid.as_raw() as u32;
            let sent = self
                .daemon
                .as_ref()
                .and_then(|d| d.sock.as_ref())
                .is_some_and(|s| wire::send(s.as_fd(), &Msg::Exited { pid, status }, &[]).is_ok());
            if !sent {
                if self.exits.len() >= MAX_EXITS {
                    self.exits.remove(0);
                }
                self.exits.push((pid, status));
            }
        }
    }

    /// Starts the binary the keeper started from again; if even that fails,
    /// tries again after [`MAX_BACKOFF`] (the keeper never leaves the apps
    /// without a daemon while it runs).
    fn fall_back(&mut self) {
        let exe = format!("/proc/self/fd/{}", self.good.as_raw_fd());
        if let Err(e) = self.spawn(&exe, false) {
            self.say(&format!("cannot start the previous daemon: {e:#}"));
            self.restart_at = Some(Instant::now() + MAX_BACKOFF);
        }
    }

    /// Decides what follows a daemon's exit: a new binary that died on
    /// probation falls back to the binary the keeper started from (`good`,
    /// held open so a replaced file still runs) and leaves the reason in
    /// `UPDATE_FAILED` for `pmr update` to show; otherwise as `then` says,
    /// a crash restarting after a backoff that doubles from 200 ms unless the
    /// dead daemon had served for [`STABLE`].
    fn daemon_exited(&mut self, status: i32) {
        let Some(d) = self.daemon.take() else { return };
        if let Some((_, exe)) = &d.on_probation {
            let why =
                format!("the new daemon ({exe}) exited before it took over (wait status {status})");
            self.say(&format!("{why}; going back to the previous binary"));
            let _ = std::fs::write(self.paths.home.join(super::UPDATE_FAILED), &why);
            self.fall_back();
            return;
        }
        match d.then {
            Then::Exit => self.parked.clear(),
            Then::Handover(exe) => {
                self.say(&format!("handing over to {exe}"));
                match self.spawn(&exe, false) {
                    Ok(()) => {
                        if let Some(new) = self.daemon.as_mut() {
                            new.on_probation = Some((Instant::now() + HEALTH_LIMIT, exe));
                        }
                    }
                    Err(e) => {
                        let why = format!("{e:#}");
                        let _ = std::fs::write(self.paths.home.join(super::UPDATE_FAILED), &why);
                        self.say(&format!("{why}; going back to the previous binary"));
                        self.fall_back();
                    }
                }
            }
            Then::Restart => {
                let served = d.ready.map_or(Duration::ZERO, |r| r.elapsed());
                self.backoff = if served >= STABLE {
                    Duration::ZERO
                } else {
                    (self.backoff * 2).clamp(Duration::from_millis(200), MAX_BACKOFF)
                };
                self.say(&format!(
                    "the daemon (pid {}) died (wait status {status}); its apps keep running, a new daemon takes them over in {} ms",
                    d.pid,
                    self.backoff.as_millis()
                ));
                self.restart_at = Some(Instant::now() + self.backoff);
            }
        }
    }
}
