//! `pmr link <secret> <public> [machine-name] --hub URL`, `pmr link status`.
//!
//! The secret key can stay off the command line, where other local users
//! read it in `ps` or `/proc/PID/cmdline`: `-` in its place reads it from
//! standard input, `--secret-file PATH` from a file.

use std::io::{BufRead, IsTerminal, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow, bail};
use clap::Args;
use pmr_shared::ipc::{LinkSettings, Request, Response};
use pmr_shared::link::keys::{PublicKey, SecretKey};

use crate::cli::Client;
use crate::paths::Paths;

/// `pmr link` arguments, in pm2's order.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// `<secret> <public> [machine-name]` (`-` as the secret reads it from
    /// standard input), `<public> [machine-name]` with --secret-file, or
    /// `status`/`info`, or `delete`/`stop`.
    #[arg(num_args = 1..=3, required = true, value_name = "ARGS")]
    pub args: Vec<String>,
    /// Read the secret key from this file (it should be mode 0600) instead
    /// of the command line; the arguments are then `<public> [machine-name]`.
    #[arg(long, value_name = "PATH")]
    pub secret_file: Option<PathBuf>,
    /// The hub's address, wss://host:9615, or its replicas' separated by
    /// commas, tried in turn (default: $PMR_HUB_URL).
    #[arg(long)]
    pub hub: Option<String>,
    /// PEM file of the CA that signed the hub's certificate.
    #[arg(long, conflicts_with = "fingerprint")]
    pub ca: Option<String>,
    /// Pin the hub's certificate by its SHA-256 fingerprint.
    #[arg(long)]
    pub fingerprint: Option<String>,
}

/// Shown when the arguments do not make a link: every way to give the key.
const USAGE: &str = "usage: pmr link <secret-key> <public-key> [machine-name] --hub wss://HOST:9615 \
     (`-` as the secret key reads it from standard input; or --secret-file PATH <public-key> [machine-name])";

/// Where the secret key comes from.
enum Source<'a> {
    /// Given on the command line.
    Arg(&'a str),
    /// `-`: read from standard input (hidden when typed at a terminal).
    Stdin,
    /// `--secret-file`: read from a file.
    File(&'a Path),
}

/// How long ago the Unix ms time `ms` was, in seconds.
fn ago(ms: i64) -> String {
    let secs = (crate::clock::now_ms() as i64 - ms).max(0) / 1000;
    format!("{secs}s ago")
}

/// `pmr link`: link to a hub (keys, hub address, machine name), or
/// `status`/`info`, `delete`/`stop` of the link.
pub(crate) fn run(paths: &Paths, a: LinkArgs) -> anyhow::Result<ExitCode> {
    let verb = a.args[0].as_str();
    if matches!(verb, "status" | "info" | "delete" | "stop") && a.secret_file.is_some() {
        bail!("--secret-file is for linking, not for `pmr link {verb}`");
    }
    match verb {
        "status" | "info" => return status(paths),
        "delete" | "stop" => {
            let mut c = Client::connect_or_start(paths)?;
            c.request(&Request::Unlink)?;
            println!("[PMR] Link removed");
            return Ok(ExitCode::SUCCESS);
        }
        _ => {}
    }
    let (source, rest) = match &a.secret_file {
        Some(file) => {
            if verb == "-" {
                bail!(
                    "give the secret key one way: `-` reads it from standard input, --secret-file from a file"
                );
            }
            if a.args.len() > 2 {
                bail!(
                    "with --secret-file the arguments are <public-key> [machine-name]; the secret key comes from {}",
                    file.display()
                );
            }
            (Source::File(file), &a.args[..])
        }
        None if a.args.len() < 2 => bail!("{USAGE}"),
        None if verb == "-" => (Source::Stdin, &a.args[1..]),
        None => (Source::Arg(verb), &a.args[1..]),
    };
    let hub = a
        .hub
        .or_else(|| std::env::var("PMR_HUB_URL").ok())
        .unwrap_or_default();
    if hub.is_empty() {
        bail!("which hub? give --hub wss://HOST:9615 (or set PMR_HUB_URL)");
    }
    // A mistyped public key is named before anyone is asked for the secret.
    let public_key = rest[0].clone();
    PublicKey::parse(&public_key).map_err(|e| anyhow!("public key: {e}"))?;
    let machine_name = rest.get(1).cloned().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "pmr".into())
    });
    let secret_key = match source {
        Source::Arg(s) => s.to_string(),
        Source::Stdin => {
            let s = secret_from_stdin()?;
            SecretKey::parse(&s).map_err(|e| anyhow!("secret key from standard input: {e}"))?;
            s
        }
        Source::File(f) => {
            let s = secret_from_file(f)?;
            SecretKey::parse(&s)
                .map_err(|e| anyhow!("--secret-file {}: secret key: {e}", f.display()))?;
            s
        }
    };
    let settings = LinkSettings {
        secret_key,
        public_key,
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

/// Longest input taken as a secret key (one is 56 characters).
const MAX_SECRET: u64 = 4096;

/// The first line of standard input, trimmed. At a terminal, a prompt on
/// stderr and no echo while it is typed.
fn secret_from_stdin() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    let read = if stdin.is_terminal() {
        eprint!("secret key: ");
        let _quiet = no_echo::NoEcho::start();
        let r = stdin.lock().take(MAX_SECRET).read_line(&mut line);
        eprintln!();
        r
    } else {
        stdin.lock().take(MAX_SECRET).read_line(&mut line)
    };
    read.context("cannot read the secret key from standard input")?;
    let secret = line.trim();
    if secret.is_empty() {
        bail!(
            "no secret key on standard input: `pmr link - <public-key>` reads it from there (`... < file`, a pipe, or typed at the prompt)"
        );
    }
    Ok(secret.to_string())
}

/// The whole file, trimmed, which must be one line: the secret key.
fn secret_from_file(path: &Path) -> anyhow::Result<String> {
    let shown = path.display();
    let problem = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => anyhow!("--secret-file {shown}: no such file"),
        std::io::ErrorKind::PermissionDenied => {
            anyhow!("--secret-file {shown}: permission denied (cannot read it)")
        }
        _ => anyhow!("--secret-file {shown}: {e}"),
    };
    let meta = std::fs::metadata(path).map_err(problem)?;
    if meta.is_dir() {
        bail!("--secret-file {shown}: is a directory, not a file holding the secret key");
    }
    // A warning rather than a refusal: Docker and Kubernetes mount secrets
    // 0444/0644 by default, inside directories that guard them.
    let mode = meta.permissions().mode() & 0o777;
    if meta.is_file() && mode & 0o044 != 0 {
        let who = match (mode & 0o040 != 0, mode & 0o004 != 0) {
            (true, true) => "its group and every local user",
            (true, false) => "its group",
            _ => "every local user",
        };
        eprintln!(
            "[PMR][WARN] --secret-file {shown} is readable by {who} (mode {mode:03o}); `chmod 600 {shown}` keeps the secret key to its owner"
        );
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_SECRET + 1).read_to_end(&mut bytes))
        .map_err(problem)?;
    if bytes.len() as u64 > MAX_SECRET {
        bail!("--secret-file {shown}: too large to be a secret key; it should hold the key alone");
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("--secret-file {shown}: not text; it should hold the secret key"))?;
    let secret = text.trim();
    if secret.is_empty() {
        bail!("--secret-file {shown}: empty; it should hold the secret key");
    }
    if secret.lines().count() > 1 {
        bail!("--secret-file {shown}: more than one line; it should hold the secret key alone");
    }
    Ok(secret.to_string())
}

/// Terminal echo off while the secret is typed.
#[allow(unsafe_code)]
mod no_echo {
    use std::sync::OnceLock;

    use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

    /// The terminal's settings before, for the Ctrl-C handler.
    static SAVED: OnceLock<libc::termios> = OnceLock::new();

    /// Echo is back on when this drops, or when Ctrl-C ends the process.
    pub(super) struct NoEcho {
        /// The settings to put back on drop.
        saved: libc::termios,
        /// The SIGINT disposition before ours, restored on drop.
        old_int: SigAction,
    }

    extern "C" fn restore_and_exit(_: libc::c_int) {
        // SAFETY: tcsetattr, write and _exit are async-signal-safe; SAVED was
        // set before this handler was installed and never changes.
        unsafe {
            if let Some(t) = SAVED.get() {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, t);
            }
            libc::write(libc::STDERR_FILENO, b"\n".as_ptr().cast(), 1);
            libc::_exit(130);
        }
    }

    impl NoEcho {
        /// Best effort: `None` when stdin's settings cannot be changed.
        pub(super) fn start() -> Option<NoEcho> {
            let mut t = std::mem::MaybeUninit::<libc::termios>::uninit();
            // SAFETY: tcgetattr fills the struct when it returns 0.
            let saved = unsafe {
                if libc::tcgetattr(libc::STDIN_FILENO, t.as_mut_ptr()) != 0 {
                    return None;
                }
                t.assume_init()
            };
            let _ = SAVED.set(saved);
            let handler = SigAction::new(
                SigHandler::Handler(restore_and_exit),
                SaFlags::empty(),
                SigSet::empty(),
            );
            // SAFETY: the handler only makes async-signal-safe calls.
            let old_int = unsafe { sigaction(Signal::SIGINT, &handler) }.ok()?;
            let mut quiet = saved;
            quiet.c_lflag &= !libc::ECHO;
            // SAFETY: a valid termios for the descriptor it came from.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &quiet) };
            Some(NoEcho { saved, old_int })
        }
    }

    impl Drop for NoEcho {
        fn drop(&mut self) {
            // SAFETY: restores what `start` read, then the previous handler.
            unsafe {
                libc::tcsetattr(libc::STDIN_FILENO, libc::TCSANOW, &self.saved);
                let _ = sigaction(Signal::SIGINT, &self.old_int);
            }
        }
    }
}

/// `pmr link status`: whether the link is configured and connected, to
/// which hub, and how long ago it last spoke.
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
        let secs = ((at - crate::clock::now_ms() as i64).max(0) as f64) / 1000.0;
        println!("next attempt in {secs:.1}s");
    }
    println!("queued:   {} (dropped {})", state.queued, state.dropped);
    Ok(ExitCode::SUCCESS)
}
