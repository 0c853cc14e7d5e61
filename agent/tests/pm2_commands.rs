//! pm2's commands beyond the everyday ones, as a pm2 user types them: the
//! founding document's `pm2 install pm2-logrotate && pm2 set
//! pm2-logrotate:retain 14`, and the rest, each working or saying in one
//! line what to do instead.

use crate::helper::{Pmr, wait_until};

fn rotated(t: &Pmr) -> Vec<String> {
    std::fs::read_dir(t.home().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("talk-out__"))
        .collect()
}

#[test]
fn pm2_logrotate_settings_drive_the_built_in_rotation() {
    let t = Pmr::new();
    let out = t.ok(&["install", "pm2-logrotate"]);
    assert!(
        out.contains("nothing to install") && out.contains("built into pmr"),
        "{out}"
    );
    for (k, v) in [
        ("max_size", "1K"),
        ("retain", "2"),
        ("compress", "false"),
        ("dateFormat", "YYYY-MM-DD-HH"),
        ("rotateInterval", "0 0 * * *"),
        ("rotateModule", "false"),
        ("workerInterval", "60"),
        ("TZ", "Etc/GMT+12"),
    ] {
        t.ok(&["set", &format!("pm2-logrotate:{k}"), v]);
    }
    assert!(
        !t.home().join("module_conf.json").exists(),
        "not stored as an app's setting"
    );
    let got = t.ok(&["get"]);
    for line in [
        "max_size = \"1K\"",
        "retain = 2",
        "date_format = \"YYYY-MM-DD-HH\"",
        "worker_interval = 60",
        "rotate_module = false",
        "tz = \"Etc/GMT+12\"",
    ] {
        assert!(got.contains(line), "{line} in {got}");
    }
    assert_eq!(t.ok(&["get", "pm2-logrotate:retain"]).trim(), "2");
    assert_eq!(t.ok(&["conf", "pm2-logrotate:TZ"]).trim(), "Etc/GMT+12");
    assert_eq!(
        t.ok(&["config", "pm2-logrotate:dateFormat"]).trim(),
        "YYYY-MM-DD-HH"
    );
    let err = t.fails(&["set", "pm2-logrotate:TZ", "Mars/Olympus"]);
    assert!(err.contains("time zone"), "{err}");
    // The rotation follows: files of about 1 KiB, two kept, dated in UTC-12.
    t.write(
        "talk.sh",
        "while true; do echo line $((i=i+1)) some padding to fill the file; sleep 0.01; done\n",
    );
    t.ok(&["start", "talk.sh"]);
    let there = |h: i64| {
        (chrono::Utc::now() - chrono::Duration::hours(h))
            .format("%Y-%m-%d-%H")
            .to_string()
    };
    let names = wait_until("two rotated files", || {
        let r = rotated(&t);
        (r.len() >= 2).then_some(r)
    });
    assert!(
        names
            .iter()
            .all(|n| n.contains(&there(12)) || n.contains(&there(13))),
        "{names:?} dated in UTC-12 ({})",
        there(12)
    );
    // About 20 lines a file: once the oldest kept starts past line 60, at
    // least two older files were pruned, and two are kept.
    let first_line = |n: &String| -> u64 {
        let text = std::fs::read_to_string(t.home().join("logs").join(n)).unwrap_or_default();
        text.split_whitespace()
            .nth(1)
            .and_then(|k| k.parse().ok())
            .unwrap_or(0)
    };
    wait_until("two kept, the older ones pruned", || {
        let r = rotated(&t);
        (r.len() == 2 && r.iter().all(|n| first_line(n) > 60)).then_some(())
    });
    t.ok(&["delete", "all"]);
}

#[test]
fn pm2s_other_commands_work_or_say_what_to_do_instead() {
    let t = Pmr::new();
    t.write("app.sh", "sleep 300\n");
    t.ok(&["start", "app.sh", "-i", "2", "-m"]);
    assert_eq!(t.ok(&["id", "app"]).trim(), "[ 0, 1 ]");
    assert_eq!(t.ok(&["id", "nope"]).trim(), "[]");
    t.ok(&["save"]);
    t.ok(&["cleardump"]);
    assert_eq!(
        std::fs::read_to_string(t.home().join("dump.pm2")).unwrap(),
        "[]"
    );
    for cmd in ["slist", "sysinfos"] {
        let sys: serde_json::Value = serde_json::from_str(&t.ok(&[cmd])).expect(cmd);
        assert!(
            sys["cpus"].as_u64() >= Some(1) && sys["mem_total"].as_u64() > Some(0),
            "{sys}"
        );
    }
    let report = t.ok(&["report"]);
    assert!(
        report.contains("pmr report") && report.contains("app"),
        "{report}"
    );
    for (args, hint) in [
        (&["inspect", "app"][..], "--inspect"),
        (&["send", "0", "hello"], "sendDataToProcessId 0"),
        (&["attach", "0"], "pmr logs 0"),
        (&["create"], "pmr init"),
        (&["uninstall", "pm2-logrotate"], "turn it off"),
        (&["module:install", "pm2-logrotate"], "built into pmr"),
    ] {
        let out = t.ok(args);
        assert!(
            out.contains(hint) && out.lines().count() == 1,
            "{args:?}: {out}"
        );
    }
    assert!(t.ok(&["examples"]).contains("pmr start"));
    let err = t.fails(&["install", "pm2-server-monit"]);
    assert!(err.contains("no pm2 modules"), "{err}");
    // The terminal dashboard needs a terminal, but the name is known.
    let dash = t.run(&["dash"]);
    let err = String::from_utf8_lossy(&dash.stderr);
    assert!(!err.contains("unrecognized subcommand"), "{err}");
    assert_eq!(t.ok(&["set", "app.color", "blue"]).lines().count(), 1);
    assert_eq!(t.ok(&["conf", "app.color"]).trim(), "blue");
}

/// A settings file that cannot be read is refused, never overwritten with
/// the one key being set.
#[test]
fn set_refuses_an_unreadable_config_and_leaves_it_whole() {
    let t = Pmr::new();
    let path = t.home().join("config.toml");
    std::fs::create_dir_all(t.home()).unwrap();
    let bytes = b"[logrotate]\nretain = 7\n# \xff\xfe not UTF-8\n".to_vec();
    std::fs::write(&path, &bytes).unwrap();
    let err = t.fails(&["set", "pm2-logrotate:retain", "3"]);
    assert!(err.contains("config.toml"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}
