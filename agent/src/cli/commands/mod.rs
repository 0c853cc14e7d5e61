//! One module per group of subcommands; `run` dispatches.
//!
//! A command is a request to the daemon (started on demand) and the
//! printing of its answer in pm2's words; the daemon does the work. Views
//! (`view`), logs (`logs`), the dashboard (`monit`), starting (`start`,
//! `serve`), per-app settings (`app_conf`), the daemon's own life
//! (`daemon_ops`, `update`, `startup`), the hub link (`link`) and pm2's
//! less used commands (`pm2_extra`) each have a module; the actions on
//! targets (`act`); the one-line requests are here.

mod act;
pub(crate) mod app_conf;
mod daemon_ops;
pub(crate) mod link;
pub(crate) mod logs;
mod monit;
pub(crate) mod pm2_extra;
mod serve;
pub(crate) mod start;
pub(crate) mod startup;
mod update;
mod view;

use std::process::ExitCode;

use anyhow::Context;

pub use start::build_spec;

use pmr_shared::ipc::{Action, CheckoutMove, Request, Response};

use super::render;
use super::{Client, Command, OutputArgs};
use crate::paths::Paths;

/// Runs one subcommand; `Err` is printed as `[PMR][ERROR] ...` with exit 1.
pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    let paths = Paths::from_env()?;
    match command {
        Command::Daemon => {
            crate::daemon::run(paths)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Start(args) => start::run(&paths, *args, false),
        Command::Stop(t) => act::act(&paths, Action::Stop, t),
        Command::Restart(t) => act::act(&paths, Action::Restart, t),
        Command::Reload(t) => act::act(&paths, Action::Reload, t),
        Command::StartOrRestart(args) => start::run(&paths, *args, false),
        Command::StartOrReload(args) => start::run(&paths, *args, true),
        Command::Serve(args) => serve::run(&paths, args),
        Command::Delete(t) => act::act(&paths, Action::Delete, t),
        Command::Reset(t) => act::act(&paths, Action::Reset, t),
        Command::List(a) => view::list(&paths, &a.out),
        Command::Jlist => view::jlist(&paths),
        Command::Prettylist => view::prettylist(&paths),
        Command::Describe { target } => view::describe(&paths, &target),
        Command::Env { target } => view::env(&paths, &target),
        Command::Pid { target } => view::pid(&paths, target),
        Command::Logs(args) => logs::run(&paths, args),
        Command::Monit => monit::run(&paths),
        Command::Flush { target } => simple(&paths, Request::Flush { target }),
        Command::ReloadLogs => simple(&paths, Request::ReloadLogs),
        Command::Save { force } => simple(&paths, Request::Save { force }),
        Command::Resurrect => daemon_ops::resurrect(&paths),
        Command::Ping => daemon_ops::ping(&paths),
        Command::Kill => daemon_ops::kill(&paths),
        Command::Update { binary, force } => update::update(&paths, binary, force),
        Command::Link(args) => link::run(&paths, args),
        Command::Startup(args) => startup::startup(&paths, args),
        Command::Set { key, value } => set(&paths, key, value),
        Command::Multiset { pairs } => app_conf::multiset(&paths, &pairs),
        Command::Unset { what } => app_conf::unset(&paths, &what),
        Command::Get { key } => get(&paths, key.as_deref()),
        Command::Extra(cmd) => pm2_extra::run(&paths, cmd),
        Command::Unstartup(args) => startup::unstartup(args),
        Command::Unlink => simple(&paths, Request::Unlink),
        Command::Init { .. } => init(),
        Command::Scale { name, count, out } => {
            with_table(&paths, &out, Request::Scale { name, count })
        }
        Command::Trigger {
            target,
            action,
            param,
        } => trigger(
            &paths,
            Request::Trigger {
                target,
                action,
                param,
            },
        ),
        Command::SendData { id, data, topic } => {
            // pm2 sends the data as JSON when it parses, else as a string.
            let data = serde_json::from_str(&data).unwrap_or(serde_json::Value::String(data));
            trigger(&paths, Request::SendData { id, topic, data })
        }
        Command::RefreshVersioning { targets } => {
            simple(&paths, Request::RefreshVersioning { targets })
        }
        Command::Pull { target, commit } => checkout(&paths, target, CheckoutMove::Pull { commit }),
        Command::Backward { target } => checkout(&paths, target, CheckoutMove::Backward),
        Command::Forward { target } => checkout(&paths, target, CheckoutMove::Forward),
        Command::SendSignal {
            signal,
            targets,
            out,
        } => with_table(&paths, &out, Request::Signal { signal, targets }),
    }
}

/// `set key value`: pmr's settings (`pmr:...`, pm2-logrotate's keys,
/// which the built-in rotation takes) or an app's (`app.key`).
fn set(paths: &Paths, key: String, value: String) -> anyhow::Result<ExitCode> {
    if !crate::config::is_setting(&key) && app_conf::is_app_key(&key) {
        return app_conf::set(paths, &[(key, value)]);
    }
    crate::config::set(paths, &key, &value)?;
    println!("[PMR] {key} = {value}");
    if let Some(note) = crate::config::note(&key) {
        println!("[PMR] {note}");
    }
    // A running daemon takes it now; a later one reads the file.
    if let Some(mut c) = Client::connect(paths)? {
        c.request(&Request::ReloadConfig)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What `pmr init` writes: the options pm2 users reach for first.
const SAMPLE_ECOSYSTEM: &str = r#"// pmr (and pm2) ecosystem file: `pmr start`, `pmr reload ecosystem.config.js --env production`
module.exports = {
  apps: [
    {
      name: 'app',
      script: './app.js',
      // instances: 4,  // cluster mode: 4 instances share PORT, `pmr reload` without downtime
      max_memory_restart: '300M',
      env: {
        NODE_ENV: 'development',
        PORT: 3000,
      },
      env_production: {
        NODE_ENV: 'production',
      },
    },
  ],
};
"#;

/// Prints `[PMR] ...` lines unless silenced.
fn say(out: &OutputArgs, messages: &[String]) {
    if out.silent {
        return;
    }
    for m in messages {
        println!("[PMR] {m}");
    }
}

/// Prints the messages, then the table, as pm2 does after an action.
fn report(out: &OutputArgs, reply: Response) {
    if let Response::Done {
        messages,
        processes,
        ..
    } = reply
    {
        say(out, &messages);
        if !out.silent && !out.mini {
            print!(
                "{}",
                render::process_table(&processes, render::color(out.no_color))
            );
        }
    }
}

/// `pmr init`: writes the sample `ecosystem.config.js` here, as pm2 does;
/// an existing file is kept as `ecosystem.config.js.bak` (or `.bak.N`)
/// rather than overwritten.
fn init() -> anyhow::Result<ExitCode> {
    let path = std::env::current_dir()?.join("ecosystem.config.js");
    let mut kept = None;
    if path.exists() {
        let free = (1..100)
            .map(|n| match n {
                1 => path.with_extension("js.bak"),
                n => path.with_extension(format!("js.bak.{n}")),
            })
            .find(|p| !p.exists())
            .with_context(|| {
                format!(
                    "{} and 99 backups of it exist; nothing was written",
                    path.display()
                )
            })?;
        std::fs::rename(&path, &free)
            .with_context(|| format!("cannot keep {} as {}", path.display(), free.display()))?;
        kept = Some(free);
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    std::io::Write::write_all(&mut file, SAMPLE_ECOSYSTEM.as_bytes())?;
    println!("File {} generated", path.display());
    if let Some(k) = kept {
        println!("The previous one is kept as {}", k.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends a request whose answer is only messages (`flush`, `save`…) and
/// prints them without the table.
fn simple(paths: &Paths, req: Request) -> anyhow::Result<ExitCode> {
    let mut client = Client::connect_or_start(paths)?;
    let reply = client.request(&req)?;
    report(
        &OutputArgs {
            mini: true,
            ..Default::default()
        },
        reply,
    );
    Ok(ExitCode::SUCCESS)
}

/// `pmr get [key]`: one setting, or all of them (`all` or no key).
fn get(paths: &Paths, key: Option<&str>) -> anyhow::Result<ExitCode> {
    match key {
        None | Some("all") => pm2_extra::print_settings(paths)?,
        Some(k) => pm2_extra::print_setting(paths, k)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends a request whose answer is messages and the process table
/// (`scale`, `sendSignal`), printed as after an action.
fn with_table(paths: &Paths, out: &OutputArgs, req: Request) -> anyhow::Result<ExitCode> {
    let mut client = Client::connect_or_start(paths)?;
    report(out, client.request(&req)?);
    Ok(ExitCode::SUCCESS)
}

/// `trigger` and `send-data`: the app's replies, one a line, without the
/// `[PMR]` prefix for `trigger` (scripts read them as the app wrote them).
fn trigger(paths: &Paths, req: Request) -> anyhow::Result<ExitCode> {
    let bare = matches!(req, Request::Trigger { .. });
    let mut client = Client::connect_or_start(paths)?;
    if let Response::Done { messages, .. } = client.request(&req)? {
        if bare {
            for m in messages {
                println!("{m}");
            }
        } else {
            say(&OutputArgs::default(), &messages);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `pull`, `backward`, `forward`: moves the target's checkout; the daemon
/// runs its `post_update` commands and reloads it on the new revision.
fn checkout(paths: &Paths, target: String, to: CheckoutMove) -> anyhow::Result<ExitCode> {
    simple(paths, Request::Checkout { target, to })
}
