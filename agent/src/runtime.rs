//! `pmr-runtime`: the same supervisor in the foreground, for containers.
//!
//! It runs the app(s) in-process without a socket, prints their output on its
//! own stdout, forwards SIGTERM/SIGINT as a graceful stop of every app, and
//! exits once no app is left running. Ecosystem files, zombie reaping as PID 1
//! and hub linking from `PMR_PUBLIC_KEY`/`PMR_SECRET_KEY` build on this.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use pmr_shared::app::Status;
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::StartArgs;
use crate::daemon::state::{Daemon, NewInstance};
use crate::paths::Paths;
use crate::supervisor::Control;

/// `pmr-runtime app.js [start options] [-- args]`.
#[derive(Debug, Parser)]
#[command(
    name = "pmr-runtime",
    version,
    about = "Run apps in the foreground (containers)"
)]
struct RuntimeCli {
    /// Print the apps' lines without the `id|name |` prefix.
    #[arg(long)]
    raw: bool,
    /// The same options as `pmr start`.
    #[command(flatten)]
    start: StartArgs,
}

/// Entry point of the `pmr-runtime` binary.
pub fn main() -> ExitCode {
    let cli = RuntimeCli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("[PMR][ERROR] {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: RuntimeCli) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    std::fs::create_dir_all(paths.logs_dir())?;
    std::fs::create_dir_all(paths.pids_dir())?;
    let cwd = std::env::current_dir()?;
    let spec = Arc::new(crate::cli::build_spec(&cli.start, &cwd)?);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let d = Arc::new(Daemon::new(paths));
        let new = (0..spec.instances)
            .map(|instance| NewInstance { spec: spec.clone(), instance, wanted_id: None, restart_time: 0 })
            .collect();
        let handles = d.create(new).map_err(anyhow::Error::msg)?;
        let mut logs = d.log_bus.subscribe();
        for h in &handles {
            h.control(Control::Start).await;
        }
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut check = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                ev = logs.recv() => match ev {
                    Ok(ev) => {
                        let mut out = std::io::stdout().lock();
                        for line in ev.data.lines() {
                            let _ = if cli.raw { writeln!(out, "{line}") } else { writeln!(out, "{}|{:<10}| {line}", ev.pm_id, ev.name) };
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        eprintln!("[PMR] {n} log chunks not shown on stdout (output too fast); the log files have them");
                    }
                    Err(_) => {}
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = check.tick() => {
                    let down = handles.iter().all(|h| matches!(h.rt().status, Status::Stopped | Status::Errored));
                    if down {
                        let errored = handles.iter().any(|h| h.rt().status == Status::Errored);
                        return Ok(if errored { ExitCode::from(2) } else { ExitCode::SUCCESS });
                    }
                }
            }
        }
        let mut all = tokio::task::JoinSet::new();
        for h in handles {
            all.spawn(async move { h.control(Control::Delete).await });
        }
        while all.join_next().await.is_some() {}
        Ok(ExitCode::SUCCESS)
    })
}
