//! What every Node app gets from pmr's preload, as pm2's process container
//! gives it: stack traces through source maps, and @pm2/io's handling of an
//! unhandled rejection unless `--no-pmx`.

use crate::helper::{Pmr, wait_until};

/// A compiled file whose source map points at `main.ts`; it throws at once.
fn compiled(t: &Pmr) {
    t.write(
        "main.js",
        "throw new Error('boom');\n//# sourceMappingURL=main.js.map\n",
    );
    t.write(
        "main.js.map",
        r#"{"version":3,"file":"main.js","sources":["main.ts"],"names":[],"mappings":"AAAA"}"#,
    );
}

fn error_log_once_crashed(t: &Pmr, name: &str) -> String {
    wait_until("the stack in the error log", || {
        let log = t.log(&format!("{name}-error.log"));
        log.contains("boom").then_some(log)
    })
}

#[test]
fn stack_traces_follow_source_maps_unless_disabled() {
    let t = Pmr::new();
    compiled(&t);
    t.ok(&["start", "main.js", "--name", "mapped", "--no-autorestart"]);
    let log = error_log_once_crashed(&t, "mapped");
    assert!(log.contains("main.ts:1"), "{log}");
    t.ok(&[
        "start",
        "main.js",
        "--name",
        "raw",
        "--no-autorestart",
        "--disable-source-map-support",
    ]);
    let log = error_log_once_crashed(&t, "raw");
    assert!(
        log.contains("main.js:1") && !log.contains("main.ts"),
        "{log}"
    );
    // The same from an ecosystem file.
    t.write(
        "eco.json",
        r#"{"apps": [{"name": "eco", "script": "main.js", "autorestart": false, "source_map_support": false}]}"#,
    );
    t.ok(&["start", "eco.json"]);
    let log = error_log_once_crashed(&t, "eco");
    assert!(!log.contains("main.ts"), "{log}");
}

#[test]
fn an_unhandled_rejection_ends_the_app_only_without_pmx() {
    let t = Pmr::new();
    t.write(
        "reject.js",
        "setTimeout(() => Promise.reject(new Error('nobody waits')), 100);\n\
         setInterval(() => {}, 1000);\n",
    );
    t.ok(&["start", "reject.js", "--name", "kept", "--no-autorestart"]);
    t.ok(&[
        "start",
        "reject.js",
        "--name",
        "plain",
        "--no-autorestart",
        "--no-pmx",
    ]);
    t.ok(&[
        "start",
        "reject.js",
        "--name",
        "plain2",
        "--no-autorestart",
        "--no-automation",
    ]);
    for id in [1, 2] {
        wait_until("the app without pmx ended by Node", || {
            (t.status(id) == "stopped").then_some(())
        });
        assert_eq!(t.proc(id)["pm2_env"]["exit_code"], 1);
    }
    // In pm2's words, with the stack.
    let said = "You have triggered an unhandledRejection, you may have forgotten to catch a Promise rejection:\nError: nobody waits\n    at ";
    wait_until("the rejection logged", || {
        t.log("kept-error.log").contains(said).then_some(())
    });
    assert_eq!(t.status(0), "online", "pm2 keeps such an app running");
}

#[test]
fn deep_monitoring_reports_the_event_loop_and_the_heap() {
    let t = Pmr::new();
    t.write("idle.js", "setInterval(() => {}, 1000);\n");
    let deep = |args: &[&str]| {
        let out = t
            .command()
            .args(args)
            .env("PMR_DEEP_MONITORING", "true")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    t.ok(&["start", "idle.js", "--name", "plain"]);
    deep(&["start", "idle.js", "--name", "deep"]);
    assert!(t.proc(0)["pm2_env"].get("deep_monitoring").is_none());
    assert_eq!(t.proc(1)["pm2_env"]["deep_monitoring"], true);
    let metrics = wait_until("the deep metrics", || {
        let m = t.proc(1)["pm2_env"]["axm_monitor"].clone();
        m.get("Event Loop Latency").is_some().then_some(m)
    });
    assert_eq!(metrics["Heap Size"]["unit"], "MiB", "{metrics}");
    assert!(
        metrics["Used Heap Size"]["value"].as_f64().unwrap() > 0.0,
        "{metrics}"
    );
    // A restart with the variable set turns it on, as pm2's does.
    deep(&["restart", "plain"]);
    assert_eq!(t.proc(0)["pm2_env"]["deep_monitoring"], true);
}

#[test]
fn an_es_module_app_may_import_without_the_extension() {
    let t = Pmr::new();
    t.write(
        "lib.mjs",
        "export const hello = () => console.log('hello from lib');\n",
    );
    t.write(
        "main.mjs",
        "import { hello } from './lib';\nhello();\nsetInterval(() => {}, 1000);\n",
    );
    t.ok(&["start", "main.mjs"]);
    wait_until("the imported module ran", || {
        t.log("main-out.log")
            .contains("hello from lib")
            .then_some(())
    });
    let err = t.log("main-error.log");
    assert!(
        err.contains("import './lib' resolved as './lib.mjs'"),
        "{err}"
    );
    assert_eq!(t.status(0), "online");
}
