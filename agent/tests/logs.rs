//! Log files: pm2's names, prefixes, custom and NULL paths, merged instances
//! without torn lines, `pmr logs`, `flush`, `reloadLogs`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::helper::{Pmr, wait_until};

#[test]
fn files_named_like_pm2_with_time_prefix() {
    let t = Pmr::new();
    t.write("talk.py", "import sys\nprint('to out')\nprint('to err', file=sys.stderr)\nimport time\ntime.sleep(300)\n");
    t.ok(&["start", "talk.py", "--time"]);
    wait_until("both lines", || {
        (t.log("talk-out.log").contains("to out") && t.log("talk-error.log").contains("to err"))
            .then_some(())
    });
    let out = t.log("talk-out.log");
    // --time is YYYY-MM-DDTHH:mm:ss followed by ": ".
    let line = out.lines().next().unwrap();
    let (stamp, rest) = line.split_once(": ").unwrap();
    assert_eq!(rest, "to out");
    assert_eq!(stamp.len(), 19, "{line}");
    assert_eq!(&stamp[4..5], "-");
    assert_eq!(&stamp[10..11], "T");

    t.write("fmt.sh", "echo hello; sleep 300\n");
    t.ok(&["start", "fmt.sh", "--log-date-format", "[day] YYYY"]);
    wait_until("formatted line", || {
        t.log("fmt-out.log").contains("hello").then_some(())
    });
    let year = chrono_year();
    assert_eq!(
        t.log("fmt-out.log").lines().next().unwrap(),
        format!("day {year}: hello")
    );

    // `restart file.json` takes the file's new line format (pm2 users
    // change `log_date_format` this way).
    t.write(
        "fmt.json",
        r#"{"name": "fmt", "script": "fmt.sh", "log_date_format": "[day]"}"#,
    );
    t.ok(&["restart", "fmt.json"]);
    wait_until("a line in the new format", || {
        t.log("fmt-out.log")
            .lines()
            .any(|l| l == "day: hello")
            .then_some(())
    });
}

fn chrono_year() -> String {
    String::from_utf8(
        std::process::Command::new("date")
            .arg("+%Y")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .trim()
    .to_string()
}

#[test]
fn output_without_a_newline_reaches_the_log_once_the_app_is_quiet() {
    let t = Pmr::new();
    t.write(
        "prompt.js",
        "process.stderr.write('no newline yet');\nsetInterval(() => {}, 1000);\n",
    );
    t.ok(&["start", "prompt.js"]);
    wait_until("the unfinished line in the log", || {
        (t.log("prompt-error.log") == "no newline yet\n").then_some(())
    });
}

#[test]
fn custom_combined_and_null_paths() {
    let t = Pmr::new();
    t.write("both.sh", "echo OUT-LINE; echo ERR-LINE >&2; sleep 300\n");
    let out = t.work().join("o.log");
    let all = t.work().join("all.log");
    t.ok(&[
        "start",
        "both.sh",
        "-o",
        out.to_str().unwrap(),
        "-e",
        "NULL",
        "-l",
        all.to_str().unwrap(),
    ]);
    wait_until("combined has both", || {
        let a = std::fs::read_to_string(&all).unwrap_or_default();
        (a.contains("OUT-LINE") && a.contains("ERR-LINE")).then_some(())
    });
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "OUT-LINE\n");
    assert!(!t.home().join("logs/both-error.log").exists());
    let p = t.proc(0);
    assert_eq!(p["pm2_env"]["pm_err_log_path"], "/dev/null");
}

#[test]
fn four_instances_into_one_file_never_tear_a_line() {
    let t = Pmr::new();
    const LINES: usize = 20_000;
    t.write(
        "flood.py",
        &format!(
            "import os, sys\ni = os.environ['NODE_APP_INSTANCE']\nfor n in range({LINES}):\n    sys.stdout.write('inst=%s seq=%06d %s\\n' % (i, n, 'x' * 80))\nsys.stdout.flush()\nimport time\ntime.sleep(300)\n"
        ),
    );
    t.ok(&["start", "flood.py", "-i", "4", "--merge-logs"]);
    let text = wait_until("all lines", || {
        let text = t.log("flood-out.log");
        (text.lines().count() >= 4 * LINES).then_some(text)
    });
    let mut torn = 0;
    let mut per_instance = [0usize; 4];
    for line in text.lines() {
        let ok = line.len() == 4 + 2 + 11 + 80 + 1
            && line.starts_with("inst=")
            && line.ends_with(&"x".repeat(80));
        if ok {
            per_instance[line[5..6].parse::<usize>().unwrap()] += 1;
        } else {
            torn += 1;
        }
    }
    assert_eq!(torn, 0, "torn lines found");
    assert_eq!(per_instance, [LINES; 4]);
    // Without --merge-logs, each instance has its own file.
    let t2 = Pmr::new();
    t2.write("two.sh", "echo \"i=$NODE_APP_INSTANCE\"; sleep 300\n");
    t2.ok(&["start", "two.sh", "-i", "2"]);
    wait_until("per-instance files", || {
        (t2.log("two-out-0.log").contains("i=0") && t2.log("two-out-1.log").contains("i=1"))
            .then_some(())
    });
}

#[test]
fn logs_command_tails_and_follows() {
    let t = Pmr::new();
    t.write("seq.sh", "for i in 1 2 3 4 5; do echo past-$i; done\nwhile true; do read -t 0.3 < /dev/zero; sleep 0.3; echo live-line; done\n");
    t.ok(&["start", "seq.sh"]);
    wait_until("past lines", || {
        t.log("seq-out.log").contains("past-5").then_some(())
    });
    let tail = t.ok(&["logs", "seq", "--lines", "2", "--nostream", "--out"]);
    assert!(tail.contains("seq-out.log last 2 lines:"), "{tail}");
    assert!(tail.contains("0|seq"), "{tail}");
    let raw = t.ok(&[
        "logs",
        "seq",
        "--lines",
        "200",
        "--nostream",
        "--raw",
        "--out",
    ]);
    assert!(raw.lines().any(|l| l == "past-1"), "{raw}");
    // Machine-readable forms, as pm2's --json and --format.
    let json = t.ok(&[
        "logs",
        "seq",
        "--lines",
        "200",
        "--nostream",
        "--json",
        "--out",
    ]);
    let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    assert_eq!(first["message"], "past-1", "{json}");
    assert_eq!(first["app_name"], "seq");
    assert_eq!(first["process_id"], 0);
    assert_eq!(first["type"], "out");
    let kv = t.ok(&[
        "logs",
        "seq",
        "--lines",
        "1",
        "--nostream",
        "--format",
        "--out",
    ]);
    assert!(
        kv.lines()
            .all(|l| l.starts_with("timestamp=") && l.contains(" app=seq id=0 type=out message=")),
        "{kv}"
    );
    let stamped = t.ok(&[
        "logs",
        "seq",
        "--lines",
        "1",
        "--nostream",
        "--raw",
        "--timestamp",
        "YYYY",
        "--out",
    ]);
    assert!(
        stamped.starts_with(&format!("{}: ", chrono_year())),
        "{stamped}"
    );

    let mut follow = t
        .command()
        .args(["logs", "seq", "--raw", "--lines", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = follow.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(crate::helper::PATIENCE)
        .expect("a followed line");
    assert_eq!(line.trim(), "live-line");
    follow.kill().unwrap();
    follow.wait().unwrap();

    let err = t.fails(&["logs", "nobody", "--nostream"]);
    assert!(err.contains("nobody"), "{err}");
}

#[test]
fn flush_and_reload_logs() {
    let t = Pmr::new();
    t.write("chatty.sh", "while true; do echo chat; sleep 0.2; done\n");
    t.ok(&["start", "chatty.sh"]);
    wait_until("some lines", || {
        (t.log("chatty-out.log").len() > 100).then_some(())
    });
    t.ok(&["flush", "chatty"]);
    let len = t.log("chatty-out.log").len();
    assert!(len < 50, "flush left {len} bytes");
    wait_until("new lines after flush", || {
        t.log("chatty-out.log").contains("chat").then_some(())
    });

    // An outside rotation moves the file away; reloadLogs opens a new one.
    let logs = t.home().join("logs");
    std::fs::rename(logs.join("chatty-out.log"), logs.join("chatty-out.log.1")).unwrap();
    t.ok(&["reloadLogs"]);
    wait_until("new file", || {
        t.log("chatty-out.log").contains("chat").then_some(())
    });
}

#[test]
fn json_log_type_writes_one_object_per_line() {
    let t = Pmr::new();
    t.write("j.sh", "echo 'he said \"hi\"'; echo oops >&2; sleep 300\n");
    t.ok(&["start", "j.sh", "--log-type", "json"]);
    let out = wait_until("a json line", || {
        let s = t.log("j-out.log");
        (!s.is_empty()).then_some(s)
    });
    let rec: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(rec["message"], "he said \"hi\"");
    assert_eq!(rec["type"], "out");
    assert_eq!(rec["app_name"], "j");
    assert_eq!(rec["process_id"], 0);
    assert!(rec["timestamp"].as_str().unwrap().contains('T'));
    let err = wait_until("an err line", || {
        let s = t.log("j-error.log");
        (!s.is_empty()).then_some(s)
    });
    let rec: serde_json::Value = serde_json::from_str(err.lines().next().unwrap()).unwrap();
    assert_eq!(rec["type"], "err");
}
