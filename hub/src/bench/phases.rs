//! The bench's measured phases, each returning its figures: the ramp-up
//! (every agent connects), the steady state (hub RSS and CPU, delays, what
//! hostile addresses hold), a hub restart (how long until every agent is
//! back) and what the store kept.

use std::path::Path;
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{BenchArgs, Shared, hostile, hub_stat, spawn_hub};

/// Starts `n` agents (`probes` of them measuring) and waits for them all
/// (5 minutes at most); (seconds taken, agents held).
pub(super) fn ramp(
    rt: &tokio::runtime::Runtime,
    sh: &Arc<Shared>,
    args: &BenchArgs,
) -> (f64, usize) {
    let n = args.agents;
    let ramp = Instant::now();
    rt.block_on(async {
        for i in 0..n {
            tokio::spawn(super::agent::agent(
                i,
                sh.clone(),
                args.procs,
                i < args.probes,
            ));
            if i % 200 == 199 {
                tokio::task::yield_now().await;
            }
        }
        while sh.connected.load(Ordering::Relaxed) < n && ramp.elapsed() < Duration::from_secs(300)
        {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    (
        ramp.elapsed().as_secs_f64(),
        sh.connected.load(Ordering::Relaxed),
    )
}

/// What the steady state measured.
pub(super) struct Steady {
    /// Agents held at the end.
    pub held: usize,
    /// Hub RSS at the end, KiB.
    pub rss: u64,
    /// Hub RSS at its peak, KiB.
    pub peak_rss: u64,
    /// Hub CPU, % of one core.
    pub cpu: f64,
    /// Snapshot to API delays, ms, sorted.
    pub delays: Vec<f64>,
    /// Crash to dashboard delays, ms, sorted.
    pub crash_delays: Vec<f64>,
    /// Server list refetch times, ms, sorted.
    pub fetches: Vec<f64>,
    /// A fresh agent's link times beside the hostile ones, ms, sorted.
    pub fresh: Vec<f64>,
    /// Fresh agents refused beside the hostile ones.
    pub fresh_refused: usize,
    /// What the hostile side held each second: (pending, idle).
    pub hostile_held: Vec<(usize, usize)>,
}

/// Measures `args.seconds` of steady state (the storm of errored apps
/// halfway through, with rules), a fresh link a second beside `hostile`.
pub(super) fn steady(
    rt: &tokio::runtime::Runtime,
    sh: &Arc<Shared>,
    args: &BenchArgs,
    hub: &Child,
    hostile: Option<&Arc<hostile::Held>>,
) -> Steady {
    let (_, t0) = hub_stat(hub.id());
    let start = Instant::now();
    let mut s = Steady {
        held: 0,
        rss: 0,
        peak_rss: 0,
        cpu: 0.0,
        delays: Vec::new(),
        crash_delays: Vec::new(),
        fetches: Vec::new(),
        fresh: Vec::new(),
        fresh_refused: 0,
        hostile_held: Vec::new(),
    };
    let storm_at = Duration::from_secs(args.seconds / 2);
    while start.elapsed() < Duration::from_secs(args.seconds) {
        std::thread::sleep(Duration::from_secs(1));
        if args.rules > 0 && start.elapsed() >= storm_at {
            sh.storm.store(true, Ordering::Relaxed);
        }
        s.peak_rss = s.peak_rss.max(hub_stat(hub.id()).0);
        if let Some(h) = hostile {
            s.hostile_held.push((
                h.pending.load(Ordering::Relaxed),
                h.idle.load(Ordering::Relaxed),
            ));
            match rt.block_on(hostile::fresh_link(s.fresh.len() + s.fresh_refused, sh)) {
                Some(ms) => s.fresh.push(ms),
                None => s.fresh_refused += 1,
            }
        }
    }
    let (rss, t1) = hub_stat(hub.id());
    s.rss = rss;
    s.cpu = (t1 - t0) as f64 / 100.0 / start.elapsed().as_secs_f64() * 100.0;
    s.held = sh.connected.load(Ordering::Relaxed);
    let sorted = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.total_cmp(b));
        v
    };
    s.fresh = sorted(std::mem::take(&mut s.fresh));
    s.delays = sorted(rt.block_on(async { sh.delays.lock().await.clone() }));
    s.crash_delays = sorted(rt.block_on(async { sh.crash_delays.lock().await.clone() }));
    s.fetches = sorted(rt.block_on(async { sh.fetches.lock().await.clone() }));
    s
}

/// Kills the hub, lets every agent notice, brings it back on `port` and
/// waits for the agents; (seconds until back, agents back). The hub is
/// stopped when it returns.
pub(super) fn restart(
    rt: &tokio::runtime::Runtime,
    sh: &Arc<Shared>,
    dir: &Path,
    port: u16,
    mut hub: Child,
    n: usize,
) -> anyhow::Result<(f64, usize)> {
    sh.outage.store(true, Ordering::Relaxed);
    let _ = hub.kill();
    let _ = hub.wait();
    rt.block_on(async {
        while sh.connected.load(Ordering::Relaxed) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let mut hub = spawn_hub(dir, port, sh.database.as_deref())?;
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
    Ok((back_secs, back_count))
}

/// What the store kept: events, exit events, servers with an exit event.
pub(super) fn stored(dir: &Path, database: Option<&str>) -> anyhow::Result<(i64, i64, i64)> {
    const COUNTS: &str = "SELECT (SELECT COUNT(*) FROM events),
        (SELECT COUNT(*) FROM events WHERE kind = 'exit'),
        (SELECT COUNT(DISTINCT server_id) FROM events WHERE kind = 'exit')";
    if let Some(url) = database {
        let mut c = crate::store::postgres::connect::target(url)?.connect()?;
        let r = c.query_one(COUNTS, &[])?;
        return Ok((r.get(0), r.get(1), r.get(2)));
    }
    let db = rusqlite::Connection::open(dir.join("hub.db"))?;
    Ok(db.query_row(COUNTS, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?)
}
