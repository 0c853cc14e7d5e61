//! Turning an [`AppSpec`] into a running child in its own process group:
//! its environment ([`mod@env`]), its command line (the interpreter, the Node
//! preload, the script and its arguments), the descriptors it inherits (a
//! shared listening socket, the Node IPC channel) and its output pipes,
//! whose read ends are also parked with the keeper so that a daemon
//! restart loses no output.

mod env;

use std::ffi::OsString;
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

pub(crate) use env::instance_env;

use super::cluster;

/// A spawned child and the read ends of its output pipes.
pub(crate) struct Spawned {
    /// The process, for its task to wait for.
    pub(crate) child: super::proc::Proc,
    /// Its pid, which leads its process group.
    pub(crate) pid: u32,
    /// The read end of its stdout, for the log pump.
    pub(crate) stdout: pipe::Receiver,
    /// The read end of its stderr, for the log pump.
    pub(crate) stderr: pipe::Receiver,
    /// The cluster's shared listening socket, held while this child runs.
    pub(crate) listener: Option<Arc<cluster::Shared>>,
    /// Shared sockets a previous daemon held (adopted instances only).
    pub(crate) binds: Vec<Arc<cluster::Shared>>,
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
    env::notify(&mut env);
    let listener = match cluster::shared_port(spec, &env) {
        Some(port) => {
            env::shared_port(&mut env, port);
            Some(cluster::listener(cluster::Bind::new(None, port))?)
        }
        None => None,
    };
    let node = crate::node::is_node(spec);
    if node {
        env::node(spec, &mut env);
    }
    // Node apps get an IPC channel, as pm2 gives them, after the socket.
    let ipc = if node {
        Some(super::ipc::pair()?)
    } else {
        None
    };
    let ipc_fd = if listener.is_some() { 4 } else { 3 };
    if ipc.is_some() {
        env::ipc_channel(&mut env, ipc_fd);
    }
    let (out_r, out_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let (err_r, err_w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let child = {
        // The command holds the write ends; it is dropped at the end of this
        // block so that the pipes report end-of-file once the app is gone.
        let (program, argv) = command_line(spec, node);
        let mut cmd = command(program, &argv, listener.is_some());
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
            fds.push((l.fd(), cluster::LISTEN_FD));
        }
        if let Some((theirs, _)) = &ipc {
            fds.push((theirs, ipc_fd));
        }
        if !fds.is_empty() {
            cluster::pass_fds(&mut cmd, &fds);
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

/// The program to run and its arguments: the script itself (interpreter
/// `none`), or the interpreter with its flags (and, for Node, pmr's
/// preload, which reports exceptions and shares ports), then the script.
fn command_line(spec: &AppSpec, node: bool) -> (&str, Vec<OsString>) {
    let mut argv: Vec<OsString> = Vec::new();
    let program = if spec.interpreter == "none" {
        &spec.script
    } else {
        if let Some(p) = crate::node::preload().filter(|_| node) {
            argv.push("--require".into());
            argv.push(p.into());
        }
        argv.extend(spec.node_args().iter().map(Into::into));
        argv.push((&spec.script).into());
        &spec.interpreter
    };
    argv.extend(spec.args.iter().map(Into::into));
    (program, argv)
}

/// The command for `program`; with a shared socket, through a shell that
/// sets `LISTEN_PID`, which must hold the app's own pid, known only after
/// the fork: the shell sets it and execs the app in its place.
fn command(program: &str, argv: &[OsString], listens: bool) -> Command {
    if listens {
        let mut c = Command::new("/bin/sh");
        c.arg("-c")
            .arg("LISTEN_PID=$$; export LISTEN_PID; exec \"$0\" \"$@\"")
            .arg(program)
            .args(argv);
        c
    } else {
        let mut c = Command::new(program);
        c.args(argv);
        c
    }
}
