//! Restart and stop policy, names, Node switches.

use super::check;

/// Restart policy: durations (numbers, strings, `2s`) and counts.
#[test]
fn restart_policy() {
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
    ]);
}

/// Switches of starting and stopping, `post_update`, and how a stop is
/// signalled: signal names, exit codes that mean stopped.
#[test]
fn start_and_stop_switches() {
    check(&[
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
