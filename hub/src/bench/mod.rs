//! `pmr-hub bench`: N simulated agents speaking the real protocol against a
//! real hub process, from one process. Prints agents held, hub RSS and CPU,
//! snapshot-to-API delay, handshakes per second, and what a hub restart
//! costs (time until every agent is back, events lost or doubled).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::time::{Duration, Instant};

use anyhow::Context;
use pmr_shared::link::keys::SecretKey;
use tokio::sync::Mutex;

mod agent;
mod alerts;
mod dashboard;
mod hostile;
mod phases;
mod report;

use crate::store::Store;
use crate::store::postgres::PgStore;
use crate::store::sqlite::SqliteStore;

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct BenchArgs {
    /// Simulated agents.
    pub agents: usize,
    /// Processes per agent.
    pub procs: usize,
    /// Seconds of steady state measured.
    pub seconds: u64,
    /// Agents that also measure snapshot-to-API delay.
    pub probes: usize,
    /// Hostile source addresses holding their whole allowance meanwhile.
    pub hostile: usize,
    /// Simulated dashboard tabs following the change feed meanwhile.
    pub dashboards: usize,
    /// Seconds to keep the fleet running after the measurement, with a
    /// dashboard login printed, to look at it in a browser.
    pub hold: u64,
    /// Alert rules, and a storm of errored apps halfway through.
    pub rules: usize,
    /// The hub's database (`postgres://…`, empty); none: SQLite in the
    /// bench's directory.
    pub database: Option<String>,
}

struct Shared {
    /// The hub's database URL, if not SQLite.
    database: Option<String>,
    url: String,
    api: SocketAddr,
    token: String,
    secret: SecretKey,
    public: String,
    connected: AtomicUsize,
    handshakes: AtomicU64,
    /// Set while the hub is down on purpose: agents queue an event then.
    outage: AtomicBool,
    delays: Mutex<Vec<f64>>,
    /// When each probe server last crashed an app, by server id.
    crashes: Mutex<std::collections::HashMap<i64, Instant>>,
    /// Crash to dashboard delays, ms.
    crash_delays: Mutex<Vec<f64>>,
    /// The dashboards' refetch times, ms.
    fetches: Mutex<Vec<f64>>,
    /// When each probe server last crashed an app, by server name.
    crash_names: std::sync::Arc<Mutex<std::collections::HashMap<String, Instant>>>,
    /// Set: every agent's app-2 is errored.
    storm: AtomicBool,
}

fn now_ms() -> i64 {
    crate::clock::now_ms()
}

fn hub_stat(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    // Field 3 (state) comes first here, so utime (14) and stime (15) are the
    // 12th and 13th.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    let ticks = num(11) + num(12);
    (rss, ticks)
}

/// The bench hub's store: SQLite in `dir`, or the database given.
fn open_store(dir: &Path, database: Option<&str>) -> anyhow::Result<Box<dyn Store>> {
    Ok(match database {
        Some(url) => Box::new(PgStore::open(url)?),
        None => Box::new(SqliteStore::open(&dir.join("hub.db"))?),
    })
}

fn spawn_hub(dir: &Path, port: u16, database: Option<&str>) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    if let Some(url) = database {
        cmd.args(["--database", url]);
    }
    let mut child = cmd
        .arg("--data-dir")
        .arg(dir)
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--handshakes-per-ip",
            "100000",
            "--handshakes-per-key",
            "100000",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start the hub")?;
    use std::io::BufRead;
    let mut out = std::io::BufReader::new(child.stdout.take().context("no stdout")?);
    let mut line = String::new();
    while out.read_line(&mut line)? > 0 {
        if line.starts_with("pmr-hub listening") {
            break;
        }
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Ok(child)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Keeps the fleet running `secs` seconds with an owner login printed
/// (made now, in the hub's store), then times API calls a page makes.
fn hold(
    dir: &Path,
    port: u16,
    secs: u64,
    rt: &tokio::runtime::Runtime,
    sh: &Arc<Shared>,
) -> anyhow::Result<()> {
    let store = open_store(dir, sh.database.as_deref())?;
    let password = crate::access::password::generate();
    crate::store::write_one(
        store.as_ref(),
        crate::store::Write::CreateUser {
            email: "bench@example.com".into(),
            password_hash: crate::access::password::hash(&password)?,
            role: "owner".into(),
            buckets: None,
            now: now_ms(),
        },
    )?;
    drop(store);
    println!(
        "dashboard: http://127.0.0.1:{port}/ (bench@example.com, password {password}) for {secs} s"
    );
    // What the processes page and the fleet page fetch, 100 times each.
    for path in ["/api/v1/processes", "/api/v1/servers"] {
        let mut times: Vec<f64> = Vec::new();
        let mut size = 0;
        for _ in 0..100 {
            let t = Instant::now();
            size = rt.block_on(dashboard::fetch(sh, path)).unwrap_or(0);
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(|a, b| a.total_cmp(b));
        println!(
            "GET {path:<24} p50 / p99 {:.0} / {:.0} ms ({} KiB)",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            size / 1024
        );
    }
    std::thread::sleep(Duration::from_secs(secs));
    Ok(())
}

/// Writes the bench's key, token and alerting set-up into a new store in
/// `dir`; the alert receiver's listener, with rules.
fn prepare(
    dir: &Path,
    args: &BenchArgs,
    secret: &SecretKey,
    token: &str,
) -> anyhow::Result<Option<std::net::TcpListener>> {
    let store = open_store(dir, args.database.as_deref())?;
    store.create_key("bench", &secret.public().to_string())?;
    store.create_token("bench", &crate::api::token_hash(token), None)?;
    let hook_l = std::net::TcpListener::bind("127.0.0.1:0")?;
    hook_l.set_nonblocking(true)?;
    let hook_url = format!("http://{}/", hook_l.local_addr()?);
    alerts::setup(store.as_ref(), dir, args.rules, args.agents, &hook_url)?;
    Ok((args.rules > 0).then_some(hook_l))
}

/// Runs the benchmark and prints its table.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::http::serve::raise_fd_limit();
    let dir: PathBuf = std::env::temp_dir().join(format!("pmr-hub-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let secret = SecretKey::generate();
    let token = "bench-token";
    let hook = prepare(&dir, &args, &secret, token)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let hub = spawn_hub(&dir, port, args.database.as_deref())?;
    let api: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sh = Arc::new(Shared {
        database: args.database.clone(),
        url: format!("ws://127.0.0.1:{port}/agent/v1"),
        api,
        token: token.into(),
        public: secret.public().to_string(),
        secret,
        connected: AtomicUsize::new(0),
        handshakes: AtomicU64::new(0),
        outage: AtomicBool::new(false),
        delays: Mutex::new(Vec::new()),
        crashes: Mutex::new(Default::default()),
        crash_delays: Mutex::new(Vec::new()),
        fetches: Mutex::new(Vec::new()),
        crash_names: Default::default(),
        storm: AtomicBool::new(false),
    });
    let seen: std::sync::Arc<std::sync::Mutex<alerts::Seen>> = Default::default();
    if let Some(l) = hook {
        let _guard = rt.enter();
        let l = tokio::net::TcpListener::from_std(l)?;
        rt.spawn(alerts::receive(l, sh.crash_names.clone(), seen.clone()));
    }
    let ramp = phases::ramp(&rt, &sh, &args);
    let held_hostile = (args.hostile > 0).then(|| {
        let d = crate::config::Config::default();
        // Upgraded connections leave the connection share for the pending pool.
        let idle = d.max_connections_per_ip;
        let _guard = rt.enter();
        hostile::start(args.hostile, d.pending_handshakes_per_ip, idle, api)
    });
    if held_hostile.is_some() {
        // Let them take everything they are allowed before measuring.
        std::thread::sleep(Duration::from_secs(3));
    }
    rt.block_on(async {
        for _ in 0..args.dashboards {
            tokio::spawn(dashboard::dashboard(sh.clone()));
        }
        sh.delays.lock().await.clear();
    });
    let steady = phases::steady(&rt, &sh, &args, &hub, held_hostile.as_ref());
    if args.hold > 0 {
        hold(&dir, port, args.hold, &rt, &sh)?;
    }
    let back = phases::restart(&rt, &sh, &dir, port, hub, args.agents)?;
    rt.shutdown_timeout(Duration::from_secs(1));
    let stored = phases::stored(&dir, args.database.as_deref())?;
    let _ = std::fs::remove_dir_all(&dir);
    report::print(report::Figures {
        args: &args,
        ramp,
        steady,
        hostile: held_hostile.is_some(),
        back,
        stored,
        seen: &seen,
    });
    Ok(())
}
