//! Commands about the daemon itself: `ping`, `kill`, `update`, `resurrect`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill as send_signal};
use nix::unistd::Pid;
use pmr_shared::ipc::Request;

use super::report;
use crate::cli::client::{self, Mismatch};
use crate::cli::{Client, OutputArgs};
use crate::paths::Paths;

/// How long a daemon gets to stop its apps and exit.
const DAEMON_EXIT_LIMIT: Duration = Duration::from_secs(60);

pub(super) fn ping(paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut c = Client::connect_or_start(paths)?;
    c.request(&Request::Ping)?;
    println!("{{ msg: 'pong' }}");
    Ok(ExitCode::SUCCESS)
}

pub(super) fn resurrect(paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut c = Client::connect_or_start(paths)?;
    let reply = c.request(&Request::Resurrect)?;
    report(&OutputArgs::default(), reply);
    Ok(ExitCode::SUCCESS)
}

/// The pid of a live daemon of `paths`: only a process holding the pid
/// file's lock is one, whatever number the file holds.
fn daemon_pid(paths: &Paths) -> Option<u32> {
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
fn terminate_by_signal(paths: &Paths, pid: u32) -> anyhow::Result<()> {
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
            let reply = c.request(&Request::Kill)?;
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
        Err(e) => return Err(e),
    }
    println!("[PMR] Daemon stopped");
    Ok(ExitCode::SUCCESS)
}

/// Whether a daemon that was killed left apps in the list on disk.
fn left_behind(paths: &Paths) -> bool {
    std::fs::read_to_string(paths.list_file())
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<serde_json::Value>>(&t).ok())
        .is_some_and(|list| !list.is_empty())
}

/// `pmr update`: the running daemon hands every app over to this binary
/// (no app restarts). A daemon that cannot (another protocol, no keeper)
/// is replaced the way pm2 does it: save, stop, start, resurrect.
pub(super) fn update(paths: &Paths, binary: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let failed = paths.home.join(crate::keeper::UPDATE_FAILED);
    if let Ok(Some(mut c)) = Client::connect(paths) {
        let old = c.daemon_pid;
        let exe = match binary {
            Some(b) => std::path::absolute(&b)
                .with_context(|| format!("cannot resolve {}", b.display()))?,
            None => std::env::current_exe().context("cannot find the pmr executable")?,
        };
        let exe = crate::daemon::binary(&exe);
        let _ = std::fs::remove_file(&failed);
        let asked = c.request(&Request::Update {
            exe: exe.to_string_lossy().into_owned(),
        });
        match asked {
            Ok(reply) => {
                let mini = OutputArgs {
                    mini: true,
                    ..Default::default()
                };
                report(&mini, reply);
                if !client::wait_gone(old, DAEMON_EXIT_LIMIT) {
                    bail!("the daemon (pid {old}) did not hand over");
                }
                let c = Client::connect_or_start(paths)?;
                if let Ok(why) = std::fs::read_to_string(&failed) {
                    let _ = std::fs::remove_file(&failed);
                    bail!(
                        "the update failed: {why}; the previous pmr runs again (pid {}), every app as it was",
                        c.daemon_pid
                    );
                }
                println!(
                    "[PMR] Daemon {old} handed over to daemon {} ({}); no app restarted",
                    c.daemon_pid,
                    pmr_shared::VERSION
                );
                return Ok(ExitCode::SUCCESS);
            }
            Err(e) => {
                let why = format!("{e:#}");
                if !why.contains("unknown variant") && !why.contains("without a keeper") {
                    bail!("the update did not start: {why}; the running daemon keeps every app");
                }
                println!("[PMR] {why}: restarting the daemon and its apps instead");
            }
        }
    }
    let running = match Client::connect(paths) {
        Ok(Some(c)) => Some(c.daemon_pid),
        Ok(None) => None,
        Err(e) => match e.downcast_ref::<Mismatch>() {
            Some(m) => Some(m.pid),
            None => return Err(e),
        },
    };
    if let Some(pid) = running.or_else(|| daemon_pid(paths)) {
        println!("[PMR] Saving the process list and stopping daemon {pid}");
        terminate_by_signal(paths, pid)?;
    }
    let mut c = Client::connect_or_start(paths)?;
    println!(
        "[PMR] Daemon {} ({}) started",
        c.daemon_pid,
        pmr_shared::VERSION
    );
    if paths.dump().exists() {
        let reply = c.request(&Request::Resurrect)?;
        report(&OutputArgs::default(), reply);
    }
    Ok(ExitCode::SUCCESS)
}
