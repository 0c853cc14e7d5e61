//! The app's environment and its log files.

use super::check;

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
