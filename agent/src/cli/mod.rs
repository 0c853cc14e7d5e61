//! The `pmr` command line: pm2's commands, flags and exit codes.
//!
//! This file is the clap grammar ([`Cli`], [`Command`] and the argument
//! groups several commands share) and [`main`], which maps an error to
//! pm2's `[PMR][ERROR]` line and exit code 1. What each command does is in
//! `commands` (one module per group), how it reaches the daemon (starting
//! it on demand, version checks, hand-overs) in `client`, and how answers
//! are printed in `render`. The CLI holds no state of its own: every fact
//! it prints comes from the daemon.

mod client;
mod commands;
mod render;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub(crate) use client::Client;
pub use commands::build_spec;

/// pm2's command line, served by a lighter daemon.
#[derive(Debug, Parser)]
#[command(name = "pmr", version, about = "Production process manager, pm2-compatible", long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every `pmr` subcommand.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a script, a binary or `-- cmd args`; or start/restart known apps.
    Start(Box<StartArgs>),
    /// Stop apps gracefully.
    Stop(TargetArgs),
    /// Restart apps (or the apps of an ecosystem file, re-read).
    Restart(TargetArgs),
    /// Reload apps without downtime: in cluster mode each instance is replaced
    /// by a new one once that one is ready; in fork mode, a restart (as pm2).
    #[command(alias = "gracefulReload")]
    Reload(TargetArgs),
    /// Start the apps of an ecosystem file, restarting those already known.
    #[command(name = "startOrRestart")]
    StartOrRestart(Box<StartArgs>),
    /// Start the apps of an ecosystem file, reloading those already known.
    #[command(name = "startOrReload", alias = "startOrGracefulReload")]
    StartOrReload(Box<StartArgs>),
    /// Serve a directory over HTTP as an app (pm2's static server):
    /// `serve [path] [port]`, `--spa`, basic auth, the directory's 404.html.
    #[command(alias = "expose")]
    Serve(ServeArgs),
    /// Stop apps and remove them from the list.
    #[command(alias = "del")]
    Delete(TargetArgs),
    /// Set an app's number of instances: `scale api 4`, `scale api +2`, `scale api -1`.
    Scale {
        /// App name.
        name: String,
        /// `N`, `+N` or `-N`.
        #[arg(allow_hyphen_values = true)]
        count: String,
        /// Table and message switches.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Run an action the app registered with @pm2/io: `trigger api clear-cache [param]`.
    Trigger {
        /// Name, id, namespace, `/regex/` or `all`.
        target: String,
        /// Action name.
        action: String,
        /// Parameter for two-argument handlers.
        param: Option<String>,
    },
    /// Send `{type: 'process:msg', topic, data}` to one instance's `process.on('message')`.
    #[command(name = "sendDataToProcessId", alias = "send-data")]
    SendData {
        /// Instance id.
        id: u32,
        /// JSON (or plain text) for the packet's `data`.
        data: String,
        /// The packet's `topic`.
        #[arg(long, default_value = "pmr")]
        topic: String,
    },
    /// Read the git metadata (branch, revision, ahead/behind...) of apps again.
    #[command(name = "refresh-versioning", alias = "refresh")]
    RefreshVersioning {
        /// Names, ids, namespaces, `/regex/` or `all`.
        #[arg(required = true)]
        targets: Vec<String>,
    },
    /// Fetch and fast-forward the app's repository (or to a commit), run its
    /// `post_update` commands, reload it.
    Pull {
        /// App name or id.
        target: String,
        /// Commit to move to instead of the upstream's head.
        commit: Option<String>,
    },
    /// Move the app's repository to the previous commit, then reload.
    Backward {
        /// App name or id.
        target: String,
    },
    /// Move the app's repository one commit towards its upstream, then reload.
    Forward {
        /// App name or id.
        target: String,
    },
    /// Send a signal to every instance of apps: `sendSignal SIGUSR2 api`.
    #[command(name = "sendSignal", alias = "send-signal")]
    SendSignal {
        /// `SIGUSR2`, `USR2` or a number.
        signal: String,
        /// Names, ids, namespaces, `/regex/` or `all`.
        #[arg(required = true)]
        targets: Vec<String>,
        /// Table and message switches.
        #[command(flatten)]
        out: OutputArgs,
    },
    /// Zero the restart counters of apps.
    Reset(TargetArgs),
    /// The process table.
    #[command(aliases = ["ls", "l", "ps", "status"])]
    List(ListArgs),
    /// The process list as JSON, in pm2's shape.
    Jlist,
    /// The process list as pm2 prints it with `prettylist`.
    Prettylist,
    /// Everything about one app.
    #[command(aliases = ["desc", "info", "show"])]
    Describe {
        /// Name, id or namespace.
        target: String,
    },
    /// The environment an app was started with.
    Env {
        /// Id or name.
        target: String,
    },
    /// Pids of an app (or of every app).
    Pid {
        /// Name, id or namespace.
        target: Option<String>,
    },
    /// Print and follow app logs.
    Logs(commands::logs::LogsArgs),
    /// Terminal dashboard: every app's status, CPU and memory over time, and logs.
    #[command(aliases = ["dashboard", "dash"])]
    Monit,
    /// Empty the log files.
    Flush {
        /// Name, id or namespace; all apps when absent.
        target: Option<String>,
    },
    /// Reopen every log file (after an outside rotation).
    #[command(name = "reloadLogs", alias = "reload-logs")]
    ReloadLogs,
    /// Save the process list to the dump file.
    #[command(alias = "dump")]
    Save {
        /// Save even an empty list.
        #[arg(long)]
        force: bool,
    },
    /// Start the apps of the dump file.
    Resurrect,
    /// Check that the daemon answers (starting it if needed).
    Ping,
    /// Stop every app, then the daemon.
    Kill,
    /// Hand every app over to this binary (or `binary`) without restarting
    /// any: same pids, no log line lost.
    #[command(alias = "updatePM2")]
    Update {
        /// The pmr binary to hand over to; this one by default.
        binary: Option<std::path::PathBuf>,
        /// Go ahead even when the apps cannot be handed over (their keeper
        /// is gone) and so restart.
        #[arg(long)]
        force: bool,
    },
    /// Link this machine to a pmr-hub: `link <secret> <public> [name] --hub URL`,
    /// or `link status`.
    ///
    /// While `pmr link` runs, its command line is visible to every local user
    /// (`ps`, /proc/PID/cmdline). To keep the secret key off it, give `-` in
    /// its place to read it from the first line of standard input
    /// (`pmr link - <public> [name] --hub URL < secret.txt`, or typed at the
    /// prompt without echo), or give `--secret-file PATH` and only
    /// `<public> [name]`. Keys are checked before anything connects.
    Link(commands::link::LinkArgs),
    /// Stop reporting to the hub and forget the keys.
    Unlink,
    /// Write a sample `ecosystem.config.js` here (an existing one is kept as `.bak`).
    #[command(alias = "ecosystem")]
    Init {
        /// `simple` (pm2's word) gives the same short file.
        mode: Option<String>,
    },
    /// Change a setting: `pmr set pmr:logrotate.max_size 10M` (or pm2-logrotate's
    /// `pm2-logrotate:max_size`; retain, compress, dateFormat, rotateInterval,
    /// rotateModule, workerInterval, TZ), or an app's: `pmr set app.key value`.
    Set {
        /// Setting name.
        key: String,
        /// New value.
        value: String,
    },
    /// Several app settings at once: `pmr multiset "app.key value app.key2 value2"`.
    Multiset {
        /// Pairs of setting and value.
        pairs: String,
    },
    /// Forget an app's settings (`app`) or one of them (`app.key`).
    Unset {
        /// `app` or `app.key`.
        what: String,
    },
    /// Show the settings, or one of them (`get pm2-logrotate:retain`).
    Get {
        /// One setting, as `set` names it.
        key: Option<String>,
    },
    /// Write and enable a systemd unit that resurrects the saved apps at boot.
    Startup(commands::startup::StartupArgs),
    /// Remove the unit `startup` wrote.
    Unstartup(commands::startup::StartupArgs),
    /// Run the daemon (started by the CLI; not for direct use).
    #[command(hide = true)]
    Daemon,
    /// pm2's other commands.
    #[command(flatten)]
    Extra(commands::pm2_extra::Extra),
}

/// Output switches shared by the commands that print the table afterwards.
#[derive(Debug, Clone, Args, Default)]
pub struct OutputArgs {
    /// Print nothing but errors (also `PMR_SILENT=true`, pm2's `PM2_SILENT`;
    /// empty, `false`, `no`, `off` or `0` leave it off).
    #[arg(short, long, env = "PMR_SILENT", value_parser = clap::builder::FalseyValueParser::new())]
    pub silent: bool,
    /// Skip the table.
    #[arg(short = 'm', long = "mini-list")]
    pub mini: bool,
    /// No colours.
    #[arg(long)]
    pub no_color: bool,
}

/// Targets: names, ids, namespaces, `/regex/` or `all`.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Names, ids, namespaces, `/regex/` or `all`.
    #[arg(required = true)]
    pub targets: Vec<String>,
    /// `restart --watch` toggles file watching; `stop --watch` ends it.
    #[arg(long)]
    pub watch: bool,
    /// Lay the current shell's variables over the apps' before restarting.
    #[arg(short = 'a', long)]
    pub update_env: bool,
    /// With an ecosystem file: only these apps (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// With an ecosystem file: use its `env_<name>` blocks.
    #[arg(long)]
    pub env: Option<String>,
    /// A new cron pattern for the apps (`0` removes it), as pm2 takes it.
    #[arg(short = 'c', long)]
    pub cron_restart: Option<String>,
    /// New interpreter arguments for the apps (`null` removes them).
    #[arg(long, alias = "interpreter-args", allow_hyphen_values = true)]
    pub node_args: Option<String>,
    /// A new name for the app (`restart 0 --name new`).
    #[arg(long)]
    pub name: Option<String>,
    /// Table and message switches.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `pmr list` switches.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Table and message switches.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `pmr list | head` ends quietly, as Unix tools do, instead of a panic on
/// the closed pipe (Rust ignores SIGPIPE by default).
#[allow(unsafe_code)]
fn restore_sigpipe() {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // SAFETY: restores the default disposition before any thread exists.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigDfl) };
}

/// `pmr serve` options, named as pm2 names them.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Directory to serve (default: the current one).
    pub path: Option<String>,
    /// Port (default 8080).
    pub port: Option<String>,
    /// Port, as a flag.
    #[arg(long = "port", value_name = "PORT")]
    pub port_flag: Option<u16>,
    /// Single-page app: an unknown path gets the homepage.
    #[arg(long)]
    pub spa: bool,
    /// The page for `/` (default `/index.html`).
    #[arg(long)]
    pub homepage: Option<String>,
    /// Ask for this user name (HTTP basic auth), with the password.
    #[arg(long)]
    pub basic_auth_username: Option<String>,
    /// The password that goes with `--basic-auth-username`.
    #[arg(long)]
    pub basic_auth_password: Option<String>,
    /// App name (default `static-page-server-<port>`).
    #[arg(short, long)]
    pub name: Option<String>,
    /// Table and message switches.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// `pmr start` options, named as pm2 names them.
#[derive(Debug, Clone, Args, Default)]
pub struct StartArgs {
    /// Script, binary, shell command, or names/ids of known apps.
    pub targets: Vec<String>,
    /// After `--`: the script's arguments, or the whole command when no script is given.
    #[arg(last = true)]
    pub rest: Vec<String>,
    /// The app's options.
    #[command(flatten)]
    pub app: crate::appspec::AppFlags,
    /// Start even if the same script already runs.
    #[arg(short, long)]
    pub force: bool,
    /// With an ecosystem file: only these apps (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// With an ecosystem file: use its `env_<name>` blocks.
    #[arg(long)]
    pub env: Option<String>,
    /// Table and message switches.
    #[command(flatten)]
    pub out: OutputArgs,
}

/// Entry point of the `pmr` binary.
pub fn main() -> ExitCode {
    // The daemon skips clap: building the whole command tree would fault in
    // code it never runs again, and its resident size is a target.
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|a| a == "daemon") {
        return crate::daemon::main(args);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // pm2 (commander) exits 1 on a bad flag; help and version are 0.
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The daemon must outlive a client that hangs up: only the CLI dies on EPIPE.
    if !matches!(cli.command, Command::Daemon) {
        restore_sigpipe();
    }
    match commands::run(cli.command) {
        Ok(code) => code,
        Err(err) => {
            if err
                .downcast_ref::<std::io::Error>()
                .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("[PMR][ERROR] {err:#}");
            ExitCode::FAILURE
        }
    }
}
