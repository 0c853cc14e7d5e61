//! What an unlucky or hostile user runs into: programs that cannot be run,
//! bad names, broken saved lists, bad flag values. Each is a clear error,
//! a non-zero exit, and nothing half-done.

use std::os::unix::fs::PermissionsExt;

use crate::helper::{Pmr, wait_until};

#[test]
fn a_program_that_cannot_run_is_an_error_and_nothing_is_added() {
    let t = Pmr::new();
    let script = t.write("job.sh", "#!/bin/sh\nsleep 300\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = t.fails(&["start", "job.sh", "--interpreter", "none"]);
    assert!(
        err.contains("[job](0) could not start") && err.contains("Permission denied"),
        "{err}"
    );
    assert!(t.jlist().is_empty(), "nothing half-done: {:?}", t.jlist());
    // An app that runs, then cannot be run again: the restart says why.
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    t.ok(&["start", "job.sh", "--interpreter", "none"]);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = t.fails(&["restart", "job"]);
    assert!(
        err.contains("could not start") && err.contains("Permission denied"),
        "{err}"
    );
    assert_eq!(t.status(0), "errored");
}

#[test]
fn names_with_control_characters_or_too_long_are_refused() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    let err = t.fails(&["start", "app.sh", "--name", "two\nlines"]);
    assert!(
        err.contains(r#""two\nlines""#) && err.contains("control character"),
        "{err}"
    );
    let err = t.fails(&["start", "app.sh", "--name", "\x1b[2Jclear"]);
    assert!(
        err.contains("control character") && !err.contains('\x1b'),
        "{err:?}"
    );
    let long = "n".repeat(10_000);
    let err = t.fails(&["start", "app.sh", "--name", &long]);
    assert!(err.contains("10000 bytes long") && err.len() < 400, "{err}");
    assert!(t.jlist().is_empty());
    // A rename is held to the same rule.
    t.ok(&["start", "app.sh"]);
    let err = t.fails(&["restart", "app", "--name", "a\tb"]);
    assert!(err.contains("control character"), "{err}");
    assert_eq!(t.proc(0)["name"], "app");
}

#[test]
fn save_never_makes_a_broken_dump_the_backup() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    t.ok(&["start", "app.sh", "--name", "first"]);
    t.ok(&["save"]);
    t.ok(&["start", "app.sh", "--name", "second"]);
    t.ok(&["save"]);
    let names = |file: &str| -> Vec<String> {
        let text = std::fs::read_to_string(t.home().join(file)).unwrap();
        let list: Vec<serde_json::Value> = serde_json::from_str(&text).expect(file);
        list.iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names("dump.pm2.bak"), ["first"]);
    std::fs::write(t.home().join("dump.pm2"), "{ broken").unwrap();
    t.ok(&["save"]);
    assert_eq!(names("dump.pm2.bak"), ["first"], "the good backup stays");
    assert_eq!(names("dump.pm2"), ["first", "second"]);
}

#[test]
fn a_negative_duration_names_its_flag() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    for flag in [
        "--kill-timeout",
        "--restart-delay",
        "--min-uptime",
        "--listen-timeout",
    ] {
        let err = t.fails(&["start", "app.sh", flag, "-5"]);
        assert!(
            err.contains(&format!("{flag}: \"-5\" is negative")),
            "{err}"
        );
    }
    let err = t.fails(&["start", "app.sh", "--max-restarts", "-5"]);
    assert!(err.contains("--max-restarts"), "{err}");
    assert!(t.jlist().is_empty());
}

#[test]
fn a_daemon_that_does_not_answer_is_an_error_not_a_hang() {
    let t = Pmr::new();
    std::fs::create_dir_all(t.home()).unwrap();
    // Something listens on the socket and never accepts (as a daemon out of
    // file descriptors would).
    let _silent = std::os::unix::net::UnixListener::bind(t.home().join("rpc.sock")).unwrap();
    let out = t
        .command()
        .arg("list")
        .env("PMR_CLI_TIMEOUT", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("did not answer within 1 s") && err.contains("pmr.log"),
        "{err}"
    );
}

#[test]
fn a_request_over_the_frame_limit_is_refused_with_a_clear_message() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    let pad = "x".repeat(4096);
    let apps: Vec<String> = (0..5000)
        .map(|i| format!(r#"{{"name": "a{i}", "script": "app.sh", "env": {{"PAD": "{pad}"}}}}"#))
        .collect();
    t.write("big.json", &format!(r#"{{"apps": [{}]}}"#, apps.join(",")));
    let err = t.fails(&["start", "big.json"]);
    assert!(
        err.contains("MiB a request may be; nothing was sent"),
        "{err}"
    );
    assert!(t.jlist().is_empty());
}

/// A 64 KiB tmpfs at `dir`, unmounted when dropped; `None` where this user
/// may not mount (then `/dev/full` stands for the full disk).
pub(crate) struct Tmpfs(pub(crate) std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &std::path::Path) -> Option<Tmpfs> {
        Self::mount_sized(dir, "64k")
    }

    /// A tmpfs of `size` (`64k`, `1m`) at `dir`.
    pub(crate) fn mount_sized(dir: &std::path::Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_drops_and_counts_log_bytes_and_supervision_goes_on() {
    let t = Pmr::new();
    t.write(
        "talk.sh",
        "while true; do echo line $((i=i+1)); sleep 0.01; done\n",
    );
    let dir = t.work().join("disk");
    let disk = Tmpfs::mount(&dir);
    let out = dir.join("out.log");
    match &disk {
        // Fill the disk but for a little room.
        Some(_) => {
            let filler = vec![b'x'; 60 * 1024];
            let _ = std::fs::write(dir.join("filler"), filler);
        }
        None => std::os::unix::fs::symlink("/dev/full", &out).unwrap(),
    }
    t.ok(&["start", "talk.sh", "-o", out.to_str().unwrap()]);
    let dropped = |t: &Pmr| t.proc(0)["pm2_env"]["log_bytes_dropped"].as_u64().unwrap();
    wait_until("bytes dropped and counted", || {
        (dropped(&t) > 200).then_some(())
    });
    let described = t.ok(&["describe", "0"]);
    assert!(described.contains("log bytes dropped"), "{described}");
    assert_eq!(t.status(0), "online", "supervision goes on");
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 0);
    let daemon_log = || std::fs::read_to_string(t.home().join("pmr.log")).unwrap_or_default();
    assert_eq!(
        daemon_log().matches("log write failed").count(),
        1,
        "said once, not per write"
    );
    if disk.is_some() {
        // Space returns: writing resumes on the same file, and it is said.
        std::fs::remove_file(dir.join("filler")).unwrap();
        let before = std::fs::read_to_string(&out).unwrap_or_default().len();
        wait_until("new lines written again", || {
            (std::fs::read_to_string(&out).unwrap_or_default().len() > before + 100).then_some(())
        });
        wait_until("the recovery in pmr.log", || {
            daemon_log().contains("log writes work again").then_some(())
        });
    }
    t.ok(&["delete", "all"]);
}

#[test]
fn the_daemon_log_rotates_and_keeps_three() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    let first = t
        .command()
        .args(["start", "app.sh"])
        .env("PMR_DAEMON_LOG_MAX", "2048")
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");
    // Each restart writes a few lines to pmr.log.
    for _ in 0..40 {
        t.ok(&["restart", "app"]);
    }
    let size = |n: &str| std::fs::metadata(t.home().join(n)).map(|m| m.len());
    assert!(
        size("pmr.log").unwrap() <= 2048 + 512,
        "pmr.log keeps to its size"
    );
    for old in ["pmr.log.1", "pmr.log.2", "pmr.log.3"] {
        assert!(size(old).is_ok(), "{old} kept");
    }
    assert!(size("pmr.log.4").is_err(), "no more than three kept");
}

#[test]
fn out_of_file_descriptors_is_an_error_on_the_action_not_a_hang() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    // The daemon starts under a hard limit of 64 descriptors.
    let bin = env!("CARGO_BIN_EXE_pmr");
    let first = std::process::Command::new("sh")
        .args(["-c", &format!("ulimit -n 64 && exec {bin} ping")])
        .env("PMR_HOME", t.home())
        .output()
        .unwrap();
    assert!(first.status.success(), "{first:?}");
    let mut refused = None;
    for i in 0..40 {
        let out = t.run(&["start", "app.sh", "--name", &format!("a{i}")]);
        if !out.status.success() {
            refused = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let err = refused.expect("40 apps fit in 64 descriptors");
    assert!(
        err.contains("Too many open files") || err.contains("out of file descriptors"),
        "{err}"
    );
    // Every later command answers (maybe with the reason), none hangs.
    for _ in 0..5 {
        let out = t
            .command()
            .arg("jlist")
            .env("PMR_CLI_TIMEOUT", "5")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || err.contains("out of file descriptors"),
            "{err}"
        );
    }
    t.ok(&["delete", "all"]);
    t.ok(&["start", "app.sh", "--name", "after"]);
}
