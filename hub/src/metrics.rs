//! `/metrics`: per-process series from the live state, plus the hub's own.

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

use pmr_shared::sync::Locked;

use crate::live::Live;

/// The hub's own metrics, updated as things happen.
pub struct Metrics {
    registry: Registry,
    /// Agents with an open session.
    pub agents_connected: IntGauge,
    /// Frames received from agents.
    pub frames_in: IntCounter,
    /// Refused handshakes by reason.
    pub handshake_failures: IntCounterVec,
    /// Connections closed at accept by reason (`hub_full`, `address_full`).
    pub connections_refused: IntCounterVec,
    /// Connections open now.
    pub connections_open: IntGauge,
    /// Websocket upgrades waiting for `auth` now.
    pub pending_handshakes: IntGauge,
    /// The store writer's commits, writes and queue.
    pub writer: crate::store::writer::WriterStats,
    /// Changes published on the feed, by kind.
    pub changes: IntCounterVec,
    /// Delay from an agent's snapshot to its arrival.
    pub ingest_lag: Histogram,
    /// Process series left out because of the cap.
    pub series_dropped: IntGauge,
    /// Open live log views.
    pub log_viewers: IntGauge,
    /// 1 while this replica holds the once-only lease (a hub alone: always).
    pub lease_held: IntGauge,
    /// 1 while the database answers the cluster's connection (a hub alone: always).
    pub database_up: IntGauge,
    processes: ProcessSeries,
}

/// The per-process series, refilled from the live state at each scrape
/// (in their own registry: reset and refilled, one render at a time).
struct ProcessSeries {
    registry: Registry,
    rendering: std::sync::Mutex<()>,
    cpu: GaugeVec,
    memory: GaugeVec,
    restarts: GaugeVec,
    uptime: GaugeVec,
    status: GaugeVec,
    server_up: GaugeVec,
}

const PROC_LABELS: &[&str] = &["bucket", "server", "app", "instance"];

/// Registers `m` in `registry`; `m` for the hub to update.
fn registered<M>(registry: &Registry, m: M) -> anyhow::Result<M>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    registry.register(Box::new(m.clone()))?;
    Ok(m)
}

/// A counter vector `name` with one label.
fn by(name: &str, help: &str, label: &str) -> anyhow::Result<IntCounterVec> {
    Ok(IntCounterVec::new(Opts::new(name, help), &[label])?)
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let r = &registry;
        let writer = crate::store::writer::WriterStats {
            commits: registered(
                r,
                IntCounter::new(
                    "pmr_hub_store_commits_total",
                    "Transactions the store writer committed",
                )?,
            )?,
            writes: registered(
                r,
                IntCounter::new(
                    "pmr_hub_store_writes_total",
                    "Writes the store writer applied (many per commit under load)",
                )?,
            )?,
            queued: registered(
                r,
                IntGauge::new("pmr_hub_store_queue", "Writes waiting for the store writer")?,
            )?,
        };
        let lag_buckets = vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        Ok(Self {
            agents_connected: registered(
                r,
                IntGauge::new("pmr_hub_agents_connected", "Agents with an open session")?,
            )?,
            frames_in: registered(
                r,
                IntCounter::new("pmr_hub_frames_in_total", "Frames received from agents")?,
            )?,
            handshake_failures: registered(
                r,
                by(
                    "pmr_hub_handshake_failures_total",
                    "Refused agent handshakes by reason",
                    "reason",
                )?,
            )?,
            ingest_lag: registered(
                r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "pmr_hub_ingest_lag_seconds",
                        "Agent snapshot time to hub arrival",
                    )
                    .buckets(lag_buckets),
                )?,
            )?,
            connections_refused: registered(
                r,
                by(
                    "pmr_hub_connections_refused_total",
                    "Connections closed at accept because a cap was reached",
                    "reason",
                )?,
            )?,
            connections_open: registered(
                r,
                IntGauge::new("pmr_hub_connections_open", "Connections open now")?,
            )?,
            pending_handshakes: registered(
                r,
                IntGauge::new(
                    "pmr_hub_pending_handshakes",
                    "Websocket upgrades waiting for auth now",
                )?,
            )?,
            writer,
            changes: registered(
                r,
                by(
                    "pmr_hub_changes_total",
                    "Changes published on the change feed",
                    "kind",
                )?,
            )?,
            series_dropped: registered(
                r,
                IntGauge::new(
                    "pmr_hub_series_dropped",
                    "Process series left out of the last scrape (cap)",
                )?,
            )?,
            log_viewers: registered(
                r,
                IntGauge::new("pmr_hub_log_viewers", "Open live log views")?,
            )?,
            lease_held: registered(
                r,
                IntGauge::new(
                    "pmr_hub_lease_held",
                    "1 while this replica runs the once-only work (alerting, folding, pruning)",
                )?,
            )?,
            database_up: registered(
                r,
                IntGauge::new(
                    "pmr_hub_database_up",
                    "1 while the replicas' shared database answers this replica",
                )?,
            )?,
            processes: ProcessSeries::new()?,
            registry,
        })
    }

    /// Renders the text exposition, process series capped at `max_series`.
    /// Offline servers keep `pmr_server_up 0` but no process series: their
    /// last values would be stale.
    pub fn render(&self, live: &Live, max_series: usize) -> String {
        // One render at a time: the process gauges are reset and refilled.
        let _one = self.processes.rendering.locked();
        let dropped = self.processes.fill(live, max_series);
        self.series_dropped.set(dropped);
        let mut families = self.registry.gather();
        families.extend(self.processes.registry.gather());
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}

impl ProcessSeries {
    fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let gauge = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<GaugeVec> {
            registered(&registry, GaugeVec::new(Opts::new(name, help), labels)?)
        };
        Ok(Self {
            cpu: gauge(
                "pmr_process_cpu_percent",
                "CPU of the process tree, percent of one core",
                PROC_LABELS,
            )?,
            memory: gauge(
                "pmr_process_memory_bytes",
                "Resident memory of the process tree",
                PROC_LABELS,
            )?,
            restarts: gauge(
                "pmr_process_restarts",
                "Restarts counted the pm2 way",
                PROC_LABELS,
            )?,
            uptime: gauge(
                "pmr_process_uptime_seconds",
                "Seconds since the last start (0 when down)",
                PROC_LABELS,
            )?,
            status: gauge(
                "pmr_process_status",
                "1 for the process's current status",
                &["bucket", "server", "app", "instance", "status"],
            )?,
            server_up: gauge(
                "pmr_server_up",
                "1 while the server's agent is connected",
                &["bucket", "server"],
            )?,
            rendering: std::sync::Mutex::new(()),
            registry,
        })
    }

    /// Refills every series from `live`, at most `max_series` process
    /// series; how many were left out.
    fn fill(&self, live: &Live, max_series: usize) -> i64 {
        for g in [
            &self.cpu,
            &self.memory,
            &self.restarts,
            &self.uptime,
            &self.status,
            &self.server_up,
        ] {
            g.reset();
        }
        let now = crate::clock::now_ms();
        let mut count = 0usize;
        let mut dropped = 0i64;
        live.each(|s| {
            // Only the agents this replica holds: a cluster's sum counts each once.
            if s.holder.is_some() {
                return;
            }
            self.server_up
                .with_label_values(&[&s.bucket, &s.name])
                .set(if s.online { 1.0 } else { 0.0 });
            if !s.online {
                return;
            }
            for p in s.processes.values() {
                if count >= max_series {
                    dropped += 1;
                    continue;
                }
                count += 1;
                let inst = p.pm_id.to_string();
                let l = [
                    s.bucket.as_str(),
                    s.name.as_str(),
                    p.name.as_str(),
                    inst.as_str(),
                ];
                self.cpu.with_label_values(&l).set(f64::from(p.cpu));
                self.memory.with_label_values(&l).set(p.memory as f64);
                self.restarts
                    .with_label_values(&l)
                    .set(f64::from(p.restart_time));
                let up = if p.status == "online" {
                    (now - p.pm_uptime as i64).max(0) as f64 / 1000.0
                } else {
                    0.0
                };
                self.uptime.with_label_values(&l).set(up);
                self.status
                    .with_label_values(&[l[0], l[1], l[2], l[3], p.status.as_str()])
                    .set(1.0);
            }
        });
        dropped
    }
}
