//! Read-only views: `list`, `jlist`, `prettylist`, `describe`, `env`, `pid`.

use std::process::ExitCode;

use anyhow::bail;
use pmr_shared::app::ProcessInfo;
use pmr_shared::ipc::{Request, Response};
use serde_json::Value;

use super::render;
use crate::cli::{Client, OutputArgs};
use crate::paths::Paths;
use crate::pm2_shape;

/// The daemon's process list (`full`: with environments, metrics and git
/// metadata), for `targets` or for every app.
pub(super) fn fetch(
    paths: &Paths,
    full: bool,
    targets: Vec<String>,
) -> anyhow::Result<Vec<ProcessInfo>> {
    let mut client = Client::connect_or_start(paths)?;
    match client.request(&Request::List { full, targets })? {
        Response::Processes { list } => Ok(list),
        other => bail!("unexpected reply from the daemon: {other:?}"),
    }
}

/// `pmr list`: pm2's table, or with `--mini` one `id name status pid` line
/// per instance for scripts.
pub(super) fn list(paths: &Paths, out: &OutputArgs) -> anyhow::Result<ExitCode> {
    let list = fetch(paths, false, vec![])?;
    if out.mini {
        for p in &list {
            println!(
                "{} {} {} {}",
                p.pm_id,
                p.spec.name,
                p.status.as_str(),
                p.pid
            );
        }
    } else {
        print!(
            "{}",
            render::process_table(&list, render::color(out.no_color))
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The list in pm2's `jlist` shape (`pm2_env` and all), which scripts and
/// tools written for pm2 read.
fn pm2_json(paths: &Paths) -> anyhow::Result<Value> {
    let list = fetch(paths, true, vec![])?;
    Ok(Value::Array(
        list.iter().map(pm2_shape::jlist_entry).collect(),
    ))
}

/// `pmr jlist`: the pm2-shaped list as one line of JSON.
pub(super) fn jlist(paths: &Paths) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string(&pm2_json(paths)?)?);
    Ok(ExitCode::SUCCESS)
}

/// `pmr prettylist`: the same list in Node's `util.inspect` layout.
pub(super) fn prettylist(paths: &Paths) -> anyhow::Result<ExitCode> {
    println!("{}", render::inspect(&pm2_json(paths)?));
    Ok(ExitCode::SUCCESS)
}

/// `pmr describe`: one sheet per instance of the target.
pub(super) fn describe(paths: &Paths, target: &str) -> anyhow::Result<ExitCode> {
    let list = fetch(paths, true, vec![target.to_string()])?;
    let on = render::color(false);
    for p in &list {
        print!("{}", render::describe(p, on));
    }
    Ok(ExitCode::SUCCESS)
}

/// `pmr env`: the environment the target's instances were started with.
pub(super) fn env(paths: &Paths, target: &str) -> anyhow::Result<ExitCode> {
    let list = fetch(paths, true, vec![target.to_string()])?;
    for p in &list {
        for (k, v) in &p.spec.env {
            println!("{k}: {v}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `pmr pid`: the pids of running instances, one a line (none for stopped ones).
pub(super) fn pid(paths: &Paths, target: Option<String>) -> anyhow::Result<ExitCode> {
    let list = fetch(paths, false, target.into_iter().collect())?;
    for p in list.iter().filter(|p| p.pid > 0) {
        println!("{}", p.pid);
    }
    Ok(ExitCode::SUCCESS)
}
