//! `pmr-hub bench`: N simulated agents speaking the real protocol against a
//! real hub process, from one process. Prints agents held, hub RSS and CPU,
//! snapshot-to-API delay, handshakes per second, and what a hub restart
//! costs (time until every agent is back, events lost or doubled).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::keys::SecretKey;
use pmr_shared::link::messages::{
    AgentMsg, Event, EventKind, Host, HubMsg, LINK_PROTOCOL, Proc, Snapshot,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

mod hostile;

use crate::store::Store;
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
}

struct Shared {
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

fn spawn_hub(dir: &Path, port: u16) -> anyhow::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
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

async fn http_get(api: SocketAddr, path: &str, token: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(api).await.ok()?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.ok()?;
    Some(buf)
}

fn procs(n: usize, marker: u32) -> Vec<Proc> {
    (0..n)
        .map(|i| Proc {
            pm_id: i as u32,
            name: format!("app-{i}"),
            namespace: "default".into(),
            status: "online".into(),
            pid: 1000 + i as u32,
            restart_time: if i == 0 { marker } else { 0 },
            unstable_restarts: 0,
            pm_uptime: 1_700_000_000_000,
            cpu: (marker % 100) as f32 / 10.0,
            memory: 50_000_000 + u64::from(marker),
            exec_mode: "fork_mode".into(),
            metrics: Default::default(),
            versioning: None,
        })
        .collect()
}

/// The agent's side of the handshake on an upgraded socket.
async fn authenticate<S>(
    mut ws: tokio_tungstenite::WebSocketStream<S>,
    sh: &Shared,
    name: &str,
) -> anyhow::Result<(
    tokio_tungstenite::WebSocketStream<S>,
    pmr_shared::link::messages::Resume,
)>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        anyhow::bail!("no hello")
    };
    let HubMsg::Hello { hub_id, nonce, .. } = serde_json::from_str(&t)? else {
        anyhow::bail!("not hello")
    };
    let nonce_b: [u8; 32] = handshake::unhex(&nonce)
        .and_then(|b| b.try_into().ok())
        .context("nonce")?;
    let ts = now_ms();
    let f = AuthFields {
        hub_id: &hub_id,
        nonce: &nonce_b,
        proto: LINK_PROTOCOL,
        public_key: &sh.public,
        machine_id: name,
        machine_name: name,
        agent_version: "bench",
        ts,
    };
    let auth = AgentMsg::Auth {
        proto: LINK_PROTOCOL,
        public_key: sh.public.clone(),
        machine_id: name.into(),
        machine_name: name.into(),
        agent_version: "bench".into(),
        ts,
        nonce,
        sig: handshake::hex(&handshake::sign(&sh.secret, &f)),
    };
    ws.send(Message::Text(serde_json::to_string(&auth)?.into()))
        .await?;
    let Some(Ok(Message::Text(t))) = ws.next().await else {
        anyhow::bail!("refused")
    };
    let HubMsg::Welcome { resume, .. } = serde_json::from_str(&t)? else {
        anyhow::bail!("no welcome")
    };
    Ok((ws, resume))
}

/// One simulated agent, forever (until the run ends).
async fn agent(i: usize, sh: Arc<Shared>, procs_n: usize, probe: bool) {
    let name = format!("bench-{i:05}");
    let src = Ipv4Addr::new(127, 1 + (i / 250) as u8, (i % 250) as u8 + 1, 1);
    let mut next_event: u64 = 1;
    let mut queued: Vec<Event> = vec![Event {
        seq: 0,
        at: now_ms(),
        kind: EventKind::Online,
        pm_id: 0,
        name: "app-0".into(),
        code: None,
        signal: None,
        detail: None,
    }];
    let mut attempt = 0u32;
    let mut marker: u32 = 0;
    loop {
        let result: anyhow::Result<()> = async {
            let sock = tokio::net::TcpSocket::new_v4()?;
            sock.bind(SocketAddr::new(src.into(), 0))?;
            let stream = sock.connect(sh.api).await?;
            let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(4096);
            let (ws, _) = tokio_tungstenite::client_async_with_config(&sh.url, stream, Some(config)).await?;
            let (mut ws, resume) = authenticate(ws, &sh, &name).await?;
            sh.handshakes.fetch_add(1, Ordering::Relaxed);
            sh.connected.fetch_add(1, Ordering::Relaxed);
            attempt = 0;
            // Replay what the hub lacks, as a real agent does.
            queued.retain(|e| e.seq == 0 || e.seq > resume.events);
            for e in queued.iter_mut() {
                if e.seq == 0 {
                    e.seq = next_event.max(resume.events + 1);
                    next_event = e.seq + 1;
                }
                ws.send(Message::Text(serde_json::to_string(&AgentMsg::Event(e.clone()))?.into())).await?;
            }
            // Spread the agents' ticks over the second.
            tokio::time::sleep(Duration::from_millis((i as u64 * 7919) % 1000)).await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut seq = 0;
            let r: anyhow::Result<()> = loop {
                tokio::select! {
                    _ = tick.tick() => {
                        seq += 1;
                        marker += 1;
                        let snap = Snapshot { seq, full: seq % 30 == 1, at: now_ms(), host: Host::default(), processes: procs(procs_n, marker), removed: vec![] };
                        let sent = Instant::now();
                        if let Err(e) = ws.send(Message::Text(serde_json::to_string(&AgentMsg::Snapshot(snap))?.into())).await {
                            break Err(e.into());
                        }
                        if probe && !sh.outage.load(Ordering::Relaxed) {
                            let (api, token, sh2, want) = (sh.api, sh.token.clone(), sh.clone(), marker);
                            let path = format!("/api/v1/processes?server={name}&app=app-0");
                            tokio::spawn(async move {
                                while sent.elapsed() < Duration::from_secs(10) {
                                    if let Some(body) = http_get(api, &path, &token).await
                                        && body.contains(&format!("\"restart_time\":{want},"))
                                    {
                                        sh2.delays.lock().await.push(sent.elapsed().as_secs_f64() * 1000.0);
                                        return;
                                    }
                                    tokio::time::sleep(Duration::from_millis(5)).await;
                                }
                            });
                        }
                    }
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(t))) => {
                            if let Ok(HubMsg::Ack { seq, .. }) = serde_json::from_str::<HubMsg>(&t) {
                                queued.retain(|e| e.seq > seq);
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break Ok(()),
                    }
                }
            };
            sh.connected.fetch_sub(1, Ordering::Relaxed);
            r
        }
        .await;
        let _ = result;
        if sh.outage.load(Ordering::Relaxed) && !queued.iter().any(|e| e.kind == EventKind::Exit) {
            // Something "crashes" while the hub is away: it must arrive later, once.
            queued.push(Event {
                seq: 0,
                at: now_ms(),
                kind: EventKind::Exit,
                pm_id: 0,
                name: "app-0".into(),
                code: Some(1),
                signal: None,
                detail: None,
            });
        }
        let ceiling = 60_000u64.min(1000u64 << attempt.min(16));
        attempt += 1;
        let mut b = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
        tokio::time::sleep(Duration::from_millis(u64::from_le_bytes(b) % ceiling + 100)).await;
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Runs the benchmark and prints its table.
pub fn run(args: BenchArgs) -> anyhow::Result<()> {
    crate::http::serve::raise_fd_limit();
    let dir: PathBuf = std::env::temp_dir().join(format!("pmr-hub-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = SqliteStore::open(&dir.join("hub.db"))?;
    let secret = SecretKey::generate();
    let public = secret.public().to_string();
    store.create_key("bench", &public)?;
    let token = "bench-token";
    store.create_token("bench", &crate::api::token_hash(token))?;
    drop(store);
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut hub = spawn_hub(&dir, port)?;
    let api: SocketAddr = format!("127.0.0.1:{port}").parse()?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sh = Arc::new(Shared {
        url: format!("ws://127.0.0.1:{port}/agent/v1"),
        api,
        token: token.into(),
        secret,
        public,
        connected: AtomicUsize::new(0),
        handshakes: AtomicU64::new(0),
        outage: AtomicBool::new(false),
        delays: Mutex::new(Vec::new()),
    });
    let n = args.agents;
    let ramp = Instant::now();
    rt.block_on(async {
        for i in 0..n {
            tokio::spawn(agent(i, sh.clone(), args.procs, i < args.probes));
            if i % 200 == 199 {
                tokio::task::yield_now().await;
            }
        }
        while sh.connected.load(Ordering::Relaxed) < n && ramp.elapsed() < Duration::from_secs(300)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let ramp_secs = ramp.elapsed().as_secs_f64();
    let held_after_ramp = sh.connected.load(Ordering::Relaxed);
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
        sh.delays.lock().await.clear();
    });
    let (_, t0) = hub_stat(hub.id());
    let start = Instant::now();
    let mut peak_rss = 0;
    let mut fresh: Vec<f64> = Vec::new();
    let mut fresh_refused = 0;
    let mut hostile_min = (usize::MAX, usize::MAX);
    while start.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_secs(1));
        peak_rss = peak_rss.max(hub_stat(hub.id()).0);
        if let Some(h) = &held_hostile {
            hostile_min.0 = hostile_min.0.min(h.pending.load(Ordering::Relaxed));
            hostile_min.1 = hostile_min.1.min(h.idle.load(Ordering::Relaxed));
            match rt.block_on(hostile::fresh_link(fresh.len() + fresh_refused, &sh)) {
                Some(ms) => fresh.push(ms),
                None => fresh_refused += 1,
            }
        }
    }
    fresh.sort_by(|a, b| a.total_cmp(b));
    let (rss, t1) = hub_stat(hub.id());
    let cpu = (t1 - t0) as f64 / 100.0 / start.elapsed().as_secs_f64() * 100.0;
    let held = sh.connected.load(Ordering::Relaxed);
    let mut delays = rt.block_on(async { sh.delays.lock().await.clone() });
    delays.sort_by(|a, b| a.total_cmp(b));
    // Restart: kill the hub, let every agent notice, bring it back.
    sh.outage.store(true, Ordering::Relaxed);
    let _ = hub.kill();
    let _ = hub.wait();
    rt.block_on(async {
        while sh.connected.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    hub = spawn_hub(&dir, port)?;
    sh.outage.store(false, Ordering::Relaxed);
    let back = Instant::now();
    rt.block_on(async {
        while sh.connected.load(Ordering::Relaxed) < n && back.elapsed() < Duration::from_secs(300)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Let the replays be stored.
        tokio::time::sleep(Duration::from_secs(3)).await;
    });
    let back_secs = back.elapsed().as_secs_f64() - 3.0;
    let back_count = sh.connected.load(Ordering::Relaxed);
    let _ = hub.kill();
    let _ = hub.wait();
    rt.shutdown_timeout(Duration::from_secs(1));
    let db = rusqlite::Connection::open(dir.join("hub.db"))?;
    let events: i64 = db.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?;
    let exits: i64 = db.query_row("SELECT COUNT(*) FROM events WHERE kind = 'exit'", [], |r| {
        r.get(0)
    })?;
    let servers_with_exit: i64 = db.query_row(
        "SELECT COUNT(DISTINCT server_id) FROM events WHERE kind = 'exit'",
        [],
        |r| r.get(0),
    )?;
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "agents                                   {n} ({} processes each, 1 snapshot/s)",
        args.procs
    );
    println!("ramp-up: all connected after             {ramp_secs:.1} s ({held_after_ramp} held)");
    println!(
        "handshakes per second (ramp-up)          {:.0}",
        held_after_ramp as f64 / ramp_secs
    );
    println!(
        "agents held during {} s                  {held}",
        args.seconds
    );
    println!(
        "hub RSS (end / peak)                     {:.0} / {:.0} MiB",
        rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    println!("hub CPU                                  {cpu:.0} % of one core");
    println!(
        "snapshot -> API delay p50 / p99 / max    {:.0} / {:.0} / {:.0} ms ({} samples)",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(f64::NAN),
        delays.len()
    );
    if held_hostile.is_some() {
        println!(
            "hostile addresses (each at its allowance) {} (held at least {} pending upgrades, {} idle connections)",
            args.hostile, hostile_min.0, hostile_min.1
        );
        println!(
            "fresh agent link time p50 / max          {:.1} / {:.1} ms ({} linked, {fresh_refused} refused)",
            percentile(&fresh, 0.5),
            fresh.last().copied().unwrap_or(f64::NAN),
            fresh.len()
        );
    }
    println!("after a hub restart, back within         {back_secs:.1} s ({back_count} of {n})");
    println!("events stored (want {})                   {events}", 2 * n);
    println!(
        "exit events during the outage            {exits} from {servers_with_exit} servers (want {n} from {n})"
    );
    Ok(())
}
