//! Every option of an app entry, with the values pm2 accepts (numbers as
//! strings, `10M` sizes, a string or a list…) and the exact error a wrong
//! value gives: what the file reader must keep however it is written.

use super::super::*;

/// The fields of the spec `app` gives that differ from a bare app's, as
/// compact JSON (the temporary directory shown as `<dir>`), or the error.
fn outcome(app: &str, env_name: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.sh"), "sleep 1\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let shell = BTreeMap::from([("SHELL_VAR".to_string(), "from-shell".to_string())]);
    let load = |app: &str| {
        let p = dir.path().join("e.json");
        std::fs::write(&p, format!(r#"{{"apps":[{app}]}}"#)).unwrap();
        load(&p, &[], env_name, &shell)
    };
    let base =
        serde_json::to_value(&load(r#"{"name":"a","script":"app.sh"}"#).unwrap().apps[0]).unwrap();
    let shown = match load(app) {
        Ok(l) => {
            let spec = serde_json::to_value(&l.apps[0]).unwrap();
            let changed: serde_json::Map<String, Value> = spec
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, v)| base.get(k.as_str()) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            format!("{} {:?}", Value::Object(changed), l.warnings)
        }
        Err(e) => format!("error: {e}"),
    };
    let dir = std::fs::canonicalize(dir.path()).unwrap();
    shown
        .replace(&dir.display().to_string(), "<dir>")
        .replace(&dir.join("e.json").display().to_string(), "<file>")
}

#[track_caller]
fn check(cases: &[(&str, &str)]) {
    for (app, want) in cases {
        let got = outcome(app, Some("production"));
        assert_eq!(&got, want, "for {app}");
    }
}

/// What runs: name, script and its spellings, arguments, interpreter, cwd.
/// Each case below gives, with good and bad values, the fields an option
/// sets or the error naming file, app and option.
#[test]
fn what_runs() {
    check(&[
        (
            r#"{"name":true,"script":"app.sh"}"#,
            r#"error: <dir>/e.json: app #1: option name: expected a string, got true"#,
        ),
        (r#"{"name":5,"script":"app.sh"}"#, r#"{"name":"5"} []"#),
        (
            r#"{"name":"a","script":[1]}"#,
            r#"error: <dir>/e.json: app a: option script: expected a string, got [1]"#,
        ),
        (
            r#"{"name":"a"}"#,
            r#"error: <dir>/e.json: app a: no script"#,
        ),
        (
            r#"{"name":"a","script":"nope"}"#,
            r#"error: <dir>/e.json: app a: script not found: <dir>/nope"#,
        ),
        (
            r#"{"name":"a","script":"sleep 5"}"#,
            r#"{"pm_exec_path":"sleep 5","node_args":["-c"]} []"#,
        ),
        (r#"{"name":"a","exec":"app.sh"}"#, r#"{} []"#),
        (
            r#"{"name":"a","cmd":"app.sh","script":"sleep 1"}"#,
            r#"{"pm_exec_path":"sleep 1","node_args":["-c"]} []"#,
        ),
        (r#"{"script":"app.sh"}"#, r#"{"name":"app"} []"#),
        (
            r#"{"name":"a","script":"app.sh","args":"x  y"}"#,
            r#"{"args":["x","y"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","args":["x",1]}"#,
            r#"{"args":["x","1"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","args":[true]}"#,
            r#"error: <dir>/e.json: app a: option args: expected a string, got true"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","args":5}"#,
            r#"error: <dir>/e.json: app a: option args: expected a string or a list, got 5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","interpreter":"python3"}"#,
            r#"{"exec_interpreter":"python3"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","exec_interpreter":{}}"#,
            r#"error: <dir>/e.json: app a: option exec_interpreter: expected a string, got {}"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","node_args":"--a --b"}"#,
            r#"{"node_args":["--a","--b"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","interpreterArgs":["--c"]}"#,
            r#"{"node_args":["--c"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","interpreter_args":false}"#,
            r#"error: <dir>/e.json: app a: option interpreter_args: expected a string or a list, got false"#,
        ),
        (
            r#"{"name":"a","script":"../app.sh","cwd":"sub"}"#,
            r#"{"pm_exec_path":"<dir>/sub/../app.sh","pm_cwd":"<dir>/sub"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","cwd":"missing"}"#,
            r#"error: <dir>/e.json: app a: cwd <dir>/missing is not a directory"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","cwd":[]}"#,
            r#"error: <dir>/e.json: app a: option cwd: expected a string, got []"#,
        ),
    ]);
}

/// `instances` and `exec_mode`: counts, `max`, and the mode they imply.
#[test]
fn cluster() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","instances":3}"#,
            r#"{"instances":3,"merge_logs":false} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","instances":"3"}"#,
            r#"{"instances":3,"merge_logs":false} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","instances":-100000}"#,
            r#"{} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","instances":true}"#,
            r#"error: <dir>/e.json: app a: option instances: expected a number or "max", got true"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","instances":"lots"}"#,
            r#"error: <dir>/e.json: app a: option instances: expected a number or "max", got "lots""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","instances":2.5}"#,
            r#"error: <dir>/e.json: app a: option instances: expected a number or "max", got 2.5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","instances":2,"port":3000}"#,
            r#"{"env":{"PORT":"3000","SHELL_VAR":"from-shell"},"typed_env":["PORT"],"instances":2,"exec_mode":"cluster_mode","merge_logs":false} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","exec_mode":"cluster"}"#,
            r#"{"exec_mode":"cluster_mode"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","exec_mode":"fork_mode","instances":2,"port":1}"#,
            r#"{"env":{"PORT":"1","SHELL_VAR":"from-shell"},"typed_env":["PORT"],"instances":2,"merge_logs":false} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","exec_mode":"bogus"}"#,
            r#"error: <dir>/e.json: app a: option exec_mode: expected fork or cluster, got "bogus""#,
        ),
    ]);
}

/// `env`, `env_<name>` and their layering over the shell.
#[test]
fn environment() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","env":{"A":1,"B":null,"C":{"d":1},"D":true,"E":"e"}}"#,
            r#"{"env":{"A":"1","B":"","C":"{\"d\":1}","D":"true","E":"e","SHELL_VAR":"from-shell"},"typed_env":["A","D"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","env":"x"}"#,
            r#"error: <dir>/e.json: app a: option env: expected an object of variables, got "x""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","env":{"A":"1"},"env_production":{"A":2,"B":"b"}}"#,
            r#"{"env":{"A":"2","B":"b","SHELL_VAR":"from-shell"},"typed_env":["A"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","env_staging":5}"#,
            r#"error: <dir>/e.json: app a: option env_staging: expected an object of variables, got 5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","env_production":[]}"#,
            r#"error: <dir>/e.json: app a: option env_production: expected an object of variables, got []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","append_env_to_name":true}"#,
            r#"{"name":"a-production"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","append_env_to_name":"yes"}"#,
            r#"error: <dir>/e.json: app a: option append_env_to_name: expected true or false, got "yes""#,
        ),
    ]);
}

/// Log files, their spellings, and where they go.
#[test]
fn log_files() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","log_date_format":"YYYY","time":true}"#,
            r#"{"time":true,"log_date_format":"YYYY"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","time":"true"}"#,
            r#"error: <dir>/e.json: app a: option time: expected true or false, got "true""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","error_file":"e.log","out_file":"o.log","pid_file":"p.pid"}"#,
            r#"{"pm_out_log_path":"<dir>/o.log","pm_err_log_path":"<dir>/e.log","pm_pid_path":"<dir>/p.pid"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","err":"/dev/null","out":"NULL","pid":"/tmp/x.pid"}"#,
            r#"{"pm_out_log_path":"NULL","pm_err_log_path":"/dev/null","pm_pid_path":"/tmp/x.pid"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","err_log":5,"output":"o"}"#,
            r#"{"pm_out_log_path":"<dir>/o","pm_err_log_path":"<dir>/5"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","error":true}"#,
            r#"error: <dir>/e.json: app a: option error: expected a string, got true"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","out_log":null}"#,
            r#"error: <dir>/e.json: app a: option out_log: expected a string, got null"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","log_file":"c.log"}"#,
            r#"{"pm_log_path":"<dir>/c.log"} []"#,
        ),
        (r#"{"name":"a","script":"app.sh","log":false}"#, r#"{} []"#),
        (
            r#"{"name":"a","script":"app.sh","log_file":5}"#,
            r#"{"pm_log_path":"<dir>/5"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","log_file":[]}"#,
            r#"error: <dir>/e.json: app a: option log_file: expected a string, got []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","merge_logs":false}"#,
            r#"{"merge_logs":false} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","combine_logs":true,"instances":2}"#,
            r#"{"instances":2} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","merge_logs":1}"#,
            r#"error: <dir>/e.json: app a: option merge_logs: expected true or false, got 1"#,
        ),
    ]);
}

/// Restart and stop policy: durations, counts, flags, signals, exit codes.
#[test]
fn restart_and_stop_policy() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","min_uptime":"2s","restart_delay":"1500","exp_backoff_restart_delay":100}"#,
            r#"{"min_uptime":2000,"restart_delay":1500,"exp_backoff_restart_delay":100} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","min_uptime":1.5,"kill_timeout":"1m","listen_timeout":"250ms","watch_delay":"1h"}"#,
            r#"{"listen_timeout":250,"min_uptime":1,"kill_timeout":60000,"watch_delay":3600000} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","min_uptime":-5}"#,
            r#"error: <dir>/e.json: app a: option min_uptime: expected milliseconds, got -5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","kill_timeout":"soon"}"#,
            r#"error: <dir>/e.json: app a: option kill_timeout: expected milliseconds or 1s/2m/1h, got "soon""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","restart_delay":true}"#,
            r#"error: <dir>/e.json: app a: option restart_delay: expected milliseconds, got true"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","watch_delay":"-3"}"#,
            r#"error: <dir>/e.json: app a: option watch_delay: expected milliseconds, got -3"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_restarts":"4"}"#,
            r#"{"max_restarts":4} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_restarts":-1}"#,
            r#"error: <dir>/e.json: app a: option max_restarts: expected a whole number, got -1"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_restarts":"-1"}"#,
            r#"error: <dir>/e.json: app a: option max_restarts: expected a whole number, got -1"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_restarts":1.5}"#,
            r#"error: <dir>/e.json: app a: option max_restarts: expected a whole number, got 1.5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_restarts":5000000000}"#,
            r#"error: <dir>/e.json: app a: option max_restarts: expected a whole number, got 5000000000"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","autorestart":false,"autostart":false,"shared_port":true,"wait_ready":true,"shutdown_with_message":true}"#,
            r#"{"autorestart":false,"autostart":false,"wait_ready":true,"shutdown_with_message":true} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","vizion":false,"pmx":false,"automation":false,"treekill":false}"#,
            r#"{"treekill":false,"vizion":false,"pmx":false,"automation":false} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","autorestart":"false"}"#,
            r#"error: <dir>/e.json: app a: option autorestart: expected true or false, got "false""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","treekill":0}"#,
            r#"error: <dir>/e.json: app a: option treekill: expected true or false, got 0"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","post_update":"npm install"}"#,
            r#"{"post_update":["npm","install"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","post_update":["npm install","echo"]}"#,
            r#"{"post_update":["npm install","echo"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","kill_signal":"term"}"#,
            r#"{"kill_signal":"SIGTERM"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","kill_signal":"SIGINT"}"#,
            r#"{} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","kill_signal":9}"#,
            r#"{"kill_signal":"SIG9"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","kill_signal":null}"#,
            r#"error: <dir>/e.json: app a: option kill_signal: expected a string, got null"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","stop_exit_codes":3}"#,
            r#"{"stop_exit_codes":[3]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","stop_exit_codes":[0,2]}"#,
            r#"{"stop_exit_codes":[0,2]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","stop_exit_codes":[0,"x"]}"#,
            r#"error: <dir>/e.json: app a: option stop_exit_codes: expected exit codes, got [0,"x"]"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","stop_exit_codes":"0"}"#,
            r#"error: <dir>/e.json: app a: option stop_exit_codes: expected an exit code or a list, got "0""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","stop_exit_codes":1.5}"#,
            r#"error: <dir>/e.json: app a: option stop_exit_codes: expected exit codes, got 1.5"#,
        ),
    ]);
}

/// Namespace, instance variables and the Node switches.
#[test]
fn names_and_node_switches() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","namespace":"ns","instance_var":"INST","increment_var":"PORT"}"#,
            r#"{"namespace":"ns","instance_var":"INST","increment_var":"PORT"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","namespace":{}}"#,
            r#"error: <dir>/e.json: app a: option namespace: expected a string, got {}"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","source_map_support":false}"#,
            r#"{"disable_source_map_support":true} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","disable_source_map_support":true}"#,
            r#"{"disable_source_map_support":true} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","disable_source_map_support":true,"source_map_support":true}"#,
            r#"{} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","source_map_support":"no"}"#,
            r#"error: <dir>/e.json: app a: option source_map_support: expected true or false, got "no""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","deep_monitoring":true}"#,
            r#"{"deep_monitoring":true} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","trace":true,"deep_monitoring":false}"#,
            r#"{"deep_monitoring":true} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","trace":false,"deep_monitoring":true}"#,
            r#"{"deep_monitoring":true} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","trace":"on"}"#,
            r#"error: <dir>/e.json: app a: option trace: expected true or false, got "on""#,
        ),
    ]);
}

/// Watching and cron restarts.
#[test]
fn watch_and_cron() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","watch":true}"#,
            r#"{"watch":["<dir>"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","watch":false}"#,
            r#"{} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","watch":"src lib"}"#,
            r#"{"watch":["<dir>/src","<dir>/lib"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","watch":["src","/abs"],"ignore_watch":"node_modules"}"#,
            r#"{"watch":["<dir>/src","/abs"],"ignore_watch":["node_modules"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","watch":5}"#,
            r#"error: <dir>/e.json: app a: option watch: expected a string or a list, got 5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","ignore_watch":{}}"#,
            r#"error: <dir>/e.json: app a: option ignore_watch: expected a string or a list, got {}"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","log_type":"json"}"#,
            r#"{"log_type":"json"} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","log_type":"raw"}"#,
            r#"{} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","log_type":"xml"}"#,
            r#"error: <dir>/e.json: app a: option log_type: expected json or raw, got "xml""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","cron_restart":"0 * * * *"}"#,
            r#"{"cron_restart":"0 * * * *"} []"#,
        ),
        (r#"{"name":"a","script":"app.sh","cron":"0"}"#, r#"{} []"#),
        (
            r#"{"name":"a","script":"app.sh","cron":false}"#,
            r#"error: <dir>/e.json: app a: option cron: expected a string, got false"#,
        ),
    ]);
}

/// Memory limit, `port`, `filter_env`, options not applied and unknown ones, two spellings at once.
#[test]
fn memory_port_filter_and_unknown_options() {
    check(&[
        (
            r#"{"name":"a","script":"app.sh","max_memory_restart":"10M"}"#,
            r#"{"max_memory_restart":10485760} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_memory_restart":1024}"#,
            r#"{"max_memory_restart":1024} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_memory_restart":"lots"}"#,
            r#"error: <dir>/e.json: app a: option max_memory_restart: expected bytes or 100M/1G, got "lots""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_memory_restart":-1}"#,
            r#"error: <dir>/e.json: app a: option max_memory_restart: expected bytes or 100M/1G, got -1"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","max_memory_restart":true}"#,
            r#"error: <dir>/e.json: app a: option max_memory_restart: expected bytes or 100M/1G, got true"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":8080}"#,
            r#"{"env":{"PORT":"8080","SHELL_VAR":"from-shell"},"typed_env":["PORT"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":" 8081 "}"#,
            r#"{"env":{"PORT":"8081","SHELL_VAR":"from-shell"},"typed_env":["PORT"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":0}"#,
            r#"error: <dir>/e.json: app a: option port: expected a port number (1-65535), got 0"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":70000}"#,
            r#"error: <dir>/e.json: app a: option port: expected a port number (1-65535), got 70000"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":"x"}"#,
            r#"error: <dir>/e.json: app a: option port: expected a port number (1-65535), got "x""#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":3000,"env":{"PORT":"1"}}"#,
            r#"{"env":{"PORT":"3000","SHELL_VAR":"from-shell"},"typed_env":["PORT"]} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","port":3000,"env_production":{"PORT":"2"}}"#,
            r#"{"env":{"PORT":"2","SHELL_VAR":"from-shell"}} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","filter_env":true}"#,
            r#"{"env":{}} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","filter_env":false}"#,
            r#"{} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","filter_env":"SHELL"}"#,
            r#"{"env":{}} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","filter_env":["SH"]}"#,
            r#"{"env":{}} []"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","filter_env":5}"#,
            r#"error: <dir>/e.json: app a: option filter_env: expected a string or a list, got 5"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","watch_options":{},"force":true,"disable_logs":true,"zzz":1,"aaa":2}"#,
            r#"{} ["<dir>/e.json: app a: unknown option \"aaa\" ignored", "<dir>/e.json: app a: option disable_logs is not supported yet and was ignored", "<dir>/e.json: app a: option force is not supported yet and was ignored", "<dir>/e.json: app a: option watch_options is not supported yet and was ignored", "<dir>/e.json: app a: unknown option \"zzz\" ignored"]"#,
        ),
        (
            r#"{"name":"a","script":"app.sh","env":{"PMR_SECRET_KEY":"s","X":"x"}}"#,
            r#"{"env":{"SHELL_VAR":"from-shell","X":"x"}} []"#,
        ),
        // Two spellings of one option: the last in name order wins.
        (
            r#"{"name":"a","script":"app.sh","err":"x.log","error_file":"y.log","out":"o"}"#,
            r#"{"pm_out_log_path":"<dir>/o","pm_err_log_path":"<dir>/y.log"} []"#,
        ),
        (
            r#"{"name":"a","command":"app.sh","exec":"sleep 2"}"#,
            r#"{"pm_exec_path":"sleep 2","node_args":["-c"]} []"#,
        ),
        // Named as written, as every other spelling is (the reader before
        // serde said `log_file` here).
        (
            r#"{"name":"a","script":"app.sh","log":[]}"#,
            r#"error: <dir>/e.json: app a: option log: expected a string, got []"#,
        ),
    ]);
}
