//! The daemon can die or be replaced and no app notices: a 4-instance Node
//! cluster under continuous HTTP load and a fast logger, across `kill -9`
//! of the daemon and across `pmr update`, with a `pmr logs` following.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::cluster::free_port;
use crate::helper::{Pmr, http, wait_until};

/// HTTP requests in a loop on new connections, counting answers and failures.
struct Load {
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Load {
    fn start(port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let thread = {
            let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match http(port, "GET", "/", None) {
                        Some((200, _)) => ok.fetch_add(1, Ordering::Relaxed),
                        _ => failed.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        };
        Self {
            stop,
            ok,
            failed,
            thread,
        }
    }

    /// Answers so far.
    fn answered(&self) -> u64 {
        self.ok.load(Ordering::Relaxed)
    }

    /// Stops; (answered, failed).
    fn finish(self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        let answered = self.answered();
        let _ = self.thread.join();
        (answered, self.failed.load(Ordering::Relaxed))
    }
}

/// A cluster `web` of 4 on a port, and `logger` printing `n <i>` every 2 ms.
fn setup(t: &Pmr) -> u16 {
    let port = free_port();
    t.write(
        "web.js",
        &format!(
            "require('http').createServer((q, s) => s.end(String(process.pid))).listen({port});\n"
        ),
    );
    t.write(
        "logger.js",
        "let n = 0; setInterval(() => console.log('n ' + ++n), 2);\n",
    );
    t.ok(&["start", "web.js", "-i", "4", "--name", "web"]);
    t.ok(&["start", "logger.js"]);
    wait_until("five instances online", || {
        let l = t.jlist();
        (l.len() == 5 && l.iter().all(|p| p["pm2_env"]["status"] == "online")).then_some(())
    });
    wait_until("the port answering", || http(port, "GET", "/", None));
    port
}

/// (id, pid, restart count) of every instance.
fn identity(t: &Pmr) -> Vec<(u64, i64, u64)> {
    t.jlist()
        .iter()
        .map(|p| {
            (
                p["pm_id"].as_u64().unwrap(),
                p["pid"].as_i64().unwrap(),
                p["pm2_env"]["restart_time"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// After the daemon (`daemon`) was replaced: a new one, every instance as
/// it was, the load answered on without a failure, the logger writing.
fn carried_on(t: &Pmr, load: Load, before: &[(u64, i64, u64)], daemon: i32) {
    assert_eq!(identity(t), before, "same ids, pids and restart counts");
    assert_ne!(t.daemon_pid(), Some(daemon), "a new daemon");
    let seen = load.answered();
    wait_until("requests answered after", || {
        (load.answered() > seen + 20).then_some(())
    });
    let (_, failed) = load.finish();
    assert_eq!(failed, 0, "failed requests");
    lines_grow(t, 60);
}

/// Waits until the logger has written `n` lines more than it had.
fn lines_grow(t: &Pmr, n: usize) {
    let had = t.log("logger-out.log").lines().count();
    wait_until("the logger writing", || {
        (t.log("logger-out.log").lines().count() >= had + n).then_some(())
    });
}

/// Stops the logger (its last lines drained) and checks its log holds
/// `n 1`, `n 2`, ... each exactly once, in order.
fn every_line_once(t: &Pmr) {
    t.ok(&["stop", "logger"]);
    let log = t.log("logger-out.log");
    let mut want = 1u64;
    for line in log.lines() {
        let got: u64 = line
            .strip_prefix("n ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not a logger line: {line:?}"));
        assert_eq!(got, want, "line {want} lost or duplicated");
        want += 1;
    }
    assert!(want > 100, "only {want} lines");
}

/// A `pmr logs logger --raw` running across a hand-over.
struct Follower {
    child: std::process::Child,
    out: std::path::PathBuf,
}

impl Follower {
    /// Starts following; returns once it printed.
    fn start(t: &Pmr) -> Self {
        let out = t.work().join("followed.txt");
        let child = t
            .command()
            .args(["logs", "logger", "--raw", "--lines", "0"])
            .stdout(std::fs::File::create(&out).unwrap())
            .spawn()
            .unwrap();
        let f = Self { child, out };
        wait_until("the follower printing", || {
            (f.lines().len() > 20).then_some(())
        });
        f
    }

    fn lines(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.out).unwrap();
        text.lines().map(str::to_string).collect()
    }

    /// Once the logger stopped: the follower printed every line from its
    /// first to the logger's last (one written while it subscribed again
    /// may show twice), so it followed the new daemon.
    fn saw_every_line(mut self, t: &Pmr) {
        let last = t.log("logger-out.log").lines().last().unwrap().to_string();
        wait_until("the follower at the logger's last line", || {
            self.lines().contains(&last).then_some(())
        });
        let _ = self.child.kill();
        let _ = self.child.wait();
        let number = |l: &str| -> u64 { l.strip_prefix("n ").unwrap().parse().unwrap() };
        let numbers: Vec<u64> = self.lines().iter().map(|l| number(l)).collect();
        let (first, end) = (numbers[0], number(&last));
        let mut counts = vec![0u32; (end - first + 1) as usize];
        for n in numbers {
            counts[(n - first) as usize] += 1;
        }
        let missing: Vec<u64> = (first..=end)
            .filter(|n| counts[(n - first) as usize] == 0)
            .collect();
        assert!(missing.is_empty(), "the follower missed {missing:?}");
        assert!(
            counts.iter().all(|&c| c <= 2),
            "a line shown more than twice"
        );
    }
}

#[test]
fn apps_outlive_a_killed_daemon_and_the_next_one_takes_them_over() {
    let t = Pmr::new();
    let port = setup(&t);
    let before = identity(&t);
    let load = Load::start(port);
    wait_until("requests answered", || (load.answered() > 20).then_some(()));
    lines_grow(&t, 60);
    let follower = Follower::start(&t);
    let daemon = t.daemon_pid().unwrap();
    crate::daemon::kill_daemon(&t);
    // Right after: the next daemon shows the truth, the same processes.
    carried_on(&t, load, &before, daemon);
    // The adopted cluster still reloads and shares its port.
    t.ok(&["reload", "web"]);
    wait_until("the port answering after the reload", || {
        http(port, "GET", "/", None)
    });
    every_line_once(&t);
    follower.saw_every_line(&t);
    assert!(
        t.log("web-error-0.log").is_empty(),
        "{}",
        t.log("web-error-0.log")
    );
}

#[test]
fn update_hands_every_app_over_without_a_restart() {
    let t = Pmr::new();
    let port = setup(&t);
    let before = identity(&t);
    let daemon = t.daemon_pid().unwrap();
    let load = Load::start(port);
    wait_until("requests answered", || (load.answered() > 20).then_some(()));
    lines_grow(&t, 60);
    let follower = Follower::start(&t);
    let out = t.ok(&["update"]);
    assert!(out.contains("no app restarted"), "{out}");
    carried_on(&t, load, &before, daemon);
    every_line_once(&t);
    follower.saw_every_line(&t);
}

#[test]
fn an_update_to_a_binary_that_fails_changes_nothing() {
    let t = Pmr::new();
    t.write("quiet.js", "setInterval(() => {}, 1000);\n");
    t.ok(&["start", "quiet.js"]);
    let before = identity(&t);
    let daemon = t.daemon_pid().unwrap();
    // Not a pmr: refused before anything stops.
    let out = t.fails(&["update", "/bin/true"]);
    assert!(out.contains("not a pmr that can take apps over"), "{out}");
    assert_eq!(t.daemon_pid(), Some(daemon), "the same daemon");
    // Passes the probe, then cannot take over: the keeper goes back.
    let real = env!("CARGO_BIN_EXE_pmr");
    let bad = t.write(
        "bad-pmr",
        &format!(
            "#!/bin/sh\n[ \"$2\" = --handover-version ] && exec {real} \"$@\"\necho broken >&2\nexit 3\n"
        ),
    );
    std::fs::set_permissions(&bad, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = t.fails(&["update", bad.to_str().unwrap()]);
    assert!(
        out.contains("the update failed") && out.contains("previous pmr runs again"),
        "{out}"
    );
    assert_eq!(identity(&t), before, "every app as it was");
}

#[test]
fn an_app_that_died_while_no_daemon_ran_is_restarted_with_its_status() {
    let t = Pmr::new();
    t.write("quiet.js", "setInterval(() => {}, 1000);\n");
    t.ok(&["start", "quiet.js", "--name", "a"]);
    t.ok(&["start", "quiet.js", "--name", "b"]);
    let (a, b) = (
        t.proc(0)["pid"].as_i64().unwrap(),
        t.proc(1)["pid"].as_i64().unwrap(),
    );
    let keeper: i32 = std::fs::read_to_string(t.home().join("keeper.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The keeper held still: no daemon until it continues.
    let signal = |sig: &str, pid: i64| {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
    };
    signal("-STOP", keeper.into());
    signal("-9", t.daemon_pid().unwrap().into());
    signal("-9", a);
    signal("-CONT", keeper.into());
    wait_until("a restarted", || {
        let p = t.proc(0);
        (p["pm2_env"]["status"] == "online" && p["pid"].as_i64() != Some(a)).then_some(())
    });
    let a_now = t.proc(0);
    assert_eq!(a_now["pm2_env"]["restart_time"], 1, "{a_now}");
    assert_eq!(t.proc(1)["pid"].as_i64(), Some(b), "b untouched");
    assert_eq!(t.proc(1)["pm2_env"]["restart_time"], 0);
    let log = std::fs::read_to_string(t.home().join("pmr.log")).unwrap();
    assert!(log.contains("via signal [SIGKILL]"), "{log}");
}

#[test]
fn an_update_lets_requests_under_way_finish_and_later_ones_reach_the_new_daemon() {
    let t = Pmr::new();
    // Ignores SIGINT: its stop takes the whole kill_timeout.
    t.write("slow.sh", "trap '' INT; while true; do sleep 1; done\n");
    t.ok(&["start", "slow.sh", "--kill-timeout", "2000"]);
    let daemon = t.daemon_pid().unwrap();
    let mut stop = t.command();
    stop.args(["stop", "slow"]);
    let stop = std::thread::spawn(move || stop.output());
    wait_until("the stop under way", || {
        (t.proc(0)["pm2_env"]["status"] == "stopping").then_some(())
    });
    let update = t.command().arg("update").spawn().unwrap();
    let list = t.jlist();
    let stop = stop.join().unwrap().unwrap();
    assert!(
        stop.status.success(),
        "the stop was cut off: {}",
        String::from_utf8_lossy(&stop.stderr)
    );
    assert!(update.wait_with_output().unwrap().status.success());
    assert_eq!(list.len(), 1);
    assert_eq!(t.status(0), "stopped");
    assert_ne!(t.daemon_pid(), Some(daemon), "a new daemon");
}
