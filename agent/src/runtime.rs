//! `pmr-runtime`: the same supervisor in the foreground, for containers.
//!
//! It runs a script or an ecosystem file's apps in-process without a socket,
//! prints their output on its own stdout (prefixed, `--raw` or `--json`),
//! turns SIGTERM/SIGINT into a graceful stop of every app, and exits once no
//! app is left (2 if one ended `errored`). As PID 1 (or a subreaper) it
//! reaps the orphans it inherits; it links to a hub from `PMR_PUBLIC_KEY`,
//! `PMR_SECRET_KEY`, `PMR_HUB_URL`, `PMR_MACHINE_NAME`.

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
/// `pmr-runtime`'s flags: how the apps' output is printed on standard output.
struct RuntimeCli {
    /// Print the apps' lines without the `id|name |` prefix.
    #[arg(long, conflicts_with = "json")]
    raw: bool,
    /// Print one JSON object per line (message, timestamp, type, process_id, app_name).
    #[arg(long)]
    json: bool,
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

/// Prints one chunk of app output in the chosen form.
fn show(
    ev: Result<crate::logs::LogEvent, tokio::sync::broadcast::error::RecvError>,
    cli: &RuntimeCli,
) {
    let ev = match ev {
        Ok(ev) => ev,
        Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
            eprintln!(
                "[PMR] {n} log chunks not shown on stdout (output too fast); the log files have them"
            );
            return;
        }
        Err(_) => return,
    };
    let mut out = std::io::stdout().lock();
    if cli.json {
        // The same records as `log_type: json` files.
        let records =
            crate::logs::json_lines(ev.data.as_bytes(), None, &ev.name, ev.pm_id, ev.stream);
        let _ = out.write_all(&records);
    } else {
        for line in ev.data.lines() {
            let _ = if cli.raw {
                writeln!(out, "{line}")
            } else {
                writeln!(out, "{}|{:<10}| {line}", ev.pm_id, ev.name)
            };
        }
    }
    let _ = out.flush();
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

/// Supervises in this process the apps of an ecosystem file (the one given,
/// or this directory's default) or of the command line, until none is left
/// or a signal stops them all: what a container's entry point does.
fn run(cli: RuntimeCli) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    std::fs::create_dir_all(paths.logs_dir())?;
    std::fs::create_dir_all(paths.pids_dir())?;
    if let Err(e) = crate::node::install(&paths.home) {
        eprintln!("[PMR][WARN] cluster-mode Node apps will not share their port: {e}");
    }
    let cwd = std::env::current_dir()?;
    // Keys for the hub are read before the apps' environment is captured.
    let link = link_from_env()?;
    let specs = specs(&cli, &cwd)?;
    crate::supervisor::orphans::become_subreaper();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        if let Err(e) = crate::supervisor::notify::start(&paths.home.join("notify.sock"), None) {
            eprintln!("[PMR][WARN] no notify socket (READY=1, metrics from non-Node apps): {e}");
        }
        let d = Arc::new(Daemon::new(paths));
        let new = specs
            .iter()
            .flat_map(|spec| {
                (0..spec.instances).map(|instance| NewInstance {
                    spec: spec.clone(),
                    instance,
                    wanted_id: None,
                    restart_time: 0,
                })
            })
            .collect();
        let handles = d.create(new).map_err(anyhow::Error::msg)?;
        if let Some(settings) = link {
            d.link.start(crate::daemon::port(&d), settings)?;
        }
        let mut children = signal(SignalKind::child())?;
        let mut logs = d.log_bus.subscribe();
        for h in &handles {
            h.control(Control::Start).await;
        }
        if let Some(code) = supervise(&handles, &mut children, &mut logs, &cli).await? {
            return Ok(code);
        }
        stop_all(handles, &mut logs, &cli).await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Runs until a signal asks to stop (`None`) or every app is down on its
/// own (the exit code: 2 if one ended `errored`), showing the apps' output,
/// reaping inherited orphans, and reloading every app on SIGHUP.
async fn supervise(
    handles: &[Arc<crate::supervisor::Handle>],
    children: &mut tokio::signal::unix::Signal,
    logs: &mut tokio::sync::broadcast::Receiver<crate::logs::LogEvent>,
    cli: &RuntimeCli,
) -> anyhow::Result<Option<ExitCode>> {
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    // SIGHUP reloads, as `pmr reload all` would: zero downtime in
    // cluster mode (instance by instance), a restart in fork mode.
    let mut hup = signal(SignalKind::hangup())?;
    let mut check = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            ev = logs.recv() => show(ev, cli),
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => {
                // Beside the loop, so the apps' output keeps flowing.
                let all = handles.to_vec();
                tokio::spawn(async move {
                    for h in all {
                        if let Err(e) = h.reload().await {
                            eprintln!("[PMR][ERROR] reload: {e}");
                        }
                    }
                    eprintln!("[PMR] reloaded on SIGHUP");
                });
            }
            _ = children.recv() => crate::supervisor::orphans::reap(),
            _ = check.tick() => {
                // Signals can coalesce: sweep now and then as well.
                crate::supervisor::orphans::reap();
                let down = handles.iter().all(|h| matches!(h.rt().status, Status::Stopped | Status::Errored));
                if down {
                    let errored = handles.iter().any(|h| h.rt().status == Status::Errored);
                    return Ok(Some(if errored { ExitCode::from(2) } else { ExitCode::SUCCESS }));
                }
            }
        }
    }
    Ok(None)
}

/// Stops and removes every app, showing their last words while they stop.
async fn stop_all(
    handles: Vec<Arc<crate::supervisor::Handle>>,
    logs: &mut tokio::sync::broadcast::Receiver<crate::logs::LogEvent>,
    cli: &RuntimeCli,
) {
    let mut all = tokio::task::JoinSet::new();
    for h in handles {
        all.spawn(async move { h.control(Control::Delete).await });
    }
    // The apps' last words while they stop still reach stdout.
    loop {
        tokio::select! {
            ev = logs.recv() => show(ev, cli),
            done = all.join_next() => if done.is_none() { break },
        }
    }
    while let Ok(ev) = logs.try_recv() {
        show(Ok(ev), cli);
    }
}

/// The apps to run: an ecosystem file's (the one named, or this
/// directory's default when nothing is named), else the command line's.
fn specs(
    cli: &RuntimeCli,
    cwd: &std::path::Path,
) -> anyhow::Result<Vec<Arc<pmr_shared::app::AppSpec>>> {
    let file = match cli.start.targets.as_slice() {
        [] if cli.start.rest.is_empty() => crate::appspec::ecosystem::find_default(cwd),
        [t] if crate::appspec::ecosystem::is_config_file(t) && cwd.join(t).is_file() => {
            Some(cwd.join(t))
        }
        _ => None,
    };
    Ok(match file {
        Some(f) => {
            let loaded = crate::appspec::ecosystem::load(
                &f,
                &cli.start.only,
                cli.start.env.as_deref(),
                &crate::appspec::shell_env(),
            )?;
            for w in &loaded.warnings {
                eprintln!("[PMR][WARN] {w}");
            }
            loaded.apps.into_iter().map(Arc::new).collect()
        }
        None => vec![Arc::new(crate::cli::build_spec(&cli.start, cwd)?)],
    })
}
