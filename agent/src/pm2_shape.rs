//! pm2's JSON shapes: a `jlist` entry and a dump entry built from a
//! [`ProcessInfo`], so that scripts written for pm2 read pmr unchanged.
//!
//! The one place that knows pm2's key names and quirks: `pmr jlist` /
//! `prettylist` print [`jlist_entry`], `daemon::persist` writes
//! [`dump_entry`]. The typed [`ProcessInfo`] stays pmr's own shape.

use pmr_shared::app::ProcessInfo;
use serde_json::{Map, Value, json};

/// `pm2_env` of one instance: the options under pm2's keys plus runtime facts.
/// `flatten_env` also copies the app's variables to the top level, as pm2
/// does (every caller passes true today).
pub fn pm2_env(p: &ProcessInfo, flatten_env: bool) -> Value {
    let mut env = match serde_json::to_value(&p.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    // pm2 shows `watch: true` for `--watch` (the app's directory) and
    // `false` when not watching; explicit paths stay a list.
    let watch = match p.spec.watch.as_slice() {
        [] => Value::Bool(false),
        [only] if *only == p.spec.cwd => Value::Bool(true),
        paths => json!(paths),
    };
    env.insert("watch".into(), watch);
    env.remove("typed_env");
    if p.spec.interpreter_args.is_none() {
        env.remove("node_args");
    }
    // The id is pm2_env's own `pm_id` (a number), not an app variable.
    let mut vars: Map<String, Value> = p
        .spec
        .env
        .iter()
        .filter(|(k, v)| !(k.as_str() == "pm_id" && **v == p.pm_id.to_string()))
        .map(|(k, v)| (k.clone(), env_value(&p.spec, k, v)))
        .collect();
    if flatten_env {
        // pm2 flattens the app's variables into pm2_env; its own keys win.
        for (k, v) in &vars {
            env.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // pm2 shows the app's settings (`pmr set app.key v`) under its name, as
    // an object, `{}` when there are none.
    let settings = match vars.get(&p.spec.name) {
        Some(Value::String(s)) => serde_json::from_str(s).ok().filter(Value::is_object),
        _ => None,
    };
    vars.insert(p.spec.name.clone(), settings.unwrap_or_else(|| json!({})));
    env.insert("env".into(), Value::Object(vars));
    let fields = json!({
        "pm_id": p.pm_id,
        "status": p.status.as_str(),
        "pm_uptime": p.pm_uptime,
        "created_at": p.created_at,
        "restart_time": p.restart_time,
        "unstable_restarts": p.unstable_restarts,
        "prev_restart_delay": p.prev_restart_delay,
        "exit_code": p.exit_code,
        "username": p.username,
        "pm_out_log_path": p.out_log,
        "pm_err_log_path": p.err_log,
        "pm_log_path": p.combined_log,
        "pm_pid_path": p.pid_path,
        "log_bytes_dropped": p.log_bytes_dropped,
        "versioning": p.versioning,
        "axm_monitor": p.axm_monitor,
        "axm_actions": p.axm_actions,
        "axm_options": {},
        "axm_dynamic": {},
        "unique_id": format!("{}-{}", p.created_at, p.pm_id),
        "pmr_version": pmr_shared::VERSION,
    });
    if let Value::Object(f) = fields {
        env.extend(f);
    }
    // pm2 has no combined-log key at all when there is no such file.
    if p.combined_log.is_none() {
        env.remove("pm_log_path");
    }
    env.insert(p.spec.instance_var.clone(), json!(p.instance));
    Value::Object(env)
}

/// A variable as pm2 shows it: a number or boolean where the configuration
/// gave one (and the number `increment_var` makes), a string otherwise.
fn env_value(spec: &pmr_shared::app::AppSpec, k: &str, v: &str) -> Value {
    let typed = spec.typed_env.contains(k) || spec.increment_var.as_deref() == Some(k);
    match serde_json::from_str::<Value>(v) {
        Ok(t) if typed && (t.is_number() || t.is_boolean()) => t,
        _ => Value::String(v.to_string()),
    }
}

/// One element of the dump: the options as the user gave them (not the
/// resolved paths, which would gain another `-<id>` on every resurrect), the
/// given environment, and what resurrect restores.
pub fn dump_entry(p: &ProcessInfo) -> Value {
    let mut entry = match serde_json::to_value(&p.spec) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    entry.insert("pm_id".into(), json!(p.pm_id));
    entry.insert("status".into(), json!(p.status.as_str()));
    entry.insert("restart_time".into(), json!(p.restart_time));
    entry.insert(p.spec.instance_var.clone(), json!(p.instance));
    // The index again under a fixed key: `instance_var` is the user's to
    // rename, and resurrect must find the index without knowing it.
    entry.insert("pmr_instance".into(), json!(p.instance));
    Value::Object(entry)
}

/// One element of `pmr jlist`, as `pm2 jlist` prints it.
pub fn jlist_entry(p: &ProcessInfo) -> Value {
    // pm2's key order (scripts grep prettylist with -m 1).
    json!({
        "pid": p.pid,
        "name": p.spec.name,
        "pm2_env": pm2_env(p, true),
        "pm_id": p.pm_id,
        "monit": { "memory": p.memory, "cpu": (f64::from(p.cpu) * 10.0).round() / 10.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmr_shared::app::{AppSpec, Status};

    #[test]
    fn jlist_has_the_fields_scripts_read() {
        let mut spec = AppSpec {
            name: "api".into(),
            ..Default::default()
        };
        spec.env.insert("FOO".into(), "bar".into());
        spec.env.insert("status".into(), "not-this".into());
        spec.env.insert("PORT".into(), "3000".into());
        spec.env.insert("SHLVL".into(), "1".into());
        spec.typed_env.insert("PORT".into());
        spec.env.insert("pm_id".into(), "3".into());
        let p = ProcessInfo {
            pm_id: 3,
            instance: 0,
            status: Status::Online,
            pid: 42,
            restart_time: 2,
            unstable_restarts: 1,
            pm_uptime: 10,
            created_at: 5,
            exit_code: None,
            exit_signal: None,
            prev_restart_delay: 0,
            cpu: 1.26,
            memory: 1024,
            username: "u".into(),
            out_log: "o".into(),
            err_log: "e".into(),
            combined_log: None,
            pid_path: "p".into(),
            log_bytes_dropped: 0,
            spec,
            axm_monitor: Default::default(),
            axm_actions: Vec::new(),
            versioning: None,
        };
        let v = jlist_entry(&p);
        assert_eq!(v["pm_id"], 3);
        assert_eq!(v["pid"], 42);
        assert_eq!(v["monit"]["cpu"], 1.3);
        assert_eq!(v["pm2_env"]["status"], "online");
        assert_eq!(v["pm2_env"]["restart_time"], 2);
        assert_eq!(v["pm2_env"]["FOO"], "bar");
        assert_eq!(v["pm2_env"]["env"]["FOO"], "bar");
        assert_eq!(v["pm2_env"]["exec_mode"], "fork_mode");
        assert_eq!(v["pm2_env"]["NODE_APP_INSTANCE"], 0);
        // A number in the configuration stays a number; the shell's are strings.
        assert_eq!(v["pm2_env"]["PORT"], 3000);
        assert_eq!(v["pm2_env"]["env"]["PORT"], 3000);
        assert_eq!(v["pm2_env"]["SHLVL"], "1");
        assert!(v["pm2_env"].get("typed_env").is_none());
        assert!(v["pm2_env"].get("pm_log_path").is_none(), "no combined log");
        // `pm_id` appears as pm2_env's number, never as a string variable.
        assert_eq!(v["pm2_env"]["pm_id"], 3);
        assert!(v["pm2_env"]["env"].get("pm_id").is_none());
        assert_eq!(v["pm2_env"]["env"]["api"], json!({}), "the app's settings");
    }
}
