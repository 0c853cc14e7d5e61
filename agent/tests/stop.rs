//! Graceful stop: the signal, SIGKILL after kill_timeout, no survivor in the
//! process group.

use std::time::{Duration, Instant};

use crate::helper::{Pmr, pids_with, wait_until};

#[test]
fn graceful_stop_lets_the_app_clean_up() {
    let t = Pmr::new();
    t.write(
        "grace.js",
        "process.on('SIGINT', () => { console.log('got SIGINT, bye'); process.exit(0); });\nsetInterval(() => {}, 1000);\nconsole.log('ready');\n",
    );
    t.ok(&["start", "grace.js", "--kill-timeout", "8000"]);
    t.wait_status(0, "online");
    wait_until("ready line", || {
        t.log("grace-out.log").contains("ready").then_some(())
    });
    let start = Instant::now();
    t.ok(&["stop", "grace"]);
    assert!(
        start.elapsed() < Duration::from_millis(6000),
        "a cooperative app stops before kill_timeout"
    );
    assert!(t.log("grace-out.log").contains("got SIGINT, bye"));
    assert_eq!(t.proc(0)["pm2_env"]["exit_code"], 0);
}

#[test]
fn stubborn_app_gets_sigkill_after_kill_timeout() {
    let t = Pmr::new();
    t.write("stubborn.js", "process.on('SIGINT', () => console.log('ignoring SIGINT'));\nsetInterval(() => {}, 1000);\nconsole.log('ready');\n");
    t.ok(&["start", "stubborn.js", "--kill-timeout", "1000"]);
    let pid = t.wait_status(0, "online")["pid"].as_i64().unwrap();
    wait_until("ready line", || {
        t.log("stubborn-out.log").contains("ready").then_some(())
    });
    let start = Instant::now();
    t.ok(&["stop", "stubborn"]);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(950),
        "SIGKILL came too early: {took:?}"
    );
    assert!(took < Duration::from_secs(10), "stop took {took:?}");
    assert!(!crate::helper::pid_alive(pid));
    assert!(t.log("stubborn-out.log").contains("ignoring SIGINT"));
    let p = t.proc(0);
    assert_eq!(p["pm2_env"]["status"], "stopped");
    let log = std::fs::read_to_string(t.home().join("pmr.log")).unwrap();
    assert!(log.contains("via signal [SIGKILL]"), "{log}");
}

#[test]
fn kill_signal_option_is_used() {
    let t = Pmr::new();
    t.write("term.py", "import signal, sys, time\nsignal.signal(signal.SIGTERM, lambda *a: (print('got TERM', flush=True), sys.exit(0)))\nprint('ready', flush=True)\nwhile True: time.sleep(1)\n");
    t.ok(&["start", "term.py", "--kill-signal", "SIGTERM"]);
    t.wait_status(0, "online");
    wait_until("ready line", || {
        t.log("term-out.log").contains("ready").then_some(())
    });
    t.ok(&["stop", "term"]);
    assert!(t.log("term-out.log").contains("got TERM"));
}

#[test]
fn background_children_are_not_left_behind() {
    let t = Pmr::new();
    let marker = format!("pmr-orphan-{}", std::process::id());
    // Children in the background, one of them ignoring SIGINT.
    t.write(
        "forks.sh",
        &format!("bash -c 'exec -a {marker}-a sleep 300' &\nbash -c 'trap \"\" INT; exec -a {marker}-b sleep 300' &\nwait\n"),
    );
    t.ok(&["start", "forks.sh", "--kill-timeout", "800"]);
    t.wait_status(0, "online");
    wait_until("two children", || {
        (pids_with(&marker).len() == 2).then_some(())
    });
    t.ok(&["stop", "forks"]);
    wait_until("no survivor", || {
        pids_with(&marker).is_empty().then_some(())
    });

    // A crash of the main process takes its children along too.
    t.ok(&["start", "forks"]);
    let pid = t.wait_status(0, "online")["pid"].as_i64().unwrap();
    wait_until("two children", || {
        (pids_with(&marker).len() == 2).then_some(())
    });
    let before: Vec<u32> = pids_with(&marker);
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    wait_until("old children gone", || {
        let now = pids_with(&marker);
        before.iter().all(|p| !now.contains(p)).then_some(())
    });
}

#[test]
fn descendants_in_their_own_session_are_stopped_too() {
    let t = Pmr::new();
    let marker = format!("pmr-setsid-{}", std::process::id());
    t.write(
        "escape.sh",
        &format!("setsid bash -c 'exec -a {marker} sleep 300' &\nwait\n"),
    );
    t.ok(&["start", "escape.sh", "--kill-timeout", "800"]);
    t.wait_status(0, "online");
    wait_until("the escaped child", || {
        (pids_with(&marker).len() == 1).then_some(())
    });
    t.ok(&["stop", "escape"]);
    wait_until("no survivor", || {
        pids_with(&marker).is_empty().then_some(())
    });
}

/// Starts `forker`, whose grandchild leaves the session while its parent
/// exits: it is nobody's. Returns the grandchild's pid.
fn forker(t: &Pmr) -> i64 {
    t.write(
        "forker.sh",
        "setsid sh -c 'sleep 300 & echo $! > gc.pid' &\nwhile true; do sleep 1; done\n",
    );
    t.ok(&["start", "forker.sh"]);
    let pidfile = t.work().join("gc.pid");
    wait_until("the grandchild", || {
        std::fs::read_to_string(&pidfile).ok()?.trim().parse().ok()
    })
}

#[test]
fn a_double_forked_grandchild_is_adopted_and_stopped_with_its_app() {
    let t = Pmr::new();
    let gc = forker(&t);
    let daemon = t.daemon_pid().unwrap();
    let parent = |pid: i64| -> Option<i64> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse().ok())
    };
    wait_until("the daemon adopted it", || {
        (parent(gc) == Some(daemon.into())).then_some(())
    });
    t.ok(&["delete", "forker"]);
    wait_until("the grandchild stopped and reaped", || {
        (!std::path::Path::new(&format!("/proc/{gc}")).exists()).then_some(())
    });
}

#[test]
fn what_an_app_abandoned_before_a_daemon_crash_is_stopped_with_it() {
    let t = Pmr::new();
    let gc = forker(&t);
    // The daemon that adopted it dies: it is the keeper's now.
    crate::daemon::kill_daemon(&t);
    assert!(t.jlist().len() == 1, "the app taken over");
    t.ok(&["delete", "forker"]);
    wait_until("the grandchild stopped and reaped", || {
        (!std::path::Path::new(&format!("/proc/{gc}")).exists()).then_some(())
    });
}
