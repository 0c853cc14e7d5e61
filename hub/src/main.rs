//! `pmr-hub`: `serve`, and the admin verbs `keys` and `tokens`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};
use pmr_hub::commands;
use pmr_hub::config::{Config, Database};
use pmr_hub::store::Store;
use pmr_hub::store::postgres::PgStore;
use pmr_hub::store::sqlite::SqliteStore;

/// The self-hosted monitoring hub for pmr agents.
#[derive(Debug, Parser)]
#[command(name = "pmr-hub", version)]
struct Cli {
    /// TOML settings file (flags and PMR_HUB_* variables win over it).
    #[arg(long, global = true, env = "PMR_HUB_CONFIG")]
    config: Option<PathBuf>,
    /// Directory of the database and generated certificates.
    #[arg(long, global = true, env = "PMR_HUB_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL: sqlite://PATH (default: hub.db in the data directory)
    /// or postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…&sslrootcert=FILE].
    #[arg(long, global = true, env = "PMR_HUB_DATABASE")]
    database: Option<String>,
    /// The address agents reach the hub at (wss://hub.example.com:9615),
    /// printed in the `pmr link` line of `keys create`.
    #[arg(long, global = true, env = "PMR_HUB_PUBLIC_URL")]
    public_url: Option<String>,
    /// File of the key receiver secrets are sealed with, the same for every
    /// replica of one database (default: secrets.key in the data directory;
    /// PMR_HUB_SECRETS_KEY, 64 hex digits, wins over both).
    #[arg(long, global = true, env = "PMR_HUB_SECRETS_KEY_FILE")]
    secrets_key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub.
    Serve(ServeArgs),
    /// Bucket key pairs agents link with.
    #[command(subcommand)]
    Keys(KeysCmd),
    /// API tokens.
    #[command(subcommand)]
    Tokens(TokensCmd),
    /// Users of the dashboard and the API, with their roles.
    #[command(subcommand)]
    Users(UsersCmd),
    /// Alert rules and receivers (see docs/alerts.md).
    #[command(subcommand)]
    Alerts(pmr_hub::alerts::cli::AlertsCmd),
    /// Copies a hub's data from SQLite into an empty PostgreSQL database
    /// (users, keys, tokens, rules, receivers, history, exception groups),
    /// all of it or nothing.
    Migrate {
        /// The SQLite database (sqlite://PATH).
        #[arg(long)]
        from: String,
        /// The PostgreSQL database (postgres://USER@HOST/DB…), empty.
        #[arg(long)]
        to: String,
    },
    /// Load test: N simulated agents against a hub this command starts.
    Bench {
        /// Simulated agents.
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        /// Processes per agent.
        #[arg(long, default_value_t = 10)]
        procs: usize,
        /// Seconds of steady state to measure.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
        /// Agents that also measure snapshot-to-API delay.
        #[arg(long, default_value_t = 4)]
        probes: usize,
        /// Hostile source addresses, each holding every pending handshake
        /// and connection it is allowed, while the agents are measured.
        #[arg(long, default_value_t = 0)]
        hostile: usize,
        /// Simulated dashboard tabs following the change feed, timing crashes.
        #[arg(long, default_value_t = 0)]
        dashboards: usize,
        /// After measuring, keep the fleet up this many seconds and print a
        /// dashboard login, to look at it (and time API calls).
        #[arg(long, default_value_t = 0)]
        hold: u64,
        /// Alert rules to evaluate (and a storm of errored apps halfway).
        #[arg(long, default_value_t = 0)]
        rules: usize,
    },
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on (default 0.0.0.0:9615).
    #[arg(long, env = "PMR_HUB_LISTEN")]
    listen: Option<String>,
    /// PEM certificate chain.
    #[arg(long, env = "PMR_HUB_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key.
    #[arg(long, env = "PMR_HUB_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Generate and use a self-signed certificate (its fingerprint is printed).
    #[arg(long, env = "PMR_HUB_SELF_SIGNED", conflicts_with = "tls_cert")]
    self_signed: bool,
    /// Handshakes per second per client address.
    #[arg(long, env = "PMR_HUB_HANDSHAKES_PER_IP")]
    handshakes_per_ip: Option<f64>,
    /// Handshakes per second per bucket key.
    #[arg(long, env = "PMR_HUB_HANDSHAKES_PER_KEY")]
    handshakes_per_key: Option<f64>,
    /// Bearer token that /metrics asks for (default: none, /metrics is open);
    /// prefer the variable or the config file: a flag is visible to local users.
    #[arg(long, env = "PMR_HUB_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serve /metrics on this address (plain HTTP) instead of the main port.
    #[arg(long, env = "PMR_HUB_METRICS_LISTEN")]
    metrics_listen: Option<String>,
    /// Print the default settings as TOML and exit.
    #[arg(long)]
    print_config: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCmd {
    /// Create a key pair for a bucket; prints the secret once.
    Create {
        /// Bucket (team or environment) name.
        #[arg(long)]
        bucket: String,
    },
    /// List keys (public halves only).
    List,
    /// Revoke a key (its connected agents are closed within a second).
    Revoke {
        /// Public key or key id.
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum UsersCmd {
    /// Add a user; a password is generated and shown once (or read from stdin).
    Add {
        /// E-mail address (the login name).
        email: String,
        /// owner, admin, operator or viewer.
        #[arg(long)]
        role: pmr_hub::access::Role,
        /// Limit the user to these buckets (comma-separated); default every bucket.
        #[arg(long, value_delimiter = ',')]
        buckets: Option<Vec<String>>,
        /// Read the password from the first line of standard input (12+ characters).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users and their roles.
    List,
    /// Remove a user, with their sessions and tokens.
    Remove {
        /// E-mail address.
        email: String,
    },
    /// Give a user a new password; their sessions end.
    ResetPassword {
        /// E-mail address.
        email: String,
        /// Read the password from the first line of standard input (12+ characters).
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokensCmd {
    /// Create an API token; prints it once.
    Create {
        /// Name recorded with every action it asks for.
        #[arg(long)]
        name: String,
        /// The user the token acts for (it never does more than they may).
        #[arg(long)]
        user: Option<String>,
        /// A role no higher than the user's (default: the user's).
        #[arg(long, requires = "user")]
        role: Option<pmr_hub::access::Role>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A URL's password (a --database value quoted by an error,
            // say) never reaches the terminal or a service's journal.
            let message = pmr_hub::config::mask_passwords(&format!("{e:#}"));
            eprintln!("pmr-hub: {message}");
            ExitCode::FAILURE
        }
    }
}

fn settings(cli: &Cli) -> anyhow::Result<Config> {
    let mut cfg = match &cli.config {
        Some(p) => Config::from_file(p)?,
        None => Config::default(),
    };
    if let Some(d) = &cli.data_dir {
        cfg.data_dir = d.clone();
    }
    if let Some(d) = &cli.database {
        cfg.database = Some(d.clone());
    }
    if let Some(f) = &cli.secrets_key_file {
        cfg.secrets_key_file = Some(f.clone());
    }
    if let Some(u) = &cli.public_url {
        cfg.public_url = Some(u.clone());
    }
    Ok(cfg)
}

fn open_store(cfg: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match cfg.store()? {
        Database::Sqlite(path) => Arc::new(SqliteStore::open(&path)?),
        Database::Postgres(url) => Arc::new(PgStore::open(&url)?),
    })
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut cfg = settings(&cli)?;
    match cli.command {
        Command::Keys(KeysCmd::Create { bucket }) => {
            commands::keys_create(open_store(&cfg)?.as_ref(), &cfg, &bucket)?;
        }
        Command::Keys(KeysCmd::List) => commands::keys_list(open_store(&cfg)?.as_ref())?,
        Command::Keys(KeysCmd::Revoke { key }) => {
            commands::keys_revoke(open_store(&cfg)?.as_ref(), &key)?;
        }
        Command::Bench {
            agents,
            procs,
            seconds,
            probes,
            hostile,
            dashboards,
            hold,
            rules,
        } => {
            pmr_hub::bench::run(pmr_hub::bench::BenchArgs {
                agents,
                procs,
                seconds,
                probes,
                hostile,
                dashboards,
                hold,
                rules,
                database: cfg.database,
            })?;
        }
        Command::Users(cmd) => users(&open_store(&cfg)?, cmd)?,
        Command::Migrate { from, to } => commands::migrate(&from, &to)?,
        Command::Alerts(cmd) => pmr_hub::alerts::cli::run(cmd, open_store(&cfg)?.as_ref(), &cfg)?,
        Command::Tokens(TokensCmd::Create { name, user, role }) => {
            let store = open_store(&cfg)?;
            commands::tokens_create(store.as_ref(), &name, user.as_deref(), role)?;
        }
        Command::Serve(args) => {
            if args.print_config {
                print!("{}", Config::default_toml());
                return Ok(());
            }
            if let Some(l) = args.listen {
                cfg.listen = l;
            }
            if args.tls_cert.is_some() {
                cfg.tls_cert = args.tls_cert;
                cfg.tls_key = args.tls_key;
            }
            cfg.self_signed |= args.self_signed;
            if let Some(r) = args.handshakes_per_ip {
                cfg.handshakes_per_ip = r;
            }
            if let Some(r) = args.handshakes_per_key {
                cfg.handshakes_per_key = r;
            }
            if args.metrics_token.is_some() {
                cfg.metrics_token = args.metrics_token;
            }
            if args.metrics_listen.is_some() {
                cfg.metrics_listen = args.metrics_listen;
            }
            serve(cfg)?;
        }
    }
    Ok(())
}

fn users(store: &Arc<dyn Store>, cmd: UsersCmd) -> anyhow::Result<()> {
    let store = store.as_ref();
    match cmd {
        UsersCmd::Add {
            email,
            role,
            buckets,
            password_stdin,
        } => commands::users_add(store, &email, role, buckets, password_stdin),
        UsersCmd::List => commands::users_list(store),
        UsersCmd::Remove { email } => commands::users_remove(store, &email),
        UsersCmd::ResetPassword {
            email,
            password_stdin,
        } => commands::users_reset(store, &email, password_stdin),
    }
}

fn serve(cfg: Config) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    pmr_hub::raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let store = open_store(&cfg)?;
        let mut self_signed_fp = None;
        let tls = match (&cfg.tls_cert, &cfg.tls_key, cfg.self_signed) {
            (Some(c), Some(k), _) => {
                let (certs, key) = pmr_hub::tls::load(c, k)?;
                println!(
                    "TLS certificate fingerprint (SHA-256): {}",
                    pmr_hub::tls::fingerprint(&certs[0])
                );
                Some(pmr_hub::tls::server_config(certs, key)?)
            }
            (_, _, true) => {
                let (certs, key) = pmr_hub::tls::self_signed(
                    &cfg.data_dir,
                    vec!["localhost".into(), "127.0.0.1".into()],
                )?;
                let fp = pmr_hub::tls::fingerprint(&certs[0]);
                println!("TLS certificate fingerprint (SHA-256): {fp}");
                self_signed_fp = Some(fp);
                Some(pmr_hub::tls::server_config(certs, key)?)
            }
            _ => None,
        };
        let listener = tokio::net::TcpListener::bind(&cfg.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        let addr = listener.local_addr()?;
        // Recorded before "listening" is printed: whoever waits for that line
        // (a script, a test) then gets the real address from `keys create`.
        pmr_hub::link_line::record(
            store.as_ref(),
            &cfg,
            addr,
            tls.is_some(),
            self_signed_fp.as_deref(),
        )?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("pmr-hub listening on {scheme}://{addr}");
        if let Some(token) = pmr_hub::api::setup::issue(store.as_ref())? {
            let base = format!("{scheme}://{addr}");
            println!("No user yet. Create the owner (once, within a day) in a browser:");
            println!("  {base}/setup#token={token}");
            println!("or with the API:");
            println!(
                "  curl {}-X POST {base}/api/v1/setup -H 'Content-Type: application/json' \\",
                if tls.is_some() { "-k " } else { "" }
            );
            println!(
                "    -d '{{\"token\":\"{token}\",\"email\":\"you@example.com\",\"password\":\"12+ characters\"}}'"
            );
            println!("  (or `pmr-hub users add EMAIL --role owner` on this machine)");
        }
        // A broken rules file stops the start, naming the rule and field;
        // so does a rule that names a receiver that does not exist.
        if let Some(p) = &cfg.alert_rules_file {
            let receivers = pmr_hub::alerts::receiver_names(store.as_ref())?;
            let n = pmr_hub::alerts::file_rules(p, Some(&receivers))?.len();
            println!("{n} alert rule(s) from {}", p.display());
        }
        let hub = pmr_hub::Hub::new(cfg, store)?;
        pmr_hub::serve(hub, listener, tls, shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
