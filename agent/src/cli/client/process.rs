//! The daemon as a process, seen from the CLI: started in the background
//! (ready once it says so on its stdout), and waited for when it goes.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::daemon::{ALREADY_RUNNING, READY};
use crate::paths::Paths;

/// Starts a daemon for `paths` in the background and waits until it is ready.
/// The daemon's first stdout line is the whole protocol: [`READY`],
/// [`ALREADY_RUNNING`] (another CLI won the race) or `error: ...`; an empty
/// read means it died first. Its stderr goes to the daemon log, so even a
/// panic before logging starts is kept.
pub(crate) fn start_daemon(paths: &Paths) -> anyhow::Result<()> {
    std::fs::create_dir_all(&paths.home)
        .with_context(|| format!("cannot create {}", paths.home.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(paths.daemon_log())
        .with_context(|| format!("cannot open {}", paths.daemon_log().display()))?;
    let exe = std::env::current_exe().context("cannot find the pmr executable")?;
    let exe = crate::daemon::binary(&exe);
    let mut child = std::process::Command::new(exe)
        .arg("daemon")
        .env("PMR_HOME", &paths.home)
        .current_dir(&paths.home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("cannot start the pmr daemon")?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        BufReader::new(out).read_line(&mut line)?;
    }
    match line.trim() {
        READY | ALREADY_RUNNING => Ok(()),
        "" => bail!(
            "the daemon exited before it was ready; see {}",
            paths.daemon_log().display()
        ),
        other => bail!(
            "the daemon could not start: {}",
            other.strip_prefix("error: ").unwrap_or(other)
        ),
    }
}

/// Waits (bounded) until process `pid` is gone.
pub(crate) fn wait_gone(pid: u32, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// True while `pid` exists and is not a zombie waiting to be reaped. The
/// zombie check matters: a daemon this CLI started is its child, and stays
/// a zombie (still signalable) until the CLI exits.
pub(crate) fn alive(pid: u32) -> bool {
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err() {
        return false;
    }
    match crate::procfs::read_stat(pid) {
        Some(stat) => crate::procfs::stat_field(&stat, 3) != Some("Z"),
        None => false,
    }
}
