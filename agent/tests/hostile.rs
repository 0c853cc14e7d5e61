//! The daemon under faults from outside: out of descriptors, a full disk,
//! its keeper killed, itself stopped with SIGSTOP. Each ends in a clear
//! answer, never a hang or a report of what did not happen.

use std::process::Output;
use std::time::Duration;

use crate::helper::{PATIENCE, Pmr, pid_alive, wait_until};

fn signal(sig: &str, pid: i64) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success(), "kill {sig} {pid}");
}

fn quick(t: &Pmr, args: &[&str]) -> Output {
    t.command()
        .args(args)
        .env("PMR_CLI_TIMEOUT", "5")
        .output()
        .unwrap()
}

fn assert_ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A daemon limited to 64 descriptors, then started apps until one was
/// refused, then more refused starts and lists (the sampler reads `/proc`
/// meanwhile), as a user retrying would. Returns the daemon's pid.
fn exhausted(t: &Pmr) -> i64 {
    t.write("app.sh", "sleep 300\n");
    let bin = env!("CARGO_BIN_EXE_pmr");
    let first = std::process::Command::new("sh")
        .args(["-c", &format!("ulimit -n 64 && exec {bin} ping")])
        .env("PMR_HOME", t.home())
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");
    let refused = (0..60).any(|i| {
        !t.run(&["start", "app.sh", "--name", &format!("a{i}"), "-m"])
            .status
            .success()
    });
    assert!(refused, "60 apps fit in 64 descriptors");
    for i in 0..4 {
        let _ = quick(t, &["start", "app.sh", "--name", &format!("b{i}"), "-m"]);
        let _ = quick(t, &["list"]);
        // The sampler's round is once a second.
        std::thread::sleep(Duration::from_millis(1100));
    }
    t.daemon_pid().unwrap().into()
}

fn online_pids(t: &Pmr) -> Vec<i64> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&assert_ok(&quick(t, &["jlist"]), "jlist")).unwrap();
    list.iter()
        .filter_map(|p| p["pid"].as_i64())
        .filter(|p| *p > 0)
        .collect()
}

#[test]
fn out_of_descriptors_list_stop_delete_and_kill_still_work() {
    let t = Pmr::new();
    exhausted(&t);
    for _ in 0..3 {
        assert_ok(&quick(&t, &["jlist"]), "jlist");
    }
    assert_ok(&quick(&t, &["stop", "a0"]), "stop a0");
    assert_eq!(t.status(0), "stopped");
    assert_ok(&quick(&t, &["delete", "a1"]), "delete a1");
    assert!(t.jlist().iter().all(|p| p["name"] != "a1"));
    let pids = online_pids(&t);
    assert!(!pids.is_empty());
    assert_ok(&quick(&t, &["kill"]), "kill");
    for pid in pids {
        assert!(!pid_alive(pid), "app {pid} stopped by kill");
    }
}

#[test]
fn out_of_descriptors_sigterm_stops_the_apps_and_the_daemon() {
    let t = Pmr::new();
    let daemon = exhausted(&t);
    let pids = online_pids(&t);
    signal("-TERM", daemon);
    wait_until("the daemon exits on SIGTERM", || {
        (!pid_alive(daemon)).then_some(())
    });
    for pid in pids {
        wait_until("its apps stopped", || (!pid_alive(pid)).then_some(()));
    }
}

#[test]
fn a_full_disk_refuses_changes_and_update_tells_the_truth() {
    let dir = tempfile::Builder::new()
        .prefix("pmrfull")
        .tempdir_in("/tmp")
        .unwrap();
    let Some(_disk) = crate::faults::Tmpfs::mount_sized(dir.path(), "2m") else {
        eprintln!("skipped: this user cannot mount a tmpfs");
        return;
    };
    let t = Pmr {
        home: dir,
        work: tempfile::Builder::new()
            .prefix("pmw")
            .tempdir_in("/tmp")
            .unwrap(),
    };
    t.write("app.sh", "sleep 300\n");
    t.ok(&["start", "app.sh", "--name", "a", "-m"]);
    t.ok(&["start", "app.sh", "--name", "b", "-m"]);
    let (a, b) = (
        t.proc(0)["pid"].as_i64().unwrap(),
        t.proc(1)["pid"].as_i64().unwrap(),
    );
    // Fill what is left of the 2 MiB.
    let filler = t.home().join("filler");
    let _ = std::fs::write(&filler, vec![b'x'; 4 << 20]);
    let err = t.fails(&["stop", "b"]);
    assert!(
        err.contains("No space left") && err.contains("nothing was done"),
        "{err}"
    );
    assert_eq!(t.status(1), "online", "b was not stopped");
    let err = t.fails(&["start", "app.sh", "--name", "c"]);
    assert!(
        err.contains("No space left") && err.contains("nothing was done"),
        "{err}"
    );
    assert_eq!(t.jlist().len(), 2, "c was not started");
    std::fs::remove_file(&filler).unwrap();
    let out = t.ok(&["update"]);
    assert!(out.contains("no app restarted"), "{out}");
    assert_eq!(t.proc(0)["pid"].as_i64(), Some(a));
    assert_eq!(t.proc(1)["pid"].as_i64(), Some(b));
    assert_eq!(t.jlist().len(), 2);
}

#[test]
fn update_after_the_keeper_died_asks_for_force_then_says_what_restarted() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    t.ok(&["start", "app.sh", "-m"]);
    let pid = t.proc(0)["pid"].as_i64().unwrap();
    let daemon = t.daemon_pid().unwrap();
    let keeper: i64 = std::fs::read_to_string(t.home().join("keeper.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    signal("-KILL", keeper);
    wait_until("the keeper gone", || (!pid_alive(keeper)).then_some(()));
    let err = t.fails(&["update"]);
    assert!(
        err.contains("keeper") && err.contains("--force") && err.contains("Nothing was changed"),
        "{err}"
    );
    assert_eq!(t.daemon_pid(), Some(daemon));
    assert_eq!(t.proc(0)["pid"].as_i64(), Some(pid), "the app as it was");
    let out = t.ok(&["update", "--force"]);
    assert!(!out.contains("no app restarted"), "{out}");
    let now = t.wait_status(0, "online")["pid"].as_i64().unwrap();
    assert_ne!(now, pid);
    assert!(
        out.contains(&format!("[app](0) restarted: pid {pid}, now pid {now}")),
        "{out}"
    );
}

#[test]
fn kill_stops_a_daemon_that_does_not_answer() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    t.ok(&["start", "app.sh", "-m"]);
    let pid = t.proc(0)["pid"].as_i64().unwrap();
    let daemon: i64 = t.daemon_pid().unwrap().into();
    signal("-STOP", daemon);
    let out = t
        .command()
        .arg("kill")
        .env("PMR_CLI_TIMEOUT", "2")
        .output()
        .unwrap();
    let said = assert_ok(&out, "kill");
    assert!(
        said.contains(&format!("Sending SIGTERM to daemon {daemon}")),
        "{said}"
    );
    let start = std::time::Instant::now();
    while pid_alive(daemon) || pid_alive(pid) {
        assert!(start.elapsed() < PATIENCE, "daemon and app stopped");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pids in the list on disk (read without asking the daemon).
fn listed_pids(t: &Pmr) -> Vec<i64> {
    let text = std::fs::read_to_string(t.home().join("list.json")).unwrap();
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap();
    list.iter()
        .filter_map(|p| p["pid"].as_i64())
        .filter(|p| *p > 0)
        .collect()
}

#[test]
fn a_daemon_that_took_over_out_of_descriptors_still_stops_on_sigterm() {
    let t = Pmr::new();
    let first = exhausted(&t);
    let pids = listed_pids(&t);
    // The keeper starts another daemon, which takes the apps over under
    // the same limit, and clients pile up on it.
    signal("-KILL", first);
    let second = wait_until("the keeper's new daemon", || {
        t.daemon_pid()
            .map(i64::from)
            .filter(|p| *p != first && pid_alive(*p))
    });
    let clients: Vec<_> = (0..6)
        .map(|_| {
            t.command()
                .arg("jlist")
                .env("PMR_CLI_TIMEOUT", "2")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in clients {
        let _ = c.wait();
    }
    signal("-TERM", second);
    wait_until("the daemon exits on SIGTERM", || {
        (!pid_alive(second)).then_some(())
    });
    for pid in pids {
        wait_until("its apps stopped", || (!pid_alive(pid)).then_some(()));
    }
}
