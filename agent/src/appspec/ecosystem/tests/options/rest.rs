//! Watch, cron, memory limit, `port`, `filter_env`, options not applied
//! and unknown ones, two spellings of one option.

use super::check;

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
