//! `pmr serve [path] [port]`: pm2's static file server, run as an app
//! (named `static-page-server-<port>`) by the Node script pmr ships.
//!
//! The CLI only builds an ordinary app spec: the options travel to the script
//! as `PMR_SERVE_*` variables, so the daemon needs no special case and the
//! server restarts, logs and resurrects like any app.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use pmr_shared::app::AppSpec;
use pmr_shared::ipc::Request;

use super::report;
use crate::cli::{Client, ServeArgs, StartArgs};
use crate::paths::Paths;

/// Registers and starts the server app.
pub(super) fn run(paths: &Paths, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let shell_cwd = std::env::current_dir()?;
    let spec = spec(paths, &args, &shell_cwd)?;
    let (dir, port) = (spec.cwd.clone(), spec.env["PMR_SERVE_PORT"].clone());
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&Request::Start {
        apps: vec![spec],
        force: false,
        update: false,
        reload: false,
    })?;
    if !args.out.silent {
        println!("[PMR] Serving {dir} on port {port}");
    }
    report(&args.out, reply);
    Ok(ExitCode::SUCCESS)
}

/// The server's app: the shipped script, run in the served directory.
/// The port comes from the positional argument, then `--port`, then pm2's
/// default 8080; every error names the option at fault before anything runs.
fn spec(paths: &Paths, args: &ServeArgs, shell_cwd: &Path) -> anyhow::Result<AppSpec> {
    let port = match (&args.port, args.port_flag) {
        (Some(p), _) => p
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .with_context(|| format!("serve: port {p:?} is not a port number (1-65535)"))?,
        (None, Some(p)) if p > 0 => p,
        (None, Some(_)) => bail!("serve: --port 0 is not a port to serve on"),
        (None, None) => 8080,
    };
    let dir = shell_cwd.join(args.path.as_deref().unwrap_or("."));
    if !dir.is_dir() {
        bail!("serve: {} is not a directory", dir.display());
    }
    let dir = dir.canonicalize()?;
    if args.basic_auth_username.is_some() != args.basic_auth_password.is_some() {
        bail!("serve: basic auth needs both --basic-auth-username and --basic-auth-password");
    }
    crate::node::install(&paths.home)
        .with_context(|| format!("cannot write pmr's scripts into {}", paths.home.display()))?;
    let script = crate::node::serve_script(&paths.home);
    let start = StartArgs {
        targets: vec![script.to_string_lossy().into_owned()],
        app: crate::appspec::AppFlags {
            name: Some(
                args.name
                    .clone()
                    .unwrap_or_else(|| format!("static-page-server-{port}")),
            ),
            cwd: Some(dir.to_string_lossy().into_owned()),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut spec = super::build_spec(&start, shell_cwd)?;
    let mut set = |k: &str, v: String| spec.env.insert(format!("PMR_SERVE_{k}"), v);
    set("PATH", dir.to_string_lossy().into_owned());
    set("PORT", port.to_string());
    set("SPA", args.spa.to_string());
    if let Some(h) = &args.homepage {
        set("HOMEPAGE", h.clone());
    }
    if let (Some(u), Some(p)) = (&args.basic_auth_username, &args.basic_auth_password) {
        set("BASIC_AUTH", "true".into());
        set("BASIC_AUTH_USERNAME", u.clone());
        set("BASIC_AUTH_PASSWORD", p.clone());
    }
    Ok(spec)
}
