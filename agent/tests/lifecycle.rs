//! start / stop / restart / delete / reset and what `list`, `jlist`,
//! `prettylist`, `describe`, `env`, `pid` show.

use crate::helper::{Pmr, pid_alive};

const TICKER: &str = "setInterval(() => console.log('tick'), 200);\n";

#[test]
fn lifecycle_status_values_and_counters() {
    let t = Pmr::new();
    t.write("api.js", TICKER);
    let out = t.ok(&["start", "api.js"]);
    assert!(out.contains("│ api"), "{out}");
    let p = t.wait_status(0, "online");
    let pid = p["pid"].as_i64().unwrap();
    assert!(pid > 0 && pid_alive(pid));
    assert_eq!(p["pm2_env"]["exec_interpreter"], "node");

    t.ok(&["stop", "api"]);
    let p = t.proc(0);
    assert_eq!(p["pm2_env"]["status"], "stopped");
    assert_eq!(p["pid"], 0);
    assert!(!pid_alive(pid), "stopped app still alive");

    // pm2: restarting a stopped app does not count a restart.
    t.ok(&["restart", "api"]);
    let p = t.wait_status(0, "online");
    assert_eq!(p["pm2_env"]["restart_time"], 0);
    // Restarting an online app does, and brings a new pid.
    t.ok(&["restart", "0"]);
    let p2 = t.wait_status(0, "online");
    assert_eq!(p2["pm2_env"]["restart_time"], 1);
    assert_ne!(p2["pid"], p["pid"]);
    // `start <name>` of an online app restarts it, as pm2 does.
    t.ok(&["start", "api"]);
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 2);

    t.ok(&["reset", "api"]);
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 0);

    let pid_out = t.ok(&["pid", "api"]);
    assert_eq!(pid_out.trim(), t.proc(0)["pid"].to_string());

    t.ok(&["delete", "api"]);
    assert!(t.jlist().is_empty());
    // Ids start again at 0 once the list is empty.
    t.ok(&["start", "api.js", "--name", "again"]);
    assert_eq!(t.jlist()[0]["pm_id"], 0);
}

#[test]
fn smart_start_and_duplicate_refusal() {
    let t = Pmr::new();
    t.write("w.js", TICKER);
    t.ok(&["start", "w.js"]);
    t.wait_status(0, "online");
    // The same script again without -f is refused and registers nothing.
    let err = t.fails(&["start", "w.js"]);
    assert!(
        err.contains("Script already launched, add -f option to force re-execution"),
        "{err}"
    );
    assert_eq!(t.jlist().len(), 1);
    // With -f it runs twice.
    t.ok(&["start", "w.js", "-f", "--name", "w2"]);
    assert_eq!(t.jlist().len(), 2);
    t.ok(&["delete", "w2"]);
    // A known stopped script is started again, not duplicated.
    t.ok(&["stop", "w"]);
    t.ok(&["start", "w.js"]);
    let list = t.jlist();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["pm2_env"]["status"], "online");
}

#[test]
fn targets_by_namespace_regex_all_and_several() {
    let t = Pmr::new();
    t.write("a.js", TICKER);
    t.ok(&["start", "a.js", "--name", "web-1", "--namespace", "front"]);
    t.ok(&[
        "start",
        "a.js",
        "-f",
        "--name",
        "web-2",
        "--namespace",
        "front",
    ]);
    t.ok(&["start", "--name", "worker", "--", "sleep", "300"]);
    t.ok(&["stop", "front"]);
    let st: Vec<String> = t
        .jlist()
        .iter()
        .map(|p| p["pm2_env"]["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(st, ["stopped", "stopped", "online"]);
    t.ok(&["restart", "/^web-/"]);
    t.wait_status(0, "online");
    t.wait_status(1, "online");
    t.ok(&["stop", "0", "worker"]);
    assert_eq!(t.status(0), "stopped");
    assert_eq!(t.status(2), "stopped");
    assert_eq!(t.status(1), "online");
    t.ok(&["delete", "all"]);
    assert!(t.jlist().is_empty());
    let err = t.fails(&["stop", "all"]);
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn jlist_prettylist_describe_env() {
    let t = Pmr::new();
    t.write("srv.py", "import time\nwhile True:\n    time.sleep(1)\n");
    let out = t
        .command()
        .args(["start", "srv.py", "--name", "py", "--", "--port", "9"])
        .env("MY_SETTING", "forty-two")
        .output()
        .unwrap();
    assert!(out.status.success());
    let p = t.wait_status(0, "online");
    for key in ["name", "pm_id", "pid", "monit", "pm2_env"] {
        assert!(p.get(key).is_some(), "jlist lacks {key}");
    }
    assert!(p["monit"]["cpu"].is_number() && p["monit"]["memory"].is_number());
    let env = &p["pm2_env"];
    for key in [
        "status",
        "restart_time",
        "unstable_restarts",
        "pm_uptime",
        "created_at",
        "exec_mode",
        "instances",
        "namespace",
        "pm_cwd",
        "pm_exec_path",
        "exec_interpreter",
        "args",
        "env",
        "versioning",
        "prev_restart_delay",
        "pm_out_log_path",
        "pm_err_log_path",
        "pm_pid_path",
        "NODE_APP_INSTANCE",
    ] {
        assert!(env.get(key).is_some(), "pm2_env lacks {key}");
    }
    assert_eq!(env["exec_interpreter"], "python3");
    assert_eq!(env["exec_mode"], "fork_mode");
    assert_eq!(env["args"], serde_json::json!(["--port", "9"]));
    assert_eq!(env["env"]["MY_SETTING"], "forty-two");
    // Variables are flattened into pm2_env too, as pm2 does.
    assert_eq!(env["MY_SETTING"], "forty-two");
    assert!(env["pm_exec_path"].as_str().unwrap().ends_with("/srv.py"));

    // The memory sample arrives within a few seconds.
    crate::helper::wait_until("a memory sample", || {
        (t.proc(0)["monit"]["memory"].as_u64()? > 0).then_some(())
    });

    let pretty = t.ok(&["prettylist"]);
    assert!(pretty.contains("status: 'online'"), "{pretty}");
    assert!(pretty.contains("name: 'py'"), "{pretty}");

    let desc = t.ok(&["describe", "py"]);
    assert!(
        desc.contains("Describing process with id 0 - name py"),
        "{desc}"
    );
    assert!(desc.contains("python3"), "{desc}");

    let env_out = t.ok(&["env", "0"]);
    assert!(
        env_out.lines().any(|l| l == "MY_SETTING: forty-two"),
        "{env_out}"
    );
    assert!(
        env_out.lines().any(|l| l == "NODE_APP_INSTANCE: 0"),
        "{env_out}"
    );
    assert!(
        env_out.lines().any(|l| l == "PYTHONUNBUFFERED: 1"),
        "{env_out}"
    );

    let table = t.ok(&["ls"]);
    for col in [
        "id",
        "name",
        "namespace",
        "mode",
        "pid",
        "uptime",
        "↺",
        "status",
        "cpu",
        "mem",
        "user",
        "watching",
    ] {
        assert!(table.contains(col), "list lacks column {col}: {table}");
    }
    assert!(table.contains("online"));
}

#[test]
fn bad_input_is_refused_cleanly() {
    let t = Pmr::new();
    let err = t.fails(&["start", "nope.js"]);
    assert!(
        err.contains("Script not found") && err.contains("nope.js"),
        "{err}"
    );
    assert!(t.jlist().is_empty(), "nothing may be registered");

    let err = t.fails(&["stop", "ghost"]);
    assert!(err.contains("ghost") && err.contains("not found"), "{err}");
    let err = t.fails(&["restart", "42"]);
    assert!(err.contains("42"), "{err}");
    let err = t.fails(&["describe", "ghost"]);
    assert!(err.contains("ghost"), "{err}");

    let out = t.run(&["start", "x.js", "--no-such-flag"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-flag"));

    let err = t.fails(&["start", "--cwd", "/does/not/exist", "--", "sleep", "1"]);
    assert!(err.contains("/does/not/exist"), "{err}");
    let err = t.fails(&["start", "--min-uptime", "soon", "--", "sleep", "1"]);
    assert!(err.contains("--min-uptime"), "{err}");
    let err = t.fails(&["start", "--kill-signal", "SIGNOPE", "--", "sleep", "1"]);
    assert!(err.contains("SIGNOPE"), "{err}");
    assert!(t.jlist().is_empty(), "nothing may be registered");

    // A program that cannot run: the reason, a non-zero exit, nothing added.
    t.write("broken.bin", "not really a program");
    let err = t.fails(&[
        "start",
        "broken.bin",
        "--interpreter",
        "/nonexistent/interp",
    ]);
    assert!(err.contains("/nonexistent/interp"), "{err}");
    assert!(t.jlist().is_empty(), "nothing may be registered");
}

#[test]
fn apps_are_named_by_their_script_and_a_number_is_a_name_first() {
    let t = Pmr::new();
    t.write("echo.js", TICKER);
    t.write("other.js", TICKER);
    t.ok(&["start", "echo.js"]);
    t.ok(&["start", "other.js", "--name", "455"]);
    t.wait_status(0, "online");
    t.wait_status(1, "online");
    // pm2 habits: the script file names the app it runs.
    t.ok(&["restart", "echo.js"]);
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 1);
    assert_eq!(t.proc(1)["pm2_env"]["restart_time"], 0);
    // `455` is the app of that name before it is an id.
    t.ok(&["restart", "455"]);
    assert_eq!(t.proc(1)["pm2_env"]["restart_time"], 1);
    // An id when no app or namespace has that name.
    t.ok(&["restart", "0"]);
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 2);
    t.ok(&["stop", "./echo.js"]);
    assert_eq!(t.proc(0)["pm2_env"]["status"], "stopped");
    let err = t.fails(&["restart", "missing.js"]);
    assert!(
        err.contains("Process or Namespace missing.js not found"),
        "{err}"
    );
}

#[test]
fn app_settings_reach_the_app_as_pm2s_set_does() {
    let t = Pmr::new();
    t.write("echo.js", TICKER);
    t.ok(&["unset", "echo"]);
    t.ok(&["start", "echo.js", "--name", "echo"]);
    t.wait_status(0, "online");
    // `set app.key value`: in the app's environment, and the app restarts.
    t.ok(&["set", "echo.config_var", "false"]);
    let env = &t.proc(0)["pm2_env"]["env"];
    assert_eq!(env["config_var"], "false", "{env}");
    // Shown as an object under the app's name, as pm2 shows it.
    assert_eq!(env["echo"], serde_json::json!({"config_var": "false"}));
    assert_eq!(t.proc(0)["pm2_env"]["restart_time"], 1);
    t.ok(&["multiset", "echo.conf false echo.probes true"]);
    let p = t.proc(0);
    assert_eq!(
        (
            p["pm2_env"]["env"]["conf"].as_str(),
            p["pm2_env"]["env"]["probes"].as_str()
        ),
        (Some("false"), Some("true"))
    );
    assert_eq!(p["pm2_env"]["restart_time"], 2);
    // A setting made before the app exists is there when it starts.
    t.ok(&["set", "later.mode", "fast"]);
    t.ok(&["start", "echo.js", "--name", "later", "-f"]);
    let later = t
        .jlist()
        .into_iter()
        .find(|p| p["name"] == "later")
        .unwrap();
    assert_eq!(later["pm2_env"]["env"]["mode"], "fast");
    let err = t.fails(&["multiset", "echo.conf"]);
    assert!(err.contains("pairs"), "{err}");
}
