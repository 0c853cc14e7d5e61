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

/// Containers link by environment, as pm2-runtime does: `PMR_PUBLIC_KEY`,
/// `PMR_SECRET_KEY`, `PMR_HUB_URL`, `PMR_MACHINE_NAME`. Half a key pair is
/// an error, not a silent run without the hub.
fn link_from_env() -> anyhow::Result<Option<pmr_shared::ipc::LinkSettings>> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("PMR_SECRET_KEY"), var("PMR_PUBLIC_KEY")) {
        (None, None) => Ok(None),
        (Some(secret_key), Some(public_key)) => {
            let hub = var("PMR_HUB_URL")
                .ok_or_else(|| anyhow::anyhow!("PMR_HUB_URL is not set (wss://HOST:9615)"))?;
            let machine_name = var("PMR_MACHINE_NAME").unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .ok()
                    .and_then(|h| h.into_string().ok())
                    .unwrap_or_else(|| "pmr-runtime".into())
            });
            let s = pmr_shared::ipc::LinkSettings {
                secret_key,
                public_key,
                machine_name,
                hub,
                ca: var("PMR_HUB_CA"),
                fingerprint: var("PMR_HUB_FINGERPRINT"),
            };
            crate::link::settings::validate(&s)?;
            Ok(Some(s))
        }
        _ => anyhow::bail!("set both PMR_PUBLIC_KEY and PMR_SECRET_KEY to link, or neither"),
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
        if let Some(settings) = link_from_env()? {
            d.link.start(&d, settings)?;
        }
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
