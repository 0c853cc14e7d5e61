//! What an app runs and how many of it: script, interpreter, cwd,
//! instances and exec mode.

use super::check;

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
