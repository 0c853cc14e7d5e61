//! The rest of pm2's commands: those pmr does as pm2 does (`id`, `conf`,
//! `report`, `cleardump`, `slist`, `install pm2-logrotate`, `examples`),
//! and those it has no use for, which say in one line what to do instead
//! and exit as pm2 would.

use std::process::ExitCode;

use anyhow::bail;
use clap::Subcommand;

use super::{render, view};
use crate::cli::Client;
use crate::paths::Paths;

/// pm2 commands beyond the everyday ones.
#[derive(Debug, Subcommand)]
pub enum Extra {
    /// The ids of the apps with this name, as pm2 prints them: `[ 0, 1 ]`.
    Id {
        /// App name.
        name: String,
    },
    /// pm2 turns on Node's inspector in an app; says how to with pmr.
    Inspect {
        /// App name.
        name: String,
    },
    /// Show the settings (`conf`), one (`conf key`), or change one (`conf key value`).
    #[command(alias = "config")]
    Conf {
        /// `pm2-logrotate:retain`, `pmr:logrotate.max_size`, `app.key`...
        key: Option<String>,
        /// New value.
        value: Option<String>,
    },
    /// Versions, the daemon, the system, the process list and the daemon's
    /// last log lines: what an issue report needs.
    Report,
    /// Write an empty dump file (`resurrect` then restores nothing).
    Cleardump,
    /// pm2 writes a line to an app's standard input; says what to use instead.
    Send {
        /// Instance id.
        id: String,
        /// The line.
        line: String,
    },
    /// This machine's metrics as JSON: CPUs, memory, load, disk, uptime.
    #[command(alias = "sysinfos")]
    Slist {
        /// Accepted for pm2's `--tree`; the JSON is the same.
        #[arg(short, long)]
        tree: bool,
    },
    /// pm2 attaches the terminal to an app's input and output; says what to use instead.
    Attach {
        /// Instance id.
        id: String,
        /// Accepted for pm2's command separator.
        separator: Option<String>,
    },
    /// `install pm2-logrotate`: rotation is built in, so there is nothing to install.
    #[command(alias = "module:install")]
    Install {
        /// Module name (`pm2-logrotate`).
        module: String,
    },
    /// `uninstall pm2-logrotate`: says how to turn the built-in rotation off.
    #[command(alias = "module:uninstall")]
    Uninstall {
        /// Module name (`pm2-logrotate`).
        module: String,
    },
    /// Examples of pmr's commands.
    Examples,
    /// pm2 copies a sample app here; says what to use instead.
    Create,
}

/// pm2-logrotate, with or without a version (`pm2-logrotate@2.7.0`).
fn is_logrotate(module: &str) -> bool {
    module.split('@').next() == Some("pm2-logrotate")
}

const ROTATION: &str = "log rotation is built into pmr: `pmr set pm2-logrotate:<key> <value>` \
     (max_size, retain, compress, dateFormat, rotateInterval, rotateModule, workerInterval, TZ), \
     `pmr get` shows it";

/// Runs one of the [`Extra`] commands.
pub(super) fn run(paths: &Paths, cmd: Extra) -> anyhow::Result<ExitCode> {
    match cmd {
        Extra::Id { name } => {
            let ids: Vec<String> = view::fetch(paths, false, Vec::new())?
                .iter()
                .filter(|p| p.spec.name == name)
                .map(|p| p.pm_id.to_string())
                .collect();
            match ids.is_empty() {
                true => println!("[]"),
                false => println!("[ {} ]", ids.join(", ")),
            }
        }
        Extra::Inspect { name } => say(&format!(
            "pmr has no inspector switch: `pmr restart {name} --node-args=\"--inspect\"` starts it with Node's inspector, then open chrome://inspect"
        )),
        Extra::Conf { key: None, .. } => print_settings(paths)?,
        Extra::Conf {
            key: Some(key),
            value: None,
        } => print_setting(paths, &key)?,
        Extra::Conf {
            key: Some(key),
            value: Some(value),
        } => return super::set(paths, key, value),
        Extra::Report => report(paths)?,
        Extra::Cleardump => {
            let dump = paths.dump();
            std::fs::create_dir_all(&paths.home)?;
            crate::daemon::persist::write_empty(&dump)?;
            say(&format!("Successfully created {}", dump.display()));
        }
        Extra::Send { id, .. } => say(&format!(
            "pmr does not keep apps' standard input open, so no line was sent: \
             `pmr sendDataToProcessId {id} <json>` reaches process.on('message'), \
             `pmr trigger <app> <action>` an @pm2/io action"
        )),
        Extra::Slist { .. } => {
            let mut s = crate::link::host::HostSampler::default();
            s.sample(&paths.home);
            // CPU is the busy share between two samples.
            std::thread::sleep(std::time::Duration::from_millis(200));
            println!("{}", serde_json::to_string_pretty(&s.sample(&paths.home))?);
        }
        Extra::Attach { id, .. } => say(&format!(
            "pmr does not attach to an app's standard input: `pmr logs {id}` follows its output, \
             `pmr sendDataToProcessId {id} <json>` sends it a message"
        )),
        Extra::Install { module } if is_logrotate(&module) => {
            say(&format!("pm2-logrotate: nothing to install, {ROTATION}"));
        }
        Extra::Install { module } => bail!(
            "pmr runs no pm2 modules, so {module} was not installed; log rotation is built in \
             (`pmr set pm2-logrotate:<key> <value>`), and the hub (pmr link) does monitoring"
        ),
        Extra::Uninstall { module } if is_logrotate(&module) => say(
            "pm2-logrotate: the built-in rotation stays; `pmr set pm2-logrotate:max_size 0` and \
             `pmr set pm2-logrotate:rotateInterval \"\"` turn it off",
        ),
        Extra::Uninstall { module } => {
            bail!("no module {module} is installed: pmr runs no pm2 modules")
        }
        Extra::Examples => print!("{EXAMPLES}"),
        Extra::Create => say(
            "pmr has no sample apps to copy: `pmr init` writes an ecosystem.config.js to start \
             from, `pmr examples` shows commands",
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints one `[PMR]` line.
fn say(line: &str) {
    println!("[PMR] {line}");
}

/// Every setting: pmr's own (`config.toml`) and the apps' (`module_conf.json`).
pub(super) fn print_settings(paths: &Paths) -> anyhow::Result<()> {
    print!("{}", toml::to_string(&crate::config::load(paths)?)?);
    let apps = super::app_conf::all(paths)?;
    if !apps.is_empty() {
        println!(
            "\n# app settings ({})",
            paths.home.join("module_conf.json").display()
        );
        println!("{}", serde_json::to_string_pretty(&apps)?);
    }
    Ok(())
}

/// One setting, as `set` names it.
pub(super) fn print_setting(paths: &Paths, key: &str) -> anyhow::Result<()> {
    if crate::config::is_setting(key) {
        println!("{}", crate::config::get(paths, key)?);
    } else {
        match super::app_conf::get(paths, key)? {
            Some(v) => println!("{v}"),
            None => bail!("{key} is not set"),
        }
    }
    Ok(())
}

/// `pmr report`: versions, paths, the daemon's state and the apps, for a bug report.
fn report(paths: &Paths) -> anyhow::Result<()> {
    println!(
        "```\n--- pmr report ({}) ---",
        chrono::Local::now().to_rfc3339()
    );
    println!("pmr version      : {}", pmr_shared::VERSION);
    println!("PMR_HOME         : {}", paths.home.display());
    match Client::connect(paths) {
        Ok(Some(mut c)) => {
            println!("daemon pid       : {}", c.daemon_pid);
            if let Ok(pmr_shared::ipc::Response::Processes { list }) =
                c.request(&pmr_shared::ipc::Request::List {
                    full: false,
                    targets: Vec::new(),
                })
            {
                println!("--- process list ---");
                print!("{}", render::process_table(&list, false));
            }
        }
        Ok(None) => println!("daemon           : not running"),
        Err(e) => println!("daemon           : {e:#}"),
    }
    let node = std::process::Command::new("node").arg("--version").output();
    let node = node.map_or("not found".into(), |o| {
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    });
    println!("node             : {node}");
    let kernel = |f: &str| {
        std::fs::read_to_string(format!("/proc/sys/kernel/{f}"))
            .map_or(String::new(), |s| s.trim().to_string())
    };
    println!(
        "system           : {} {} {}",
        kernel("ostype"),
        kernel("osrelease"),
        std::env::consts::ARCH
    );
    println!(
        "cpus             : {}",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("--- last lines of {} ---", paths.daemon_log().display());
    let log = std::fs::read_to_string(paths.daemon_log()).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    for l in &lines[lines.len().saturating_sub(20)..] {
        println!("{l}");
    }
    println!("```");
    Ok(())
}

const EXAMPLES: &str = "\
pmr usage examples:

  pmr start app.js -i max            # cluster mode, one instance per CPU
  pmr start app.py --name api -- --port 8000
  pmr start ecosystem.config.js --env production
  pmr list | pmr describe api | pmr logs api --lines 50
  pmr reload all                     # zero downtime in cluster mode
  pmr scale api +2
  pmr set pm2-logrotate:max_size 50M # built-in log rotation
  pmr save && pmr startup            # restore the apps at boot
  pmr update                         # new binary, no app restarted
  pmr link <secret> <public> --hub wss://hub:9615
";
