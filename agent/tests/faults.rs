//! What an unlucky or hostile user runs into: programs that cannot be run,
//! bad names, broken saved lists, bad flag values. Each is a clear error,
//! a non-zero exit, and nothing half-done.

use std::os::unix::fs::PermissionsExt;

use crate::helper::Pmr;

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
