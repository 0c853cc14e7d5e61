//! The daemon itself: socket, pid file, version check, kill, SIGTERM save,
//! resurrect, update.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;

use crate::helper::{Pmr, pid_alive, wait_until};

#[test]
fn socket_is_private_and_ping_starts_the_daemon() {
    let t = Pmr::new();
    assert_eq!(t.ok(&["ping"]).trim(), "{ msg: 'pong' }");
    let mode = std::fs::metadata(t.home().join("rpc.sock"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let pid = t.daemon_pid().unwrap();
    assert!(pid_alive(pid.into()));
    // A second call talks to the same daemon.
    t.ok(&["ping"]);
    assert_eq!(t.daemon_pid(), Some(pid));
}

#[test]
fn stale_socket_and_pid_file_are_replaced() {
    let t = Pmr::new();
    // A socket nobody listens on, and a pid file naming a dead process.
    drop(UnixListener::bind(t.home().join("rpc.sock")).unwrap());
    std::fs::write(t.home().join("pm2.pid"), "999999").unwrap();
    t.ok(&["ping"]);
    let pid = t.daemon_pid().unwrap();
    assert_ne!(pid, 999999);
    assert!(pid_alive(pid.into()));
}

#[test]
fn daemon_of_another_version_is_reported() {
    let t = Pmr::new();
    // A stand-in daemon that speaks a future protocol, listening before the
    // CLI runs so that it cannot start a real one.
    let listener = UnixListener::bind(t.home().join("rpc.sock")).unwrap();
    let fake = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        use std::io::{BufRead, BufReader, Write};
        let mut line = String::new();
        BufReader::new(conn.try_clone().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert!(line.contains("\"hello\""));
        conn.write_all(b"{\"reply\":\"hello\",\"protocol\":999,\"version\":\"9.0.0\",\"pid\":1}\n")
            .unwrap();
    });
    let err = t.fails(&["list"]);
    fake.join().unwrap();
    assert!(err.contains("9.0.0") && err.contains("pmr update"), "{err}");
}

#[test]
fn kill_stops_apps_and_daemon() {
    let t = Pmr::new();
    t.write("k.sh", "sleep 300\n");
    t.ok(&["start", "k.sh"]);
    let app = t.wait_status(0, "online")["pid"].as_i64().unwrap();
    let daemon = t.daemon_pid().unwrap();
    t.ok(&["kill"]);
    assert!(!pid_alive(app));
    assert!(!pid_alive(daemon.into()));
    assert!(!t.home().join("rpc.sock").exists());
    // `kill` does not save, as in pm2.
    assert!(!t.home().join("dump.pm2").exists());
    let out = t.ok(&["kill"]);
    assert!(out.contains("No daemon running"), "{out}");
}

#[test]
fn sigterm_saves_and_resurrect_restores_state() {
    let t = Pmr::new();
    t.write("a.sh", "sleep 300\n");
    t.write("b.sh", "sleep 300\n");
    let out = t
        .command()
        .args(["start", "a.sh", "--namespace", "ns1", "--max-restarts", "5"])
        .env("KEEP_ME", "across-restarts")
        .output()
        .unwrap();
    assert!(out.status.success());
    t.ok(&["start", "b.sh"]);
    t.ok(&["stop", "b"]);
    let app = t.wait_status(0, "online")["pid"].as_i64().unwrap();
    let daemon = t.daemon_pid().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &daemon.to_string()])
        .status()
        .unwrap();
    wait_until("daemon exit", || (!pid_alive(daemon.into())).then_some(()));
    assert!(!pid_alive(app), "apps stop with the daemon");
    let dump: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(t.home().join("dump.pm2")).unwrap()).unwrap();
    assert_eq!(dump.as_array().unwrap().len(), 2);

    t.ok(&["resurrect"]);
    let list = t.jlist();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "a");
    assert_eq!(list[0]["pm2_env"]["namespace"], "ns1");
    assert_eq!(list[0]["pm2_env"]["max_restarts"], 5);
    assert_eq!(list[0]["pm2_env"]["status"], "online");
    assert_eq!(list[1]["name"], "b");
    assert_eq!(
        list[1]["pm2_env"]["status"], "stopped",
        "stopped apps stay stopped"
    );
    // The environment and the files survive, unchanged.
    assert_eq!(list[0]["pm2_env"]["env"]["KEEP_ME"], "across-restarts");
    let pid_path = list[0]["pm2_env"]["pm_pid_path"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(pid_path.ends_with("/pids/a-0.pid"), "{pid_path}");
    // Nothing starts twice.
    t.ok(&["resurrect"]);
    assert_eq!(t.jlist().len(), 2);
    // A second save/resurrect cycle keeps names and instance numbers.
    t.ok(&["start", "b.sh", "-i", "2", "-f", "--name", "multi"]);
    t.ok(&["save"]);
    t.ok(&["kill"]);
    t.ok(&["resurrect"]);
    let list = t.jlist();
    let instances: Vec<i64> = list
        .iter()
        .filter(|p| p["name"] == "multi")
        .map(|p| p["pm2_env"]["NODE_APP_INSTANCE"].as_i64().unwrap())
        .collect();
    assert_eq!(instances, [0, 1]);
    assert!(
        list[0]["pm2_env"]["pm_pid_path"]
            .as_str()
            .unwrap()
            .ends_with("/pids/a-0.pid")
    );
    // An empty list does not overwrite the dump without --force.
    t.ok(&["delete", "all"]);
    let err = t.fails(&["save"]);
    assert!(err.contains("--force"), "{err}");
}

#[test]
fn update_restarts_the_daemon_and_keeps_apps() {
    let t = Pmr::new();
    t.write("u.sh", "sleep 300\n");
    t.ok(&["start", "u.sh"]);
    t.wait_status(0, "online");
    let before = t.daemon_pid().unwrap();
    t.ok(&["update"]);
    let after = t.daemon_pid().unwrap();
    assert_ne!(before, after);
    assert!(!pid_alive(before.into()));
    let p = t.wait_status(0, "online");
    assert_eq!(p["name"], "u");
}

/// A daemon that cannot hand over (no keeper) says so by its error kind,
/// and `pmr update` restarts it instead, keeping the apps.
#[test]
fn update_of_a_daemon_without_a_keeper_restarts_it_instead() {
    let t = Pmr::new();
    t.write("k.sh", "sleep 300\n");
    let first = t
        .command()
        .env("PMR_NO_KEEPER", "1")
        .args(["start", "k.sh"])
        .output()
        .unwrap();
    assert!(first.status.success());
    t.wait_status(0, "online");
    let before = t.daemon_pid().unwrap();
    let out = t.ok(&["update"]);
    assert!(
        out.contains("cannot be handed over: restarting the daemon and its apps instead"),
        "{out}"
    );
    assert_ne!(t.daemon_pid().unwrap(), before);
    assert_eq!(t.wait_status(0, "online")["name"], "k");
}

#[test]
fn startup_writes_a_valid_unit_and_unstartup_removes_it() {
    let t = Pmr::new();
    let dir = t.work().join("units");
    let dir_s = dir.to_str().unwrap();
    let out = t.ok(&[
        "startup",
        "systemd",
        "--unit-dir",
        dir_s,
        "--service-name",
        "pmr-test",
    ]);
    assert!(out.contains("Wrote"), "{out}");
    let unit_path = dir.join("pmr-test.service");
    let unit = std::fs::read_to_string(&unit_path).unwrap();
    assert!(
        unit.contains(&format!("Environment=PMR_HOME={}", t.home().display())),
        "{unit}"
    );
    assert!(
        unit.contains(" resurrect\n") && unit.contains("Type=forking"),
        "{unit}"
    );
    assert!(
        unit.contains(&format!("PIDFile={}/keeper.pid", t.home().display())),
        "{unit}"
    );
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let v = std::process::Command::new("systemd-analyze")
            .arg("verify")
            .arg(&unit_path)
            .output()
            .unwrap();
        assert!(v.status.success(), "{}", String::from_utf8_lossy(&v.stderr));
        assert!(
            v.stderr.is_empty(),
            "warnings: {}",
            String::from_utf8_lossy(&v.stderr)
        );
    }
    let err = t.fails(&["startup", "upstart", "--unit-dir", dir_s]);
    assert!(err.contains("upstart"), "{err}");
    t.ok(&[
        "unstartup",
        "--unit-dir",
        dir_s,
        "--service-name",
        "pmr-test",
    ]);
    assert!(!unit_path.exists());
    // What the unit runs at boot works before anything was saved.
    let out = t.ok(&["resurrect"]);
    assert!(out.contains("nothing to restore"), "{out}");
}

#[test]
fn a_broken_dump_is_removed_and_the_backup_restores() {
    let t = Pmr::new();
    t.write("a.sh", "sleep 300\n");
    t.ok(&["start", "a.sh"]);
    t.ok(&["save"]);
    // A second save keeps the first as dump.pm2.bak; then the dump breaks.
    t.ok(&["save"]);
    std::fs::write(t.home().join("dump.pm2"), "{ not json").unwrap();
    t.ok(&["kill"]);
    let out = t.ok(&["resurrect"]);
    assert!(
        out.contains("restored from") || t.jlist().len() == 1,
        "{out}"
    );
    assert_eq!(t.jlist()[0]["name"], "a");
    assert!(!t.home().join("dump.pm2").exists(), "the broken dump stays");
}

/// A daemon without a keeper (an older pmr, `PMR_NO_KEEPER`) takes its
/// apps with it; the next one restores the list and runs nothing twice.
#[test]
fn a_daemon_killed_without_save_loses_no_app() {
    let t = Pmr::new();
    t.write("quiet.js", "setInterval(() => {}, 1000);\n");
    t.write("job.sh", "sleep 300\n");
    let first = t
        .command()
        .env("PMR_NO_KEEPER", "1")
        .args(["start", "quiet.js"])
        .output()
        .unwrap();
    assert!(first.status.success());
    t.ok(&["restart", "quiet"]);
    t.ok(&["start", "job.sh", "-i", "2"]);
    t.ok(&["stop", "2"]);
    let old_quiet = t.proc(0)["pid"].as_i64().unwrap();
    // Another process that will wear a listed pid: never taken for the app.
    let mut stranger = std::process::Command::new("sleep")
        .arg("300")
        .spawn()
        .unwrap();
    let list = t.home().join("list.json");
    wait_until("the list on disk", || {
        let text = std::fs::read_to_string(&list).ok()?;
        (text.matches("\"pm_id\"").count() == 3 && text.contains("\"stopped\"")).then_some(())
    });
    let mut entries: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&list).unwrap()).unwrap();
    // The real instance 1 (left running by the keeper-less daemon) is
    // stopped at the end, whatever happens to it.
    let real_job = entries[1]["pid"].as_i64().unwrap_or(0);
    entries[1]["pid"] = stranger.id().into();
    std::fs::write(&list, serde_json::to_vec(&entries).unwrap()).unwrap();
    kill_daemon(&t);
    // The next command's daemon restores the list before it answers.
    let got: Vec<(u64, String, String, u64)> = t
        .jlist()
        .iter()
        .map(|p| {
            (
                p["pm_id"].as_u64().unwrap(),
                p["name"].as_str().unwrap().to_string(),
                p["pm2_env"]["status"].as_str().unwrap().to_string(),
                p["pm2_env"]["restart_time"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got[0],
        (0, "quiet".into(), "online".into(), 1),
        "counters kept"
    );
    assert_eq!(got[1].1, "job");
    assert_eq!(
        got[2],
        (2, "job".into(), "stopped".into(), 0),
        "stopped stays stopped"
    );
    // Never twice: the old process was stopped before the new one started,
    // and the stranger with a listed pid was left alone.
    assert!(
        !pid_alive(old_quiet),
        "the old instance still runs beside the new one"
    );
    assert!(
        stranger.try_wait().unwrap().is_none(),
        "a reused pid was signalled"
    );
    stranger.kill().unwrap();
    if real_job > 0 {
        let _ = std::process::Command::new("kill")
            .args(["-9", &real_job.to_string()])
            .status();
    }
    // Now under a keeper: a second kill loses nothing, and the apps keep
    // running, taken over by the next daemon.
    let second = t.proc(0)["pid"].as_i64().unwrap();
    wait_listed(&t, second);
    kill_daemon(&t);
    assert_eq!(t.jlist().len(), 3);
    assert_eq!(t.proc(0)["pid"].as_i64(), Some(second), "taken over");
    // A clean exit leaves nothing to restore.
    t.ok(&["kill"]);
    assert_eq!(std::fs::read_to_string(&list).unwrap().trim(), "[]");
}

#[test]
fn kill_after_a_killed_daemon_stops_what_it_left_running() {
    let t = Pmr::new();
    t.write("quiet.js", "setInterval(() => {}, 1000);\n");
    t.ok(&["start", "quiet.js"]);
    let app = t.proc(0)["pid"].as_i64().unwrap();
    let list = t.home().join("list.json");
    wait_listed(&t, app);
    kill_daemon(&t);
    assert!(pid_alive(app), "a quiet app outlives its daemon");
    let out = t.ok(&["kill"]);
    assert!(out.contains("Daemon stopped"), "{out}");
    wait_until("the app stopped", || (!pid_alive(app)).then_some(()));
    assert_eq!(std::fs::read_to_string(&list).unwrap().trim(), "[]");
}

/// `kill -9` of the daemon, waiting until it is gone.
/// `kill -9` of the daemon, and waits until it is gone.
pub(crate) fn kill_daemon(t: &Pmr) {
    let daemon = t.daemon_pid().unwrap();
    std::process::Command::new("kill")
        .args(["-9", &daemon.to_string()])
        .status()
        .unwrap();
    wait_until("the daemon gone", || {
        (!pid_alive(daemon.into())).then_some(())
    });
}

/// Waits until `list.json` names `pid` (the list on disk is current).
fn wait_listed(t: &Pmr, pid: i64) {
    let list = t.home().join("list.json");
    wait_until("the pid in list.json", || {
        std::fs::read_to_string(&list)
            .ok()?
            .contains(&format!("\"pid\": {pid}"))
            .then_some(())
    });
}
