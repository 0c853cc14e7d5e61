//! `pmr link <secret> <public> [machine-name] --hub URL`, `pmr link status`.

use std::process::ExitCode;

use anyhow::bail;
use clap::Args;
use pmr_shared::ipc::{LinkSettings, Request, Response};

use crate::cli::Client;
use crate::paths::Paths;

/// `pmr link` arguments, in pm2's order.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// `<secret> <public> [machine-name]`, or `status`/`info`, or `delete`/`stop`.
    #[arg(num_args = 1..=3, required = true)]
    pub args: Vec<String>,
    /// The hub's address, wss://host:9615 (default: $PMR_HUB_URL).
    #[arg(long)]
    pub hub: Option<String>,
    /// PEM file of the CA that signed the hub's certificate.
    #[arg(long, conflicts_with = "fingerprint")]
    pub ca: Option<String>,
    /// Pin the hub's certificate by its SHA-256 fingerprint.
    #[arg(long)]
    pub fingerprint: Option<String>,
}

fn ago(ms: i64) -> String {
    let secs = (crate::supervisor::now_ms() as i64 - ms).max(0) / 1000;
    format!("{secs}s ago")
}

pub(crate) fn run(paths: &Paths, a: LinkArgs) -> anyhow::Result<ExitCode> {
    match a.args[0].as_str() {
        "status" | "info" => return status(paths),
        "delete" | "stop" => {
            let mut c = Client::connect_or_start(paths)?;
            c.request(&Request::Unlink)?;
            println!("[PMR] Link removed");
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    if a.args.len() < 2 {
        bail!("usage: pmr link <secret-key> <public-key> [machine-name] --hub wss://HOST:9615");
    }
    let hub = a
        .hub
        .or_else(|| std::env::var("PMR_HUB_URL").ok())
        .unwrap_or_default();
    if hub.is_empty() {
        bail!("which hub? give --hub wss://HOST:9615 (or set PMR_HUB_URL)");
    }
    let machine_name = a.args.get(2).cloned().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "pmr".into())
    });
    let settings = LinkSettings {
        secret_key: a.args[0].clone(),
        public_key: a.args[1].clone(),
        machine_name,
        hub,
        ca: a
            .ca
            .map(|p| std::path::absolute(&p).map_or(p, |p| p.to_string_lossy().into_owned())),
        fingerprint: a.fingerprint,
    };
    // Refuse a mistyped or mismatched key here, before anything connects.
    crate::link::settings::validate(&settings)?;
    let mut c = Client::connect_or_start(paths)?;
    if let Response::Done { messages, .. } = c.request(&Request::Link { settings })? {
        for m in messages {
            println!("[PMR] {m}");
        }
    }
    println!("[PMR] `pmr link status` shows whether the hub accepted this machine");
    Ok(ExitCode::SUCCESS)
}

fn status(paths: &Paths) -> anyhow::Result<ExitCode> {
    let mut c = Client::connect_or_start(paths)?;
    let Response::Link { state } = c.request(&Request::LinkStatus)? else {
        bail!("unexpected reply from the daemon");
    };
    if !state.configured {
        println!("not linked (pmr link <secret> <public> --hub wss://HOST:9615)");
        return Ok(ExitCode::SUCCESS);
    }
    println!("hub:      {}", state.hub);
    println!("machine:  {}", state.machine_name);
    if state.connected {
        println!("status:   connected (since {})", ago(state.since));
    } else {
        println!("status:   disconnected (since {})", ago(state.since));
    }
    if let Some(e) = &state.last_error {
        println!("last error: {e}");
    }
    if let Some(at) = state.next_attempt {
        let secs = ((at - crate::supervisor::now_ms() as i64).max(0) as f64) / 1000.0;
        println!("next attempt in {secs:.1}s");
    }
    println!("queued:   {} (dropped {})", state.queued, state.dropped);
    Ok(ExitCode::SUCCESS)
}
