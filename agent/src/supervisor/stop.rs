//! Stopping a child: the stop signal to its process group, SIGKILL after the
//! grace period, and no survivor left in the group.

use std::process::ExitStatus;
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use tokio::process::Child;
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

/// Stops the child and its group; returns how the leader exited.
pub(crate) async fn terminate(
    child: &mut Child,
    pid: u32,
    sig: Signal,
    grace: Duration,
    treekill: bool,
) -> std::io::Result<ExitStatus> {
    let deadline = Instant::now() + grace;
    send(pid, sig, treekill);
    let status = match timeout_at(deadline, child.wait()).await {
        Ok(status) => status?,
        Err(_) => {
            tracing::info!(
                pid,
                "still alive after {}ms, sending SIGKILL",
                grace.as_millis()
            );
            send(pid, Signal::SIGKILL, treekill);
            child.wait().await?
        }
    };
    if treekill {
        while group_alive(pid) && Instant::now() < deadline {
            sleep(GROUP_POLL).await;
        }
        reap_group(pid);
    }
    Ok(status)
}
