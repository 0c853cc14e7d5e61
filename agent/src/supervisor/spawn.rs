//! Turning an [`AppSpec`] into a running child in its own process group.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use nix::fcntl::OFlag;
use pmr_shared::app::AppSpec;
use tokio::net::unix::pipe;
use tokio::process::Command;

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

/// A spawned child and the read ends of its output pipes.
pub(crate) struct Spawned {
    pub(crate) child: super::proc::Proc,
    pub(crate) pid: u32,
    pub(crate) stdout: pipe::Receiver,
    pub(crate) stderr: pipe::Receiver,
    /// The cluster's shared listening socket, held while this child runs.
    pub(crate) listener: Option<Arc<crate::supervisor::cluster::Shared>>,
    /// Shared sockets a previous daemon held (adopted instances only).
    pub(crate) binds: Vec<Arc<crate::supervisor::cluster::Shared>>,
    /// Our end of the Node IPC channel.
    pub(crate) ipc: Option<std::os::unix::net::UnixStream>,
    /// Keeps the orphan reaper off this child, which its task waits for.
    pub(crate) managed: super::orphans::Managed,
    /// The keeper's copies of the pipes and channel, while it runs.
    pub(crate) parked: Option<crate::keeper::link::Parked>,
}

/// Starts the instance. Errors say what could not be started and why.
pub(crate) fn spawn(spec: &AppSpec, id: u32, instance: u32) -> io::Result<Spawned> {
    if !Path::new(&spec.cwd).is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("working directory {} does not exist", spec.cwd),
        ));
    }
    let mut env = instance_env(spec, id, instance);
    if let Some(path) = super::notify::path() {
        let path = path.to_string_lossy().into_owned();
        env.insert("PMR_NOTIFY_SOCKET".into(), path.clone());
        env.insert("NOTIFY_SOCKET".into(), path);
    }
    let shared = super::cluster::shared_port(spec, &env);
    let listener = match shared {
        Some(port) => {
            env.insert("LISTEN_FDS".into(), "1".into());
            env.insert("LISTEN_FDNAMES".into(), "pmr".into());
            env.insert("PMR_PORT".into(), port.to_string());
            Some(super::cluster::listener(super::cluster::Bind::new(
                None, port,
            ))?)
        }
        None => None,
    };
    let node = super::node::is_node(spec);
    if node && super::cluster::shares(spec) {
        env.insert("PMR_SHARE".into(), "1".into());
    }
    if node && spec.disable_source_map_support {
        env.insert("PMR_SOURCE_MAPS".into(), "false".into());
    }
    if node && spec.deep_monitoring {
        env.insert("PMR_DEEP_MONITORING".into(), "true".into());
    }
    if node && !(spec.pmx && spec.automation) {
        env.insert("PMR_PMX".into(), "false".into());
    }
    // Every Node app: it reports exceptions; its port sharing waits for a socket.
    let preload = super::node::preload().filter(|_| node);
    // Node apps get an IPC channel, as pm2 gives them, after the socket.
    let ipc = if node {
        Some(super::ipc::pair()?)
    } else {
        None
    };
    let ipc_fd = if listener.is_some() { 4 } else { 3 };
    if ipc.is_some() {
        env.insert("NODE_CHANNEL_FD".into(), ipc_fd.to_string());
        env.insert("NODE_CHANNEL_SERIALIZATION_MODE".into(), "json".into());
    }
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let child = {
        // The command holds the write ends; it is dropped at the end of this
        // block so that the pipes report end-of-file once the app is gone.
        let mut argv: Vec<std::ffi::OsString> = Vec::new();
        let program = if spec.interpreter == "none" {
            &spec.script
        } else {
            if let Some(p) = preload {
                argv.push("--require".into());
                argv.push(p.into());
            }
            argv.extend(spec.node_args().iter().map(Into::into));
            argv.push((&spec.script).into());
            &spec.interpreter
        };
        argv.extend(spec.args.iter().map(Into::into));
        let mut cmd = if listener.is_some() {
            // LISTEN_PID must hold the app's own pid, known only after the
            // fork: a shell sets it and execs the app in its place.
            let mut c = Command::new("/bin/sh");
            c.arg("-c")
                .arg("LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"")
                .arg(program)
                .args(&argv);
            c
        } else {
            let mut c = Command::new(program);
            c.args(&argv);
            c
        };
        cmd.current_dir(&spec.cwd)
            .env_clear()
            .envs(&env)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_w))
            .stderr(Stdio::from(err_w))
            .process_group(0)
            .kill_on_drop(false);
        let mut fds: Vec<(&OwnedFd, i32)> = Vec::new();
        if let Some(l) = &listener {
            fds.push((l.fd(), super::cluster::LISTEN_FD));
        }
        if let Some((theirs, _)) = &ipc {
            fds.push((theirs, ipc_fd));
        }
        if !fds.is_empty() {
            super::cluster::pass_fds(&mut cmd, &fds);
        }
        cmd.spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("cannot run {program}: {e}")))?
    };
    let pid = child.id().unwrap_or(0);
    let managed = super::orphans::Managed::new(pid);
    // Copies with the keeper: if this daemon dies, the app's writes wait in
    // the pipes and the next daemon reads them (see `keeper`).
    let mut keep = vec![out_r.as_raw_fd(), err_r.as_raw_fd()];
    keep.extend(ipc.as_ref().map(|(_, ours)| ours.as_raw_fd()));
    let parked = crate::keeper::link::park(format!("app:{id}:{pid}"), &keep);
    let stdout = pipe::Receiver::from_file(File::from(out_r))?;
    let stderr = pipe::Receiver::from_file(File::from(err_r))?;
    Ok(Spawned {
        child: super::proc::Proc::Child(child),
        pid,
        stdout,
        stderr,
        listener,
        // Our copy of the app's end closes here: the channel ends with the app.
        ipc: ipc.map(|(_, ours)| ours),
        binds: Vec::new(),
        managed,
        parked,
    })
}
