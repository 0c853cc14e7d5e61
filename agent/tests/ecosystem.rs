//! Ecosystem files in every format, env blocks, --env, --only, re-reads,
//! --update-env, and refusals that name line and column.

use crate::helper::Pmr;

const APP: &str = "while true; do sleep 1; done\n";

fn env_of(t: &Pmr, name: &str) -> String {
    t.ok(&["env", name])
}

#[test]
fn every_format_with_env_blocks_and_only() {
    let t = Pmr::new();
    t.write("app.sh", APP);
    t.write(
        "eco.json",
        r#"{"apps": [
            {"name": "j1", "script": "app.sh", "env": {"MODE": "dev", "PORT": 3000}, "env_production": {"MODE": "prod"}},
            {"name": "j2", "script": "app.sh"}
        ]}"#,
    );
    t.ok(&["start", "eco.json", "--env", "production", "--only", "j1"]);
    let list = t.jlist();
    assert_eq!(list.len(), 1, "--only j1");
    let env = env_of(&t, "j1");
    assert!(env.lines().any(|l| l == "MODE: prod"), "{env}");
    assert!(env.lines().any(|l| l == "PORT: 3000"), "{env}");

    t.write(
        "eco.yaml",
        "apps:\n  - name: y1\n    script: app.sh\n    env:\n      MODE: yaml\n",
    );
    t.ok(&["start", "eco.yaml"]);
    assert!(env_of(&t, "y1").lines().any(|l| l == "MODE: yaml"));

    t.write("eco.toml", "[[apps]]\nname = \"t1\"\nscript = \"app.sh\"\ninstances = 2\n[apps.env]\nMODE = \"toml\"\n");
    t.ok(&["start", "eco.toml"]);
    assert!(env_of(&t, "t1").lines().any(|l| l == "MODE: toml"));
    assert_eq!(t.jlist().iter().filter(|p| p["name"] == "t1").count(), 2);

    t.write("cjs.config.js", "module.exports = { apps: [{ name: 'c1', script: 'app.sh', env: { MODE: 'cjs-' + (1 + 1) } }] };\n");
    t.ok(&["start", "cjs.config.js"]);
    assert!(env_of(&t, "c1").lines().any(|l| l == "MODE: cjs-2"));

    // ESM, which pm2 cannot load.
    t.write(
        "esm.config.mjs",
        "export default { apps: [{ name: 'm1', script: 'app.sh', env: { MODE: 'esm' } }] };\n",
    );
    t.ok(&["start", "esm.config.mjs"]);
    assert!(env_of(&t, "m1").lines().any(|l| l == "MODE: esm"));

    // stop/delete with a file act on its apps.
    t.ok(&["stop", "eco.toml"]);
    assert!(
        t.jlist()
            .iter()
            .filter(|p| p["name"] == "t1")
            .all(|p| p["pm2_env"]["status"] == "stopped")
    );
    t.ok(&["delete", "eco.toml"]);
    assert!(!t.jlist().iter().any(|p| p["name"] == "t1"));
}

#[test]
fn malformed_files_start_nothing_and_say_where() {
    let t = Pmr::new();
    t.write("app.sh", APP);
    // Not even a JavaScript object literal (pm2 reads .json files as those).
    t.write(
        "bad.json",
        "{\"apps\": [\n  {\"name\": \"a\" \"script\": \"app.sh\"}\n]}",
    );
    let err = t.fails(&["start", "bad.json"]);
    assert!(err.contains("bad.json:2:"), "{err}");
    t.write("bad.yaml", "apps:\n  - name: a\n   script: app.sh\n");
    let err = t.fails(&["start", "bad.yaml"]);
    assert!(err.contains("bad.yaml:3:"), "{err}");
    t.write("bad.toml", "[[apps]]\nname = \"a\"\nscript = app.sh\n");
    let err = t.fails(&["start", "bad.toml"]);
    assert!(err.contains("bad.toml:3:"), "{err}");
    t.write(
        "type.json",
        r#"{"apps": [{"name": "a", "script": "app.sh", "autorestart": "yes"}]}"#,
    );
    let err = t.fails(&["start", "type.json"]);
    assert!(
        err.contains("autorestart") && err.contains("true or false"),
        "{err}"
    );
    t.write("throws.config.js", "throw new Error('boom in config');\n");
    let err = t.fails(&["start", "throws.config.js"]);
    assert!(err.contains("boom in config"), "{err}");
    assert!(t.jlist().is_empty(), "nothing may start");
    // An unknown option is ignored, as pm2 does, and named in a warning.
    t.write(
        "typo.json",
        r#"{"apps": [{"name": "a", "script": "app.sh", "max_restart": 3}]}"#,
    );
    let out = t.run(&["start", "typo.json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && err.contains("unknown option \"max_restart\" ignored"),
        "{err}"
    );
}

#[test]
fn restarting_from_the_file_rereads_it_and_update_env_adds_variables() {
    let t = Pmr::new();
    t.write("app.sh", APP);
    t.write(
        "eco.json",
        r#"{"apps": [{"name": "e", "script": "app.sh", "env": {"MODE": "one"}}]}"#,
    );
    t.ok(&["start", "eco.json"]);
    t.write(
        "eco.json",
        r#"{"apps": [{"name": "e", "script": "app.sh", "env": {"MODE": "two"}}]}"#,
    );
    t.ok(&["restart", "eco.json"]);
    let p = t.wait_status(0, "online");
    assert_eq!(p["pm2_env"]["restart_time"], 1);
    assert!(env_of(&t, "e").lines().any(|l| l == "MODE: two"));
    // Starting the file again restarts what is known, starts nothing twice.
    t.ok(&["start", "eco.json"]);
    assert_eq!(t.jlist().len(), 1);

    // --update-env lays the shell over the app's variables; without it they stay.
    let run = |args: &[&str]| {
        let out = t
            .command()
            .args(args)
            .env("NEW_VAR", "fresh")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["restart", "e"]);
    assert!(!env_of(&t, "e").contains("NEW_VAR"));
    run(&["restart", "e", "--update-env"]);
    assert!(env_of(&t, "e").lines().any(|l| l == "NEW_VAR: fresh"));
}

#[test]
fn bare_start_uses_the_default_file() {
    let t = Pmr::new();
    t.write("app.sh", APP);
    t.write("ecosystem.config.js", "module.exports = { apps: [{ name: 'dflt', script: 'app.sh', instances: 2, increment_var: 'PORT', env: { PORT: 8000 } }] };\n");
    t.ok(&["start"]);
    let list = t.jlist();
    assert_eq!(list.len(), 2);
    // Numbers, as the file wrote the base and as pm2 shows them.
    let ports: Vec<&serde_json::Value> = list.iter().map(|p| &p["pm2_env"]["PORT"]).collect();
    assert_eq!(ports, [8000, 8001], "increment_var counts per instance");
}

#[test]
fn autostart_false_registers_the_app_stopped_until_started() {
    let t = Pmr::new();
    t.write("app.sh", APP);
    t.write(
        "ecosystem.config.json",
        r#"{"apps": [{"name": "now", "script": "app.sh"}, {"name": "later", "script": "app.sh", "autostart": false}]}"#,
    );
    t.ok(&["start", "ecosystem.config.json"]);
    let list = t.jlist();
    let status = |name: &str| {
        list.iter()
            .find(|p| p["name"] == name)
            .map(|p| p["pm2_env"]["status"].as_str().unwrap().to_string())
    };
    assert_eq!(status("now").as_deref(), Some("online"));
    assert_eq!(status("later").as_deref(), Some("stopped"));
    assert_eq!(t.proc(1)["pid"], 0, "nothing was spawned for it");
    t.ok(&["start", "later"]);
    t.wait_status(1, "online");
    // The CLI flag does the same.
    t.ok(&["start", "app.sh", "--name", "idle", "--no-autostart"]);
    assert_eq!(t.status(2), "stopped");
}

#[test]
fn init_writes_a_sample_that_starts_and_keeps_the_previous_file() {
    let t = Pmr::new();
    let out = t.ok(&["init"]);
    assert!(out.contains("ecosystem.config.js"), "{out}");
    // pm2 writes over an existing file; pmr writes too, and keeps the old one.
    t.write(
        "ecosystem.config.js",
        "// mine\nmodule.exports = { apps: [] };\n",
    );
    let out = t.ok(&["init", "echo"]);
    assert!(out.contains("ecosystem.config.js.bak"), "{out}");
    let kept = std::fs::read_to_string(t.work().join("ecosystem.config.js.bak")).unwrap();
    assert!(kept.starts_with("// mine"), "{kept}");
    t.ok(&["init"]);
    assert!(t.work().join("ecosystem.config.js.bak.2").is_file());
    t.write("app.js", "setInterval(() => {}, 1000);\n");
    t.ok(&["start", "--env", "production"]);
    let p = t.proc(0);
    assert_eq!(p["name"], "app");
    assert_eq!(p["pm2_env"]["env"]["NODE_ENV"], "production");
    assert_eq!(p["pm2_env"]["max_memory_restart"], 300 * 1024 * 1024);
}

/// Runs `pmr ARGS` with `input` on standard input; asserts success.
fn with_stdin(t: &Pmr, args: &[&str], input: &str) {
    use std::io::Write as _;
    let mut child = t
        .command()
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "pmr {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn several_scripts_at_once_and_a_configuration_on_standard_input() {
    let t = Pmr::new();
    for s in ["a.sh", "b.sh", "c.sh"] {
        t.write(s, APP);
    }
    // pm2's `start a.js b.js c.js -- args`: one app per script, named after it.
    t.ok(&["start", "a.sh", "b.sh", "c.sh", "--", "--port", "9"]);
    let names: Vec<String> = t
        .jlist()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["a", "b", "c"]);
    assert_eq!(
        t.jlist()[2]["pm2_env"]["args"],
        serde_json::json!(["--port", "9"])
    );
    let err = t.fails(&["start", "a.sh", "nope.sh"]);
    assert!(err.contains("nope.sh: no such script"), "{err}");
    // `cat all.json | pm2 start -` and `pm2 delete -`.
    let all = r#"{"apps": [{"name": "s1", "script": "a.sh"}, {"name": "s2", "script": "b.sh"}]}"#;
    with_stdin(&t, &["start", "-"], all);
    assert_eq!(t.jlist().len(), 5);
    with_stdin(&t, &["delete", "-"], all);
    let left: Vec<String> = t
        .jlist()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["a", "b", "c"]);
}
