//! The daemon: one per `$PMR_HOME`, started in the background by the first
//! CLI command. It owns the apps; the CLI only talks to it over the socket.
//!
//! This file is the lifecycle: [`run`] takes the pid-file lock, binds (or
//! inherits from the keeper) the socket, restores the list the last daemon
//! left and prints [`READY`]; `serve` is the accept loop and the signal
//! handling; the exit path either hands over to a new binary (`pmr update`)
//! or saves the dump and stops every app (a terminating signal). Requests
//! themselves live in `handlers`, the shared state in `state`.

mod background;
mod entry;
mod gates;
mod handlers;
mod handover;
mod instances;
mod list_file;
pub mod persist;
mod recreate;
mod reply;
mod resolve;
mod server;
pub mod state;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};
use tokio::net::UnixListener;
use tokio::signal::unix::{SignalKind, signal};

use pmr_shared::sync::Locked;

use crate::paths::Paths;
use state::Daemon;

/// The hub link's view of this daemon: its requests go through the same
/// handlers as the CLI's, served by a task that ends with the link.
pub fn port(d: &Arc<Daemon>) -> crate::link::Port {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<crate::link::Asked>(16);
    let server = d.clone();
    tokio::spawn(async move {
        while let Some((req, reply)) = rx.recv().await {
            let d = server.clone();
            tokio::spawn(async move {
                let _ = reply.send(handlers::handle(&d, req).await.0);
            });
        }
    });
    crate::link::Port {
        home: d.paths.home.clone(),
        requests: tx,
        events: d.events.clone(),
        logs: d.log_bus.clone(),
        recent: {
            let d = d.clone();
            Arc::new(move |path: &str, pm_id: u32, n: usize| {
                let files = d.open_log_files();
                let f = files
                    .iter()
                    .find(|f| f.path() == std::path::Path::new(path))?;
                Some(f.recent(pm_id, n))
            })
        },
    }
}

pub use crate::keeper::{ALREADY_RUNNING, READY};

/// The answer to a request that reaches a daemon being replaced (`pmr
/// update`): nothing was done, and the CLI sends it again to the new one.
pub const REPLACED: &str = "the pmr daemon is being replaced (pmr update): run the command again";
pub use entry::{binary, main};

/// Runs the daemon until `pmr kill` or SIGTERM/SIGINT. Prints [`READY`] (or
/// an error) on stdout once, so that the CLI that started it knows.
pub fn run(paths: Paths) -> anyhow::Result<()> {
    let _ = nix::unistd::setsid();
    let lock = match prepare(&paths) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            println!("{ALREADY_RUNNING}");
            return Ok(());
        }
        Err(e) => {
            println!("error: {e:#}");
            return Err(e);
        }
    };
    // Under a keeper: what the last daemon left (its apps' descriptors).
    let mut inherited = crate::keeper::link::connect()
        .inspect_err(|e| println!("error: keeper: {e}"))?
        .unwrap_or_default();
    // `_rpc` keeps a fresh socket parked with the keeper while this daemon
    // lives, so that the next one inherits it (dropping it unparks).
    let (listener, _rpc) = match inherited.take_one("rpc") {
        // Clients that connected while no daemon ran are waiting on it.
        Some(fd) => {
            let l = std::os::unix::net::UnixListener::from(fd);
            l.set_nonblocking(true)?;
            (l, None)
        }
        None => {
            let l = bind(&paths).inspect_err(|e| println!("error: {e:#}"))?;
            let parked = crate::keeper::link::park("rpc".into(), &[l.as_raw_fd()]);
            (l, parked)
        }
    };
    crate::logging::to_file(&paths.daemon_log());
    tracing::info!(
        "pmr daemon {} started, pid {}",
        pmr_shared::VERSION,
        std::process::id()
    );
    // What an app forks off and abandons becomes ours, not init's: it is
    // stopped with its app and reaped (see `supervisor::orphans`).
    crate::supervisor::orphans::become_subreaper();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let daemon = Arc::new(Daemon::new(paths.clone()));
    if let Err(e) = crate::node::install(&paths.home) {
        tracing::error!("cluster-mode Node apps will not share their port: {e}");
    }
    let result = rt.block_on(async move {
        let listener = UnixListener::from_std(listener)?;
        let notify = daemon.paths.home.join("notify.sock");
        if let Err(e) = crate::supervisor::notify::start(&notify, inherited.take_one("notify")) {
            tracing::error!("no notify socket (READY=1, metrics from non-Node apps): {e}");
        }
        if let Err(e) = crate::config::load(&daemon.paths).and_then(|c| crate::config::apply(&c)) {
            tracing::error!("settings not applied, using defaults: {e:#}");
        }
        match crate::link::settings::load(&daemon.paths.home) {
            Ok(Some(s)) => {
                if let Err(e) = daemon.link.start(port(&daemon), s) {
                    tracing::error!("hub link not started: {e:#}");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!("hub link not started: {e:#}"),
        }
        // Before anyone is answered: `pmr list` right after shows the truth.
        list_file::restore(&daemon, inherited).await;
        println!("{READY}");
        let _ = std::io::stdout().flush();
        detach_stdout();
        tokio::spawn(crate::keeper::link::listen());
        crate::keeper::link::ready();
        serve(daemon, listener).await
    });
    let _ = std::fs::remove_file(paths.socket());
    // The pid file is emptied, never unlinked: a daemon waiting for the lock
    // holds this very inode, and must not end up locking a deleted file
    // while a third one locks a new one.
    let _ = lock.set_len(0);
    drop(lock);
    tracing::info!("pmr daemon exited");
    result
}

/// Creates `$PMR_HOME` and takes the daemon lock; `None` if another daemon
/// holds it and answers on the socket.
fn prepare(paths: &Paths) -> anyhow::Result<Option<Flock<File>>> {
    if !paths.home.exists() {
        std::fs::create_dir_all(&paths.home)
            .with_context(|| format!("cannot create {}", paths.home.display()))?;
        // Only a directory we created is made private; an existing one
        // (PMR_HOME=$HOME...) keeps its mode.
        let _ = std::fs::set_permissions(&paths.home, std::fs::Permissions::from_mode(0o700));
    }
    raise_fd_limit();
    std::fs::create_dir_all(paths.logs_dir())?;
    std::fs::create_dir_all(paths.pids_dir())?;
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(paths.pid_file())
        .with_context(|| format!("cannot open {}", paths.pid_file().display()))?;
    // A daemon that is shutting down still holds the lock for a moment after
    // its socket is gone: wait for it rather than fail.
    let mut waited = Duration::ZERO;
    let mut lock = loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => break lock,
            Err((f, _)) => {
                if std::os::unix::net::UnixStream::connect(paths.socket()).is_ok() {
                    return Ok(None);
                }
                if waited >= Duration::from_secs(10) {
                    let mut pid = String::new();
                    let mut f = f;
                    let _ = f.read_to_string(&mut pid);
                    bail!(
                        "another daemon (pid {}) holds {} but does not answer",
                        pid.trim(),
                        paths.pid_file().display()
                    );
                }
                file = f;
                std::thread::sleep(Duration::from_millis(50));
                waited += Duration::from_millis(50);
            }
        }
    };
    lock.set_len(0)?;
    lock.rewind()?;
    write!(lock, "{}", std::process::id())?;
    Ok(Some(lock))
}

/// Supervising many apps takes several descriptors each (pipes, log files,
/// /proc files): lift the soft limit to the hard one, as servers do.
fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Binds the socket with mode 0600, replacing a stale one.
fn bind(paths: &Paths) -> anyhow::Result<std::os::unix::net::UnixListener> {
    let sock = paths.socket();
    // We hold the lock, so any socket file left is from a dead daemon.
    let _ = std::fs::remove_file(&sock);
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let listener = std::os::unix::net::UnixListener::bind(&sock);
    nix::sys::stat::umask(old);
    let listener = listener.with_context(|| format!("cannot listen on {}", sock.display()))?;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Points stdout at /dev/null once the CLI has read the ready line, so a
/// late write cannot fail on a closed pipe.
fn detach_stdout() {
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&null);
    }
}

/// Accepts clients and watches signals until SIGTERM, SIGINT or SIGQUIT (the
/// dump is saved and every app stopped), or a shutdown request (`pmr kill`,
/// whose handler already stopped the apps, or `pmr update`, which hands over
/// and never returns); SIGUSR2 reopens the log files, as `pm2 reloadLogs`.
/// Also spawns the daemon's background tasks, so they start after `READY`.
async fn serve(d: Arc<Daemon>, listener: UnixListener) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut quit = signal(SignalKind::quit())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    // Registering a handler is how SIGHUP gets ignored, as in pm2.
    let mut hup = signal(SignalKind::hangup())?;
    let mut shutdown = d.shutdown.subscribe();
    tokio::spawn(background::sample_forever(d.clone()));
    tokio::spawn(background::rotate_on_schedule(d.clone()));
    tokio::spawn(list_file::persist_forever(d.clone()));
    tokio::spawn(crate::supervisor::orphans::reap_forever());
    // Descriptors held back (the accept-EMFILE trick): out of descriptors,
    // they are given up so that the next accept serves the waiting client,
    // whose `stop`, `delete` or `kill` frees more; they are taken again once
    // it leaves. No arm awaits anything unbounded: a signal is always seen.
    let mut reserve = take_reserve(Vec::new());
    let (back_tx, mut back_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    // `Some(false)`: released for the next client; `Some(true)`: lent to it.
    let mut lending: Option<bool> = None;
    let mut failures = 0u64;
    let save_on_exit = loop {
        tokio::select! {
            conn = listener.accept() => match conn {
                Ok((stream, _)) if lending == Some(false) => {
                    lending = Some(true);
                    let (d, back) = (d.clone(), back_tx.clone());
                    tokio::spawn(async move {
                        server::serve_client(d, stream).await;
                        let _ = back.send(());
                    });
                }
                Ok((stream, _)) => { tokio::spawn(server::serve_client(d.clone(), stream)); }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) && lending.is_none() && !reserve.is_empty() => {
                    reserve.clear();
                    lending = Some(false);
                    tracing::warn!("out of file descriptors: the next client is served from the reserve");
                }
                Err(e) => {
                    if failures.is_multiple_of(100) {
                        tracing::warn!("accept failed ({} times): {e}", failures + 1);
                    }
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    if lending != Some(true) {
                        lending = None;
                        reserve = take_reserve(reserve);
                    }
                }
            },
            Some(()) = back_rx.recv() => {
                lending = None;
                reserve = take_reserve(reserve);
            }
            _ = term.recv() => break true,
            _ = int.recv() => break true,
            _ = quit.recv() => break true,
            _ = usr2.recv() => {
                for f in d.open_log_files() {
                    let _ = f.reopen();
                }
                tracing::info!("log files reopened (SIGUSR2)");
            }
            _ = hup.recv() => {}
            _ = shutdown.changed() => break false,
        }
    };
    drop(listener);
    let exe = d.handover.locked().take();
    if let Some(exe) = exe {
        handover::leave(&d, &exe).await;
    }
    let _ = std::fs::remove_file(d.paths.socket());
    if save_on_exit {
        let list = d.list(crate::supervisor::EnvView::Given);
        if !list.is_empty() {
            match persist::save(&d.paths, &list) {
                Ok(()) => tracing::info!("process list saved to {}", d.paths.dump().display()),
                Err(e) => tracing::error!("cannot save the process list: {e:#}"),
            }
        }
        tracing::info!("stopping every app before exiting");
        handlers::stop_all(&d).await;
    }
    // A clean exit: nothing for the next daemon to restore.
    if let Err(e) = list_file::write(&d.paths, &d.list(crate::supervisor::EnvView::Given)) {
        tracing::error!("cannot write the process list: {e:#}");
    }
    crate::keeper::link::bye();
    Ok(())
}

/// How many descriptors are held back for a daemon out of them: one for
/// the client's connection, the rest for what its request needs (the list
/// file and its directory, a signal to an app).
const RESERVE: usize = 8;

/// Fills the reserve up to [`RESERVE`] descriptors (as many as it can).
fn take_reserve(mut held: Vec<File>) -> Vec<File> {
    while held.len() < RESERVE {
        match File::open("/dev/null") {
            Ok(f) => held.push(f),
            Err(_) => break,
        }
    }
    held
}
