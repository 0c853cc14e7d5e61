//! `pmr-runtime` in the foreground: as PID 1 of a new PID namespace it reaps
//! inherited orphans and turns SIGTERM into a graceful stop; it runs
//! ecosystem files and prints JSON lines.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use pmr_agent::procfs::{Threads, children};

use crate::helper::wait_until;

fn zombies_of(pid: u32) -> usize {
    let kids = children(pid, Threads::Main).unwrap_or_default();
    kids.iter()
        .filter(|k| {
            std::fs::read_to_string(format!("/proc/{k}/stat"))
                .ok()
                .and_then(|s| s.rsplit_once(") ").map(|(_, r)| r.starts_with('Z')))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn as_pid_1_it_reaps_orphans_and_forwards_sigterm() {
    if Command::new("unshare")
        .args(["--pid", "--fork", "true"])
        .status()
        .map_or(true, |s| !s.success())
    {
        eprintln!("skipped: this machine cannot create PID namespaces (unshare --pid)");
        return;
    }
    let home = tempfile::Builder::new()
        .prefix("pmr")
        .tempdir_in("/tmp")
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    // Each subshell leaves a short-lived orphan behind, reparented to PID 1.
    std::fs::write(
        work.path().join("orphans.sh"),
        "for i in 1 2 3 4 5; do (sleep 0.3 &); done\ntrap 'echo got TERM; exit 0' TERM\necho started\nwhile true; do sleep 0.2; done\n",
    )
    .unwrap();
    // A failed assertion must not leave the namespace running (nor holding
    // the test runner's output): killed on drop, stderr not inherited.
    struct Reaped(std::process::Child);
    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut guard = Reaped(
        Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child"])
            .arg(env!("CARGO_BIN_EXE_pmr-runtime"))
            .args(["orphans.sh", "--raw", "--kill-signal", "SIGTERM"])
            .current_dir(work.path())
            .env("PMR_HOME", home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let child = &mut guard.0;
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "started");
    // The runtime is unshare's child (PID 1 inside).
    let runtime = wait_until("the runtime", || {
        children(child.id(), Threads::Main)?.first().copied()
    });
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(zombies_of(runtime), 0, "orphans left as zombies");
    Command::new("kill")
        .args(["-TERM", &runtime.to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert!(
        rest.contains("got TERM"),
        "the app did not get SIGTERM: {rest}"
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn runs_an_ecosystem_file_with_json_output() {
    let home = tempfile::Builder::new()
        .prefix("pmr")
        .tempdir_in("/tmp")
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("hello.sh"), "echo \"hello $GREETING\"\n").unwrap();
    std::fs::write(
        work.path().join("eco.yaml"),
        "apps:\n  - name: hello\n    script: hello.sh\n    autorestart: false\n    env:\n      GREETING: world\n    env_production:\n      GREETING: prod\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pmr-runtime"))
        .args(["eco.yaml", "--env", "production", "--json"])
        .current_dir(work.path())
        .env("PMR_HOME", home.path())
        .output()
        .unwrap();
    // The app ends on its own; the runtime follows with success.
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rec: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(rec["message"], "hello prod");
    assert_eq!(rec["app_name"], "hello");
}

#[test]
fn sighup_reloads_a_cluster_without_failing_a_request() {
    use crate::cluster::{NODE_SERVER, free_port, get_pid, load};
    let home = tempfile::Builder::new()
        .prefix("pmr")
        .tempdir_in("/tmp")
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("server.js"), NODE_SERVER).unwrap();
    let port = free_port();
    struct Stopped(std::process::Child);
    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut runtime = Stopped(
        Command::new(env!("CARGO_BIN_EXE_pmr-runtime"))
            .args(["server.js", "-i", "2", "--port", &port.to_string()])
            .current_dir(work.path())
            .env("PMR_HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let first = crate::helper::wait_until("the cluster answering", || get_pid(port));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients = load(port, stop.clone());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let pid = runtime.0.id().to_string();
    Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    // Both instances replaced: the first pid no longer answers.
    crate::helper::wait_until("new instances answering", || {
        let answered: Vec<u32> = (0..20).filter_map(|_| get_pid(port)).collect();
        (answered.len() == 20 && !answered.contains(&first)).then_some(())
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (seen, failed) = clients.join().unwrap();
    assert!(
        failed.is_empty(),
        "{} requests failed during the reload",
        failed.len()
    );
    assert!(seen.len() >= 3, "old and new instances answered: {seen:?}");
    // SIGTERM still ends it cleanly.
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(runtime.0.wait().unwrap().success());
}
