//! `pmr start`: a new app from a script, a binary or a command; or known
//! apps by name, id or namespace.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use pmr_shared::app::AppSpec;
use pmr_shared::ipc::{Action, ErrorKind, Request};

use super::report;
use crate::appspec::shell_env;
use crate::cli::client::refused_as_or_said;
use crate::cli::{Client, StartArgs};
use crate::paths::Paths;

/// `reload`: known apps of an ecosystem file reload instead of restarting
/// (`startOrReload`).
///
/// What the targets mean is decided here, in pm2's order: `-` is a
/// configuration on stdin; a config file (or, with no target, this
/// directory's default one) is an ecosystem; a target that is not a file
/// and names a known app starts that app; anything else is a new app.
pub(super) fn run(paths: &Paths, args: StartArgs, reload: bool) -> anyhow::Result<ExitCode> {
    if args.targets.is_empty()
        && args.rest.is_empty()
        && crate::appspec::ecosystem::find_default(&std::env::current_dir()?).is_none()
    {
        bail!(
            "nothing to start: give a script, a binary, `-- command args`, an app name, or an ecosystem file (none here)"
        );
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    // `cat all.json | pmr start -`: the configuration on standard input.
    if args.targets == ["-"] {
        let loaded = crate::appspec::ecosystem::load_stdin(
            &cwd,
            &args.only,
            args.env.as_deref(),
            &shell_env(),
        )?;
        return start_loaded(paths, loaded, args.force, reload, &args.out);
    }
    // An ecosystem file: named, or the default one of this directory.
    let file = match args.targets.as_slice() {
        [] if args.rest.is_empty() => crate::appspec::ecosystem::find_default(&cwd),
        [t] if crate::appspec::ecosystem::is_config_file(t) && cwd.join(t).is_file() => {
            Some(cwd.join(t))
        }
        _ => None,
    };
    if let Some(file) = file {
        return start_file(
            paths,
            &file,
            &args.only,
            args.env.as_deref(),
            args.force,
            reload,
            &args.out,
        );
    }
    let first_is_file = args.targets.first().is_some_and(|t| cwd.join(t).is_file());
    // Known apps are started (or restarted) by name, id or namespace.
    let by_name =
        !first_is_file && args.rest.is_empty() && !args.targets.iter().any(|t| t.contains(' '));
    if by_name && start_known(paths, &args)? {
        return Ok(ExitCode::SUCCESS);
    }
    let specs = script_specs(&args, &cwd)?;
    // Settings made with `pmr set app.key value` before the app existed.
    let specs: Vec<AppSpec> = specs
        .into_iter()
        .map(|mut s| {
            s.env.extend(super::app_conf::env_of(paths, &s.name));
            s
        })
        .collect();
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&Request::Start {
        apps: specs,
        force: args.force,
        update: false,
        reload: false,
    })?;
    report(&args.out, reply);
    Ok(ExitCode::SUCCESS)
}

/// Starts (or restarts) known apps by name, id or namespace, with the
/// options given applied first, as in pm2. False when the one target names
/// no app (the daemon says `NotFound`): it is then started as a script.
fn start_known(paths: &Paths, args: &StartArgs) -> anyhow::Result<bool> {
    let mut client = Client::connect_or_start(paths)?;
    let options = pmr_shared::ipc::Overrides {
        cron_restart: args.app.cron_restart.clone(),
        node_args: args.app.interpreter_args.clone(),
        deep_monitoring: crate::appspec::deep_monitoring_env().then_some(true),
        name: args.app.name.clone(),
    };
    let options = (options != Default::default()).then_some(options);
    match client.request(&Request::Act {
        action: Action::Start,
        targets: args.targets.clone(),
        update_env: None,
        watch: false,
        options,
        by: None,
    }) {
        Ok(reply) => {
            report(&args.out, reply);
            Ok(true)
        }
        Err(e)
            if args.targets.len() > 1
                || !refused_as_or_said(&e, ErrorKind::NotFound, "not found") =>
        {
            Err(e)
        }
        Err(_) => Ok(false),
    }
}

/// The spec of the script (or command) given; several scripts at once
/// (`pmr start a.js b.js`) each get their own, named after the file, as
/// pm2 does, and what follows `--` goes to each.
fn script_specs(args: &StartArgs, cwd: &Path) -> anyhow::Result<Vec<AppSpec>> {
    if args.targets.len() <= 1 {
        return Ok(vec![build_spec(args, cwd)?]);
    }
    if let Some(t) = args.targets.iter().find(|t| !cwd.join(t).is_file()) {
        bail!("{t}: no such script (several scripts start together only when each is a file)");
    }
    let mut specs = Vec::new();
    for t in &args.targets {
        let mut one = args.clone();
        one.targets = vec![t.clone()];
        one.app.name = None;
        specs.push(build_spec(&one, cwd)?);
    }
    Ok(specs)
}

/// Starts the apps of an ecosystem file; apps already known by name take the
/// file's options and restart, as pm2 does.
pub(crate) fn start_file(
    paths: &Paths,
    file: &Path,
    only: &[String],
    env: Option<&str>,
    force: bool,
    reload: bool,
    out: &crate::cli::OutputArgs,
) -> anyhow::Result<ExitCode> {
    let loaded = crate::appspec::ecosystem::load(file, only, env, &shell_env())?;
    start_loaded(paths, loaded, force, reload, out)
}

/// Starts what a configuration holds; apps known by name take its options.
fn start_loaded(
    paths: &Paths,
    loaded: crate::appspec::ecosystem::Loaded,
    force: bool,
    reload: bool,
    out: &crate::cli::OutputArgs,
) -> anyhow::Result<ExitCode> {
    for w in &loaded.warnings {
        eprintln!("[PMR][WARN] {w}");
    }
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&Request::Start {
        apps: loaded.apps,
        force,
        update: true,
        reload,
    })?;
    report(out, reply);
    Ok(ExitCode::SUCCESS)
}

/// Turns `pmr start` options into an [`AppSpec`], resolving paths against `shell_cwd`.
pub fn build_spec(args: &StartArgs, shell_cwd: &Path) -> anyhow::Result<AppSpec> {
    crate::appspec::from_flags(&args.app, args.targets.first(), &args.rest, shell_cwd)
}
