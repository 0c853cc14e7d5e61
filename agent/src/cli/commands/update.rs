//! `pmr update`: hand every app over to a new binary, and say afterwards
//! exactly what changed for each app (never "no app restarted" when one did).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use pmr_shared::app::{ProcessInfo, Status};
use pmr_shared::ipc::{ErrorKind, Request, Response};

use super::daemon_ops::{DAEMON_EXIT_LIMIT, daemon_pid, terminate_by_signal};
use super::report;
use crate::cli::client::{self, Mismatch, refused_as_or_said};
use crate::cli::{Client, OutputArgs};
use crate::paths::Paths;

/// What `update` compares before and after: per id, name, pid and status.
/// A hand-over keeps ids and pids, so any difference is worth a line.
type Seen = BTreeMap<u32, (String, u32, Status)>;

/// The daemon's list reduced to what `update` compares.
fn seen(c: &mut Client) -> anyhow::Result<Seen> {
    let reply = c.request(&Request::List {
        full: false,
        targets: Vec::new(),
    })?;
    let Response::Processes { list } = reply else {
        bail!("the daemon did not send its process list");
    };
    Ok(list
        .into_iter()
        .map(|p: ProcessInfo| (p.pm_id, (p.spec.name.clone(), p.pid, p.status)))
        .collect())
}

/// One line per app whose process or state is not what it was.
fn changes(before: &Seen, after: &Seen) -> Vec<String> {
    let mut out = Vec::new();
    for (id, (name, pid, status)) in before {
        match after.get(id) {
            None => out.push(format!("[{name}]({id}) is gone")),
            Some((_, p, s)) if s != status => out.push(format!(
                "[{name}]({id}) was {} (pid {pid}), is now {} (pid {p})",
                status.as_str(),
                s.as_str()
            )),
            Some((_, p, _)) if p != pid => {
                out.push(format!("[{name}]({id}) restarted: pid {pid}, now pid {p}"));
            }
            Some(_) => {}
        }
    }
    for (id, (name, p, s)) in after {
        if !before.contains_key(id) {
            out.push(format!("[{name}]({id}) appeared, {} (pid {p})", s.as_str()));
        }
    }
    out
}

/// Whether this home's keeper (which holds the apps' pipes so that a new
/// daemon can take them over) is gone: its lock on `keeper.pid` is free.
fn keeper_gone(paths: &Paths) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    let Ok(file) = std::fs::File::open(paths.home.join("keeper.pid")) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockSharedNonblock).is_ok()
}

/// `pmr update`: the running daemon hands every app over to this binary
/// (no app restarts). A daemon that cannot (another protocol, no keeper)
/// is replaced the way pm2 does it: save, stop, start, resurrect.
pub(super) fn update(
    paths: &Paths,
    binary: Option<PathBuf>,
    force: bool,
) -> anyhow::Result<ExitCode> {
    let failed = paths.home.join(crate::keeper::UPDATE_FAILED);
    if let Ok(Some(mut c)) = Client::connect(paths) {
        if keeper_gone(paths) && !force {
            bail!(
                "the keeper that holds the apps' pipes ({}) is gone, so a new daemon cannot take \
                 the apps over: each would be stopped and started again (new pids). Nothing was \
                 changed; run `pmr update --force` to restart them under the new binary",
                paths.home.join("keeper.pid").display()
            );
        }
        let old = c.daemon_pid;
        let exe = match binary {
            Some(b) => std::path::absolute(&b)
                .with_context(|| format!("cannot resolve {}", b.display()))?,
            None => std::env::current_exe().context("cannot find the pmr executable")?,
        };
        let exe = crate::daemon::binary(&exe);
        // A stale note from an earlier update must not be read as this one's.
        let _ = std::fs::remove_file(&failed);
        let before = seen(&mut c)?;
        let asked = c.request(&Request::Update {
            exe: exe.to_string_lossy().into_owned(),
        });
        match asked {
            Ok(reply) => return handed_over(paths, old, &before, reply),
            Err(e) => {
                let why = format!("{e:#}");
                // Only a daemon that cannot hand over (too old to know the
                // request, or running without a keeper) falls through to the
                // restart below; any other refusal leaves everything running.
                if !cannot_hand_over(&e) {
                    bail!("the update did not start: {why}; the running daemon keeps every app");
                }
                println!("[PMR] {why}: restarting the daemon and its apps instead");
            }
        }
    }
    // pm2's way: a daemon of another protocol still answers with its pid
    // (`Mismatch`), and SIGTERM makes any daemon save the dump and stop.
    let running = match Client::connect(paths) {
        Ok(Some(c)) => Some(c.daemon_pid),
        Ok(None) => None,
        Err(e) => match e.downcast_ref::<Mismatch>() {
            Some(m) => Some(m.pid),
            None => return Err(e),
        },
    };
    if let Some(pid) = running.or_else(|| daemon_pid(paths)) {
        println!("[PMR] Saving the process list and stopping daemon {pid}");
        terminate_by_signal(paths, pid)?;
    }
    let mut c = Client::connect_or_start(paths)?;
    println!(
        "[PMR] Daemon {} ({}) started",
        c.daemon_pid,
        pmr_shared::VERSION
    );
    if paths.dump().exists() {
        let reply = c.request(&Request::Resurrect)?;
        report(&OutputArgs::default(), reply);
    }
    Ok(ExitCode::SUCCESS)
}

/// After the daemon took the update: waits for it to leave, then says
/// whether the new one took every app over as it was, or why the previous
/// binary runs again.
fn handed_over(
    paths: &Paths,
    old: u32,
    before: &Seen,
    reply: Response,
) -> anyhow::Result<ExitCode> {
    let failed = paths.home.join(crate::keeper::UPDATE_FAILED);
    let mini = OutputArgs {
        mini: true,
        ..Default::default()
    };
    report(&mini, reply);
    // The old daemon exits once the apps are handed over; the
    // keeper then starts the new binary (or, if it dies on
    // probation, the old one again and leaves UPDATE_FAILED).
    if !client::wait_gone(old, DAEMON_EXIT_LIMIT) {
        bail!("the daemon (pid {old}) did not hand over");
    }
    let mut c = Client::connect_or_start(paths)?;
    if let Ok(why) = std::fs::read_to_string(&failed) {
        let _ = std::fs::remove_file(&failed);
        bail!(
            "the update failed: {why}; the previous pmr runs again (pid {}), every app as it was",
            c.daemon_pid
        );
    }
    let changed = changes(before, &seen(&mut c)?);
    let new = format!("daemon {} ({})", c.daemon_pid, pmr_shared::VERSION);
    if changed.is_empty() {
        println!("[PMR] Daemon {old} handed over to {new}; no app restarted");
    } else {
        println!(
            "[PMR] Daemon {old} handed over to {new}; {} app(s) not as they were:",
            changed.len()
        );
        for line in changed {
            println!("[PMR]   {line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The daemon cannot hand its apps over at all: it says so by kind, or, if
/// it predates error kinds, in words: serde's for a request it does not
/// know, or its own for a daemon without a keeper.
fn cannot_hand_over(e: &anyhow::Error) -> bool {
    refused_as_or_said(e, ErrorKind::Unsupported, "unknown variant")
        || refused_as_or_said(e, ErrorKind::Unsupported, "without a keeper")
}
