//! The restart policy seen from outside: crashes, kill -9, unstable restarts,
//! backoff, stop exit codes, autorestart off.

use crate::helper::{Pmr, pid_alive, wait_until};

#[test]
fn crash_and_kill_9_restart_with_counters() {
    let t = Pmr::new();
    // Stays up 1.2 s (a stable run), then crashes.
    t.write(
        "crashy.py",
        "import time, sys\ntime.sleep(1.2)\nsys.exit(7)\n",
    );
    t.ok(&["start", "crashy.py"]);
    let p = wait_until("two crashes", || {
        let p = t.proc(0);
        (p["pm2_env"]["restart_time"].as_u64()? >= 2).then_some(p)
    });
    assert_eq!(
        p["pm2_env"]["unstable_restarts"], 0,
        "1.2 s runs are stable"
    );
    assert_eq!(p["pm2_env"]["exit_code"], 7);

    t.write("steady.sh", "while true; do sleep 1; done\n");
    t.ok(&["start", "steady.sh"]);
    let p = t.wait_status(1, "online");
    let pid = p["pid"].as_i64().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    let p = wait_until("a new pid after kill -9", || {
        let p = t.proc(1);
        (p["pid"].as_i64()? != pid && p["pid"].as_i64()? > 0).then_some(p)
    });
    assert_eq!(p["pm2_env"]["restart_time"], 1);
    assert_eq!(p["pm2_env"]["status"], "online");
    assert!(pid_alive(p["pid"].as_i64().unwrap()));
    let log = std::fs::read_to_string(t.home().join("pmr.log")).unwrap();
    assert!(log.contains("via signal [SIGKILL]"), "{log}");
}

#[test]
fn unstable_restarts_end_in_errored() {
    let t = Pmr::new();
    t.write("dies.sh", "exit 1\n");
    t.ok(&["start", "dies.sh", "--max-restarts", "3"]);
    let p = t.wait_status(0, "errored");
    // pm2 observed: three launches, restart_time 2, then errored.
    assert_eq!(p["pm2_env"]["restart_time"], 2);
    assert_eq!(p["pid"], 0);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(
        t.proc(0)["pm2_env"]["restart_time"],
        2,
        "errored apps stay down"
    );
    // A manual start gives it a fresh chance: new launches, errored again.
    let before = t.proc(0)["pm2_env"]["pm_uptime"].as_u64().unwrap();
    t.ok(&["start", "dies"]);
    let p = t.wait_status(0, "errored");
    assert!(
        p["pm2_env"]["pm_uptime"].as_u64().unwrap() > before,
        "no new launch"
    );
    assert_eq!(p["pm2_env"]["restart_time"], 4);
}

#[test]
fn exponential_backoff_grows() {
    let t = Pmr::new();
    t.write("fail.sh", "exit 2\n");
    t.ok(&["start", "fail.sh", "--exp-backoff-restart-delay", "100"]);
    let p = wait_until("four backoff restarts", || {
        let p = t.proc(0);
        (p["pm2_env"]["restart_time"].as_u64()? >= 4).then_some(p)
    });
    assert!(p["pm2_env"]["prev_restart_delay"].as_u64().unwrap() >= 337);
    let log = std::fs::read_to_string(t.home().join("pmr.log")).unwrap();
    let delays: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split("will restart in ").nth(1))
        .filter_map(|d| d.trim_end_matches("ms").parse().ok())
        .take(4)
        .collect();
    assert_eq!(delays, [100, 150, 225, 337], "{log}");
    // Between attempts it waits as `waiting restart`.
    wait_until("waiting restart", || {
        (t.status(0) == "waiting restart").then_some(())
    });
    // Stopping cancels the pending restart.
    t.ok(&["stop", "fail"]);
    let rt = t.proc(0)["pm2_env"]["restart_time"].clone();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let p = t.proc(0);
    assert_eq!(p["pm2_env"]["status"], "stopped");
    assert_eq!(p["pm2_env"]["restart_time"], rt);
}

#[test]
fn stop_exit_codes_and_no_autorestart() {
    let t = Pmr::new();
    t.write("three.sh", "sleep 0.2; exit 3\n");
    t.ok(&["start", "three.sh", "--stop-exit-codes", "3"]);
    let p = t.wait_status(0, "stopped");
    assert_eq!(p["pm2_env"]["restart_time"], 0);
    assert_eq!(p["pm2_env"]["exit_code"], 3);

    t.write("once.sh", "echo done\n");
    t.ok(&["start", "once.sh", "--no-autorestart"]);
    let p = t.wait_status(1, "stopped");
    assert_eq!(p["pm2_env"]["restart_time"], 0);
    assert_eq!(p["pm2_env"]["exit_code"], 0);
}

#[test]
fn restart_delay_waits() {
    let t = Pmr::new();
    t.write("quick.sh", "sleep 0.1; exit 1\n");
    t.ok(&["start", "quick.sh", "--restart-delay", "3000"]);
    wait_until("waiting restart", || {
        (t.status(0) == "waiting restart").then_some(())
    });
    // As in pm2, a restart counts when it happens, not when it is planned.
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 0);
    wait_until("restarted after the delay", || {
        (t.proc(0)["pm2_env"]["restart_time"].as_u64()? >= 1).then_some(())
    });
}

#[test]
fn memory_hog_restarts_within_a_couple_of_samples() {
    let t = Pmr::new();
    // Holds about 200 MiB, touched so it is resident.
    t.write("hog.py", "import time\nb = bytearray(200 * 1024 * 1024)\nfor i in range(0, len(b), 4096):\n    b[i] = 1\nprint('full', flush=True)\ntime.sleep(300)\n");
    t.ok(&["start", "hog.py", "--max-memory-restart", "100M"]);
    wait_until("the hog is full", || {
        t.log("hog-out.log").contains("full").then_some(())
    });
    let full_at = std::time::Instant::now();
    wait_until("a memory restart", || {
        (t.proc(0)["pm2_env"]["restart_time"].as_u64()? >= 1).then_some(())
    });
    // pm2 checks every 30 s; pmr on every 1 s sample. The bound is loose on
    // purpose (a loaded machine), yet far below pm2's interval.
    let took = full_at.elapsed();
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    let log = std::fs::read_to_string(t.home().join("pmr.log")).unwrap();
    assert!(log.contains("max_memory_restart"), "{log}");
    let err = t.fails(&["start", "--max-memory-restart", "lots", "--", "sleep", "1"]);
    assert!(err.contains("--max-memory-restart"), "{err}");
}

#[test]
fn cron_restart_fires_on_schedule_even_after_a_stop() {
    let t = Pmr::new();
    t.write("steady.sh", "while true; do sleep 1; done\n");
    t.ok(&["start", "steady.sh", "--cron-restart", "*/2 * * * * *"]);
    wait_until("two cron restarts", || {
        (t.proc(0)["pm2_env"]["restart_time"].as_u64()? >= 2).then_some(())
    });
    let log = std::fs::read_to_string(t.home().join("pmr.log")).unwrap();
    assert!(log.contains("restarted by cron_restart"), "{log}");
    // As in pm2: the cron starts a stopped app again.
    t.ok(&["stop", "steady"]);
    assert_eq!(t.proc(0)["pm2_env"]["status"], "stopped");
    wait_until("started again by the cron", || {
        (t.proc(0)["pm2_env"]["status"] == "online").then_some(())
    });
    t.ok(&["delete", "steady"]);
    let err = t.fails(&[
        "start",
        "--cron-restart",
        "61 * * * *",
        "--name",
        "x",
        "--",
        "sleep",
        "5",
    ]);
    assert!(err.contains("cron pattern"), "{err}");
}

#[test]
fn cron_restart_runs_a_job_that_exited_again() {
    let t = Pmr::new();
    // A job: runs, writes, exits; no autorestart, the cron starts it again.
    t.write("job.sh", "echo ran >> runs.txt\n");
    t.ok(&[
        "start",
        "job.sh",
        "--cron-restart",
        "*/2 * * * * *",
        "--no-autorestart",
    ]);
    wait_until("the job ran three times", || {
        let runs = std::fs::read_to_string(t.work().join("runs.txt")).ok()?;
        (runs.lines().count() >= 3).then_some(())
    });
}

#[test]
fn watch_restarts_on_a_change_but_not_for_ignored_paths_or_its_own_logs() {
    let t = Pmr::new();
    std::fs::create_dir_all(t.work().join("src")).unwrap();
    std::fs::create_dir_all(t.work().join("cache")).unwrap();
    // The app logs into the watched directory itself, every 100 ms.
    t.write("w.sh", "while true; do echo tick; sleep 0.1; done\n");
    t.ok(&[
        "start",
        "w.sh",
        "-o",
        "out.log",
        "--watch",
        "--ignore-watch",
        "cache",
    ]);
    t.wait_status(0, "online");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        t.proc(0)["pm2_env"]["restart_time"],
        0,
        "its own log restarted it"
    );
    std::fs::write(t.work().join("cache/x"), "ignored").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(
        t.proc(0)["pm2_env"]["restart_time"],
        0,
        "an ignored path restarted it"
    );
    std::fs::write(t.work().join("src/app.js"), "changed").unwrap();
    wait_until("a watch restart", || {
        (t.proc(0)["pm2_env"]["restart_time"].as_u64()? >= 1).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(
        t.proc(0)["pm2_env"]["restart_time"],
        1,
        "one change, one restart"
    );
    // A stopped app is not watched.
    t.ok(&["stop", "w"]);
    std::fs::write(t.work().join("src/app.js"), "changed again").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(t.proc(0)["pm2_env"]["status"], "stopped");
    // The stop also ended watching, as in pm2: a plain restart keeps it off.
    let table = t.ok(&["restart", "w"]);
    assert!(table.contains("disabled"), "{table}");
    let before = t.proc(0)["pm2_env"]["restart_time"].as_u64().unwrap();
    std::fs::write(t.work().join("src/app.js"), "not watched").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1000));
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], before);
    // `restart --watch` toggles it on again, over the app's directory.
    let table = t.ok(&["restart", "w", "--watch"]);
    assert!(table.contains("enabled"), "{table}");
    assert!(t.ok(&["describe", "w"]).contains("✔"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = t.proc(0)["pm2_env"]["restart_time"].as_u64().unwrap();
    std::fs::write(t.work().join("src/app.js"), "watched again").unwrap();
    wait_until("a watch restart after the toggle", || {
        (t.proc(0)["pm2_env"]["restart_time"].as_u64()? > before).then_some(())
    });
    // `stop --watch` ends watching for good: a plain restart does not bring it back.
    t.ok(&["stop", "w", "--watch"]);
    let table = t.ok(&["restart", "w"]);
    assert!(table.contains("disabled"), "{table}");
}

#[test]
fn watch_shows_as_pm2_shows_it_and_a_plain_stop_ends_it() {
    let t = Pmr::new();
    t.write("w.sh", "while true; do sleep 1; done\n");
    let watch = |t: &Pmr| t.proc(0)["pm2_env"]["watch"].clone();
    t.ok(&["start", "w.sh", "--watch"]);
    assert_eq!(watch(&t), serde_json::json!(true));
    t.ok(&["stop", "w"]);
    assert_eq!(
        watch(&t),
        serde_json::json!(false),
        "a stop ends watching, as in pm2"
    );
    t.ok(&["start", "w"]);
    assert_eq!(watch(&t), serde_json::json!(false));
    t.ok(&["restart", "w", "--watch"]);
    assert_eq!(watch(&t), serde_json::json!(true));
    t.ok(&["restart", "w", "--watch"]);
    assert_eq!(watch(&t), serde_json::json!(false));
    // Starting the stopped app's script with --watch watches it again.
    t.ok(&["stop", "w"]);
    t.ok(&["start", "w.sh", "--watch"]);
    assert_eq!(watch(&t), serde_json::json!(true));
}

#[test]
fn restart_takes_app_options_as_pm2_does() {
    let t = Pmr::new();
    t.write("app.js", "setInterval(() => {}, 1000);\n");
    t.ok(&["start", "app.js", "--cron-restart", "*/2 * * * * *"]);
    t.wait_status(0, "online");
    // `--cron-restart 0` removes the schedule.
    t.ok(&["restart", "app", "--cron-restart", "0"]);
    assert!(
        t.proc(0)["pm2_env"]["cron_restart"].is_null(),
        "{}",
        t.proc(0)["pm2_env"]
    );
    t.ok(&["reset", "app"]);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert_eq!(
        t.proc(0)["pm2_env"]["restart_time"],
        0,
        "the cron still fired"
    );
    // `--node-args` sets the interpreter's arguments (none at first, shown
    // as `[]`); `null` removes them.
    assert_eq!(t.proc(0)["pm2_env"]["node_args"], serde_json::json!([]));
    t.ok(&["restart", "app", "--node-args", "--max-old-space-size=100"]);
    assert_eq!(
        t.proc(0)["pm2_env"]["node_args"],
        serde_json::json!(["--max-old-space-size=100"])
    );
    // pm2 shows no `node_args` key at all once they are removed.
    t.ok(&["restart", "app", "--node-args=null"]);
    let env = &t.proc(0)["pm2_env"];
    assert!(env.get("node_args").is_none(), "{env}");
    // A bad pattern changes nothing.
    let err = t.fails(&["restart", "app", "--cron-restart", "61 * * * *"]);
    assert!(err.contains("cron"), "{err}");
    // A new name, with restart or with start, as pm2 renames.
    t.ok(&["restart", "0", "--name=renamed"]);
    assert_eq!(t.proc(0)["name"], "renamed");
    t.ok(&["restart", "renamed"]);
    t.ok(&["start", "0", "--name=again"]);
    assert_eq!(t.proc(0)["name"], "again");
    t.ok(&["start", "again", "--node-args=--harmony"]);
    assert_eq!(
        t.proc(0)["pm2_env"]["node_args"],
        serde_json::json!(["--harmony"])
    );
}

/// A restart refused for a bad option changes nothing, not even the
/// environment `--update-env` carries or the watch `--watch` toggles.
#[test]
fn a_refused_restart_leaves_env_and_watch_as_they_were() {
    let t = Pmr::new();
    t.write("calm.sh", "while true; do sleep 1; done\n");
    t.ok(&["start", "calm.sh"]);
    t.wait_status(0, "online");
    let out = t
        .command()
        .env("PMR_TEST_NEW_VAR", "landed")
        .args(["restart", "calm", "--update-env", "--watch"])
        .args(["--cron-restart", "61 * * * *"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("cron pattern"),
        "{err}"
    );
    let env = &t.proc(0)["pm2_env"];
    assert!(env.get("PMR_TEST_NEW_VAR").is_none(), "{env}");
    assert!(env["env"].get("PMR_TEST_NEW_VAR").is_none(), "{env}");
    assert_ne!(env["watch"], true, "{env}");
    assert_eq!(env["restart_time"], 0, "{env}");
}
