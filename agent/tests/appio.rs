//! App IPC for Node apps: the real @pm2/io package from npm (metrics in
//! describe and jlist, actions through `pmr trigger`), sendDataToProcessId,
//! shutdown_with_message.

use std::path::PathBuf;
use std::process::Command;

use crate::helper::{Pmr, wait_until};

/// Installs @pm2/io into `dir`; `None` (with the reason printed) only when
/// npm cannot reach its registry.
fn install_pm2_io(dir: &std::path::Path) -> Option<PathBuf> {
    let out = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--silent", "@pm2/io"])
        .current_dir(dir)
        .output()
        .expect("npm runs");
    if !out.status.success() {
        let ping = Command::new("npm").arg("ping").output().expect("npm runs");
        if !ping.status.success() {
            eprintln!(
                "SKIPPED: npm cannot reach its registry, so @pm2/io cannot be installed:\n{}",
                String::from_utf8_lossy(&ping.stderr)
            );
            return None;
        }
        panic!(
            "npm install @pm2/io failed although the registry answers:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(dir.join("node_modules"))
}

const APP: &str = r#"const io = require('@pm2/io');
io.metric({ name: 'Queue size', unit: 'jobs' }).set(42);
const done = io.counter({ name: 'Done jobs' });
done.inc(); done.inc(); done.inc();
const rate = io.meter({ name: 'ticks/sec' });
setInterval(() => rate.mark(), 50);
const latency = io.histogram({ name: 'latency', measurement: 'mean' });
[10, 20, 30].forEach((v) => latency.update(v));
io.action('hello', (reply) => reply({ greeting: 'hi' }));
io.action('echo', (param, reply) => reply({ got: param }));
process.on('message', (p) => {
  if (p && p.type === 'process:msg') console.log('got', p.topic, JSON.stringify(p.data));
});
setInterval(() => {}, 1000);
"#;

#[test]
fn pm2_io_metrics_and_actions_work_unchanged() {
    let t = Pmr::new();
    if install_pm2_io(t.work()).is_none() {
        return;
    }
    t.write("app.js", APP);
    t.ok(&["start", "app.js"]);
    let env = wait_until("the app's metrics in jlist", || {
        let p = t.proc(0);
        let m = &p["pm2_env"]["axm_monitor"];
        (m["Queue size"]["value"] == 42
            && m["Done jobs"]["value"] == 3
            && m["latency"]["value"] == 20)
            .then_some(p["pm2_env"].clone())
    });
    assert_eq!(env["axm_monitor"]["Queue size"]["unit"], "jobs");
    let actions: Vec<&str> = env["axm_actions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["action_name"].as_str())
        .collect();
    assert!(
        actions.contains(&"hello") && actions.contains(&"echo"),
        "{actions:?}"
    );
    // The meter rises once @pm2/io has a few samples.
    wait_until("the meter's rate", || {
        let v = t.proc(0)["pm2_env"]["axm_monitor"]["ticks/sec"]["value"].as_f64()?;
        (v > 1.0).then_some(())
    });
    let describe = t.ok(&["describe", "app"]);
    assert!(describe.contains("Code metrics value"), "{describe}");
    assert!(describe.contains("42 jobs"), "{describe}");
    assert!(
        describe.contains("hello, echo") || describe.contains("hello"),
        "{describe}"
    );
    let out = t.ok(&["trigger", "app", "hello"]);
    assert!(out.contains(r#"{"greeting":"hi"}"#), "{out}");
    let out = t.ok(&["trigger", "app", "echo", "world"]);
    assert!(out.contains(r#"{"got":"world"}"#), "{out}");
    let err = t.fails(&["trigger", "app", "nope"]);
    assert!(
        err.contains("not registered") && err.contains("hello"),
        "{err}"
    );
    let err = t.fails(&["trigger", "ghost", "hello"]);
    assert!(err.contains("ghost"), "{err}");
    t.ok(&["sendDataToProcessId", "0", r#"{"n":7}"#, "--topic", "jobs"]);
    wait_until("the message received", || {
        t.log("app-out.log")
            .contains(r#"got jobs {"n":7}"#)
            .then_some(())
    });
}

#[test]
fn shutdown_with_message_asks_instead_of_signalling() {
    let t = Pmr::new();
    // Ignores SIGINT; leaves only when asked by message.
    t.write(
        "polite.js",
        "process.on('SIGINT', () => console.log('SIGINT ignored'));\n\
         process.on('message', (m) => { if (m === 'shutdown') { console.log('bye by message'); process.exit(0); } });\n\
         setInterval(() => {}, 1000);\n",
    );
    t.ok(&[
        "start",
        "polite.js",
        "--shutdown-with-message",
        "-k",
        "20000",
    ]);
    t.wait_status(0, "online");
    let started = std::time::Instant::now();
    t.ok(&["stop", "polite"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "the stop waited for kill_timeout: the message did not arrive"
    );
    let log = t.log("polite-out.log");
    assert!(
        log.contains("bye by message") && !log.contains("SIGINT ignored"),
        "{log}"
    );
    assert_eq!(t.status(0), "stopped");
    // A non-Node app has no channel: sendDataToProcessId says so.
    t.write("plain.sh", "sleep 1000\n");
    t.ok(&["start", "plain.sh"]);
    let err = t.fails(&["sendDataToProcessId", "1", "hi"]);
    assert!(err.contains("no IPC channel"), "{err}");
}

#[test]
fn notify_socket_gives_any_language_ready_status_and_metrics() {
    let t = Pmr::new();
    // A child of the app sends the metric: it is credited to the app (the
    // daemon finds the app through the sender's parents, so the child
    // lives a moment after sending, as a worker would; one that exits at
    // once may be gone from /proc before the daemon looks).
    t.write(
        "svc.py",
        r#"import os, socket, subprocess, sys, time
def notify(msg):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.connect(os.environ["PMR_NOTIFY_SOCKET"])
    s.send(msg.encode())
    s.close()
assert os.environ["NOTIFY_SOCKET"] == os.environ["PMR_NOTIFY_SOCKET"]
time.sleep(1)
notify("READY=1\nSTATUS=warmed up")
subprocess.run([sys.executable, "-c", "import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.connect(os.environ['NOTIFY_SOCKET']); s.send(b'METRIC=queue=7 jobs'); import time; time.sleep(3)"])
print("notified", flush=True)
time.sleep(100000)
"#,
    );
    t.ok(&[
        "start",
        "svc.py",
        "--wait-ready",
        "--listen-timeout",
        "20000",
    ]);
    assert_eq!(t.status(0), "launching", "waits for READY=1");
    t.wait_status(0, "online");
    let m = wait_until("the child's metric", || {
        let m = t.proc(0)["pm2_env"]["axm_monitor"].clone();
        (m["queue"]["value"] == 7.0).then_some(m)
    });
    assert_eq!(m["queue"]["unit"], "jobs");
    assert_eq!(m["status"]["value"], "warmed up");
    assert!(t.ok(&["describe", "svc"]).contains("7 jobs"));
}

#[test]
fn pm2s_environment_switches_work_under_pmrs_prefix() {
    let t = Pmr::new();
    t.write(
        "polite.js",
        "process.on('SIGINT', () => console.log('SIGINT ignored'));\n\
         process.on('message', (m) => { if (m === 'shutdown') { console.log('bye by message'); process.exit(0); } });\n\
         setInterval(() => {}, 1000);\n",
    );
    let pid_file = t.work().join("elsewhere.pid");
    let run = |args: &[&str]| {
        let out = t
            .command()
            .args(args)
            .env("PMR_SILENT", "true")
            .env("PMR_KILL_USE_MESSAGE", "true")
            .env("PMR_PID_FILE_PATH", &pid_file)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    // PMR_SILENT: the table and messages are not printed.
    let out = run(&["start", "polite.js", "-k", "20000"]);
    assert!(out.trim().is_empty(), "printed: {out}");
    // PMR_PID_FILE_PATH: the daemon's pid is there.
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    assert!(pid.trim().parse::<u32>().is_ok(), "{pid}");
    // PMR_KILL_USE_MESSAGE: every app is asked by message.
    t.wait_status(0, "online");
    run(&["stop", "polite"]);
    let log = t.log("polite-out.log");
    assert!(
        log.contains("bye by message") && !log.contains("SIGINT ignored"),
        "{log}"
    );
    // An empty PMR_SILENT (`PM2_SILENT=` in a script) is off, not an error.
    let out = t
        .command()
        .arg("list")
        .env("PMR_SILENT", "")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("polite"));
    run(&["kill"]);
}
