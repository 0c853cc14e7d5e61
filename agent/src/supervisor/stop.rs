//! Stopping a child: the stop signal to its process group, SIGKILL after the
//! grace period, and no survivor left in the group.

use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::time::{Instant, sleep, timeout_at};

/// How often a group that outlives its leader is checked while stopping.
const GROUP_POLL: Duration = Duration::from_millis(20);

/// Sends `sig` to the group led by `pid`, or to `pid` alone without treekill.
pub(crate) fn send(pid: u32, sig: Signal, treekill: bool) {
    let target = if treekill {
        Pid::from_raw(-(pid as i32))
    } else {
        Pid::from_raw(pid as i32)
    };
    let _ = signal::kill(target, sig);
}

/// True while any process of the group led by `pgid` exists.
fn group_alive(pgid: u32) -> bool {
    !matches!(
        signal::kill(Pid::from_raw(-(pgid as i32)), None),
        Err(Errno::ESRCH)
    )
}

/// Kills what is left of a group whose leader has exited.
pub(crate) fn reap_group(pgid: u32) {
    let _ = signal::killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL);
}

/// Stops what is left of a group whose leader exited on its own: the stop
/// signal, then SIGKILL after the grace if anything remains.
pub(crate) async fn drain_group(pgid: u32, sig: Signal, grace: Duration) {
    if !group_alive(pgid) {
        return;
    }
    let _ = signal::killpg(Pid::from_raw(pgid as i32), sig);
    let deadline = Instant::now() + grace;
    while group_alive(pgid) && Instant::now() < deadline {
        sleep(GROUP_POLL).await;
    }
    if group_alive(pgid) {
        reap_group(pgid);
    }
}

/// Descendants of `root` that left its process group (`setsid`,
/// `setpgid`): the group signal misses them, so they are signalled by pid,
/// as pm2's tree kill does.
fn escaped_descendants(root: u32) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(pid) = stack.pop() {
        let kids = crate::procfs::children(pid, crate::procfs::Threads::All);
        for child in kids.unwrap_or_default() {
            if out.len() < 4096 && !out.contains(&child) {
                out.push(child);
                stack.push(child);
            }
        }
    }
    let group = Pid::from_raw(root as i32);
    out.retain(|&p| nix::unistd::getpgid(Some(Pid::from_raw(p as i32))).is_ok_and(|g| g != group));
    out.into_iter()
        .filter_map(|p| Some((p, start_time(p)?)))
        .collect()
}

/// Start time of `pid` (clock ticks since boot), which tells a process from a
/// later one that reuses its pid.
fn start_time(pid: u32) -> Option<u64> {
    crate::procfs::stat_field(&crate::procfs::read_stat(pid)?, 22)?
        .parse()
        .ok()
}

/// Still the process we saw (same pid, same start time)?
fn same_alive(&(pid, started): &(u32, u64)) -> bool {
    start_time(pid) == Some(started)
}

/// Sends `sig` to each process still alive as the same process (pid and
/// start time), never to a newcomer that reused a pid.
fn signal_each(procs: &[(u32, u64)], sig: Signal) {
    for p in procs.iter().filter(|p| same_alive(p)) {
        let _ = signal::kill(Pid::from_raw(p.0 as i32), sig);
    }
}

/// The leader survived SIGKILL for a whole grace period.
#[derive(Debug)]
pub(crate) struct Unkillable;

/// Stops the child and its group (`sig` first, unless it was asked by
/// message; SIGKILL after `grace`); returns how the leader exited.
pub(crate) async fn terminate(
    child: &mut super::proc::Proc,
    pid: u32,
    sig: Option<Signal>,
    grace: Duration,
    treekill: bool,
) -> Result<ExitStatus, Unkillable> {
    let deadline = Instant::now() + grace;
    let escaped = if treekill {
        escaped_descendants(pid)
    } else {
        Vec::new()
    };
    // `None`: the app was asked by message (`shutdown_with_message`).
    if let Some(sig) = sig {
        send(pid, sig, treekill);
        signal_each(&escaped, sig);
    }
    let status = match timeout_at(deadline, child.wait()).await {
        Ok(status) => status.map_err(|_| Unkillable)?,
        Err(_) => {
            tracing::info!(
                "Process with pid {pid} still alive after {}ms, sending it SIGKILL now...",
                grace.as_millis()
            );
            send(pid, Signal::SIGKILL, treekill);
            match tokio::time::timeout(grace, child.wait()).await {
                Ok(Ok(status)) => status,
                _ => return Err(Unkillable),
            }
        }
    };
    if treekill {
        while (group_alive(pid) || escaped.iter().any(same_alive)) && Instant::now() < deadline {
            sleep(GROUP_POLL).await;
        }
        reap_group(pid);
        signal_each(&escaped, Signal::SIGKILL);
    }
    Ok(status)
}

/// Stops an app's process a previous daemon left running (not a child of
/// this one, so it cannot be waited for): its stop signal to its process
/// group, SIGKILL after `kill_timeout` ms. Gone means gone or a zombie:
/// whoever inherited it reaps it.
pub async fn stop_leftover(pid: u32, kill_signal: &str, kill_timeout: u64) {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    use std::str::FromStr;
    let sig = Signal::from_str(kill_signal).unwrap_or(Signal::SIGINT);
    let gone = || {
        crate::procfs::read_stat(pid).is_none_or(|l| crate::procfs::stat_field(&l, 3) == Some("Z"))
    };
    let _ = killpg(Pid::from_raw(pid as i32), sig);
    let grace = std::time::Duration::from_millis(kill_timeout);
    let deadline = tokio::time::Instant::now() + grace;
    while !gone() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
}
