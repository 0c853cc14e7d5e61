//! The environment a child starts with: the spec's variables, pm2's
//! per-instance ones, and what pmr passes down for the features the child
//! takes part in (the notify socket, a shared cluster port, the Node
//! preload's switches, the Node IPC channel). The child gets nothing else:
//! the daemon's own environment is cleared.

use std::collections::BTreeMap;

use pmr_shared::app::AppSpec;

/// The environment an instance gets: the spec's, plus pm2's instance variables.
pub(crate) fn instance_env(spec: &AppSpec, id: u32, instance: u32) -> BTreeMap<String, String> {
    let mut env = spec.env.clone();
    env.insert(spec.instance_var.clone(), instance.to_string());
    if let Some(var) = &spec.increment_var {
        let base: u64 = env.get(var).and_then(|v| v.parse().ok()).unwrap_or(0);
        env.insert(var.clone(), (base + u64::from(instance)).to_string());
    }
    env.insert("pm_id".into(), id.to_string());
    env.insert("name".into(), spec.name.clone());
    env.insert("namespace".into(), spec.namespace.clone());
    env.insert("PMR_ID".into(), id.to_string());
    if spec.interpreter.contains("python") {
        env.insert("PYTHONUNBUFFERED".into(), "1".into());
    }
    env
}

/// The notify socket (systemd's `NOTIFY_SOCKET` protocol), where any app
/// may say it is ready.
pub(super) fn notify(env: &mut BTreeMap<String, String>) {
    if let Some(path) = crate::supervisor::notify::path() {
        let path = path.to_string_lossy().into_owned();
        env.insert("PMR_NOTIFY_SOCKET".into(), path.clone());
        env.insert("NOTIFY_SOCKET".into(), path);
    }
}

/// A listening socket passed as fd 3, named as systemd's socket activation
/// names it (`LISTEN_PID` is set by the shell that execs the app).
pub(super) fn shared_port(env: &mut BTreeMap<String, String>, port: u16) {
    env.insert("LISTEN_FDS".into(), "1".into());
    env.insert("LISTEN_FDNAMES".into(), "pmr".into());
    env.insert("PMR_PORT".into(), port.to_string());
}

/// Switches of pmr's Node preload: port sharing, source maps, deep
/// monitoring, exception reports.
pub(super) fn node(spec: &AppSpec, env: &mut BTreeMap<String, String>) {
    if crate::supervisor::cluster::shares(spec) {
        env.insert("PMR_SHARE".into(), "1".into());
    }
    if spec.disable_source_map_support {
        env.insert("PMR_SOURCE_MAPS".into(), "false".into());
    }
    if spec.deep_monitoring {
        env.insert("PMR_DEEP_MONITORING".into(), "true".into());
    }
    if !(spec.pmx && spec.automation) {
        env.insert("PMR_PMX".into(), "false".into());
    }
}

/// Node's own IPC channel (as `child_process.fork` sets it up) on `fd`.
pub(super) fn ipc_channel(env: &mut BTreeMap<String, String>, fd: i32) {
    env.insert("NODE_CHANNEL_FD".into(), fd.to_string());
    env.insert("NODE_CHANNEL_SERIALIZATION_MODE".into(), "json".into());
}
