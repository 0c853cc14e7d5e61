//! Commands about the daemon itself: `ping`, `kill`, `resurrect`, and the
//! ways to end a daemon by signal that `kill` and `update` share.
//!
//! A daemon is found by the pid file's lock, never by process name, so one
//! per `$PMR_HOME` can run beside others (tests, several users).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::bail;
use nix::sys::signal::{Signal, kill as send_signal};
use nix::unistd::Pid;
use pmr_shared::ipc::Request;

use super::report;
use crate::cli::client::{self, Mismatch};
use crate::cli::{Client, OutputArgs};
use crate::paths::Paths;

/// How long a daemon gets to stop its apps and exit.
pub(super) const DAEMON_EXIT_LIMIT: Duration = Duration::from_secs(60);

/// `pmr ping`: starts the daemon if needed and answers as pm2 does.
pub(super) fn ping(paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut c = Client::connect_or_start(paths)?;
    c.request(&Request::Ping)?;
    println!("{{ msg: 'pong' }}");
    Ok(ExitCode::SUCCESS)
}

/// `pmr resurrect`: starts again the apps of the last `pmr save`.
pub(super) fn resurrect(paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut c = Client::connect_or_start(paths)?;
    let reply = c.request(&Request::Resurrect)?;
    report(&OutputArgs::default(), reply);
    Ok(ExitCode::SUCCESS)
}

/// The pid of a live daemon of `paths`: only a process holding the pid
/// file's lock is one, whatever number the file holds.
pub(super) fn daemon_pid(paths: &Paths) -> Option<u32> {
    use nix::fcntl::{Flock, FlockArg};
    let file = std::fs::File::open(paths.pid_file()).ok()?;
    match Flock::lock(file, FlockArg::LockSharedNonblock) {
        Ok(_unlocked_on_drop) => None,
        Err((mut file, _)) => {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut file, &mut text).ok()?;
            text.trim().parse().ok()
        }
    }
}

/// Asks a daemon of any version to exit the way SIGTERM does: it saves the
/// process list, stops its apps and leaves.
pub(super) fn terminate_by_signal(paths: &Paths, pid: u32) -> anyhow::Result<()> {
    send_signal(Pid::from_raw(pid as i32), Signal::SIGTERM)?;
    if !client::wait_gone(pid, DAEMON_EXIT_LIMIT) {
        bail!(
            "the daemon (pid {pid}) did not exit within {}s",
            DAEMON_EXIT_LIMIT.as_secs()
        );
    }
    let _ = std::fs::remove_file(paths.socket());
    Ok(())
}

/// `pmr kill`: the daemon stops every app and exits; a daemon that does not
/// answer is ended by signal, and apps a killed daemon left are stopped too.
pub(super) fn kill(paths: &Paths) -> anyhow::Result<ExitCode> {
    // A killed daemon's apps may still run: a daemon restores the list (and
    // takes them over) so that this kill stops them too.
    let conn = match Client::connect(paths) {
        Ok(None) if left_behind(paths) => Client::connect_or_start(paths).map(Some),
        other => other,
    };
    match conn {
        Ok(Some(mut c)) => {
            let pid = c.daemon_pid;
            let reply = match c.request(&Request::Kill) {
                Err(e) if e.downcast_ref::<client::NoAnswer>().is_some() => {
                    println!("[PMR] {e:#}");
                    return kill_silent(paths, pid);
                }
                other => other?,
            };
            report(
                &OutputArgs {
                    mini: true,
                    ..Default::default()
                },
                reply,
            );
            if !client::wait_gone(pid, DAEMON_EXIT_LIMIT) {
                bail!("the daemon (pid {pid}) did not exit");
            }
        }
        Ok(None) => {
            println!("[PMR] No daemon running in {}", paths.home.display());
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) if e.downcast_ref::<Mismatch>().is_some() => {
            let pid = e.downcast_ref::<Mismatch>().map_or(0, |m| m.pid);
            terminate_by_signal(paths, pid)?;
        }
        Err(e) if e.downcast_ref::<client::NoAnswer>().is_some() => {
            let Some(pid) = daemon_pid(paths) else {
                return Err(e);
            };
            println!("[PMR] {e:#}");
            return kill_silent(paths, pid);
        }
        Err(e) => return Err(e),
    }
    println!("[PMR] Daemon stopped");
    Ok(ExitCode::SUCCESS)
}

/// `pmr kill` when the daemon takes connections but does not answer
/// (stopped with SIGSTOP, overloaded): SIGTERM (and SIGCONT, so a stopped
/// daemon gets it), which saves, stops the apps and exits; SIGKILL if it is
/// still there after the apps' longest `kill_timeout`, and then the daemon
/// the keeper starts in its place (it takes the apps over) is asked to
/// stop them.
fn kill_silent(paths: &Paths, pid: u32) -> anyhow::Result<ExitCode> {
    let grace = Duration::from_millis(longest_kill_timeout(paths)) + Duration::from_secs(3);
    println!(
        "[PMR] Sending SIGTERM to daemon {pid} (pid file {}); SIGKILL if it is still there in {} s",
        paths.pid_file().display(),
        grace.as_secs()
    );
    let target = Pid::from_raw(pid as i32);
    send_signal(target, Signal::SIGTERM)?;
    let _ = send_signal(target, Signal::SIGCONT);
    if client::wait_gone(pid, grace) {
        let _ = std::fs::remove_file(paths.socket());
        println!("[PMR] Daemon {pid} stopped by SIGTERM");
        return Ok(ExitCode::SUCCESS);
    }
    println!("[PMR] Daemon {pid} still there: sending SIGKILL");
    let _ = send_signal(target, Signal::SIGKILL);
    if !client::wait_gone(pid, Duration::from_secs(10)) {
        bail!("the daemon (pid {pid}) survived SIGKILL");
    }
    // Its apps outlive it (the keeper holds them) until a daemon stops them.
    if left_behind(paths) {
        println!("[PMR] Stopping the apps daemon {pid} left");
        let mut c = Client::connect_or_start(paths)?;
        let next = c.daemon_pid;
        c.request(&Request::Kill)?;
        if !client::wait_gone(next, DAEMON_EXIT_LIMIT) {
            bail!("the daemon (pid {next}) did not exit");
        }
    }
    println!("[PMR] Daemon stopped");
    Ok(ExitCode::SUCCESS)
}

/// The longest `kill_timeout` among the apps in the list on disk (ms);
/// pm2's default 1600 when none is known. The daemon stops apps in
/// parallel, so this is how long a clean stop may take.
fn longest_kill_timeout(paths: &Paths) -> u64 {
    std::fs::read_to_string(paths.list_file())
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
        .unwrap_or_default()
        .iter()
        .filter_map(|e| e.get("kill_timeout").and_then(serde_json::Value::as_u64))
        .max()
        .unwrap_or(1600)
}

/// Whether a daemon that was killed left apps in the list on disk.
fn left_behind(paths: &Paths) -> bool {
    std::fs::read_to_string(paths.list_file())
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
        .is_some_and(|list| !list.is_empty())
}
