//! `/metrics`: per-process series from the live state, plus the hub's own.

use prometheus::{
    Encoder, GaugeVec, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

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
    proc_registry: Registry,
    rendering: std::sync::Mutex<()>,
    cpu: GaugeVec,
    memory: GaugeVec,
    restarts: GaugeVec,
    uptime: GaugeVec,
    status: GaugeVec,
    server_up: GaugeVec,
}

const PROC_LABELS: &[&str] = &["bucket", "server", "app", "instance"];

impl Metrics {
    /// Registers every metric.
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new();
        let agents_connected =
            IntGauge::new("pmr_hub_agents_connected", "Agents with an open session")?;
        let frames_in = IntCounter::new("pmr_hub_frames_in_total", "Frames received from agents")?;
        let handshake_failures = IntCounterVec::new(
            Opts::new(
                "pmr_hub_handshake_failures_total",
                "Refused agent handshakes by reason",
            ),
            &["reason"],
        )?;
        let connections_refused = IntCounterVec::new(
            Opts::new(
                "pmr_hub_connections_refused_total",
                "Connections closed at accept because a cap was reached",
            ),
            &["reason"],
        )?;
        let connections_open = IntGauge::new("pmr_hub_connections_open", "Connections open now")?;
        let pending_handshakes = IntGauge::new(
            "pmr_hub_pending_handshakes",
            "Websocket upgrades waiting for auth now",
        )?;
        let writer = crate::store::writer::WriterStats {
            commits: IntCounter::new(
                "pmr_hub_store_commits_total",
                "Transactions the store writer committed",
            )?,
            writes: IntCounter::new(
                "pmr_hub_store_writes_total",
                "Writes the store writer applied (many per commit under load)",
            )?,
            queued: IntGauge::new("pmr_hub_store_queue", "Writes waiting for the store writer")?,
        };
        let changes = IntCounterVec::new(
            Opts::new(
                "pmr_hub_changes_total",
                "Changes published on the change feed",
            ),
            &["kind"],
        )?;
        let ingest_lag = Histogram::with_opts(
            HistogramOpts::new(
                "pmr_hub_ingest_lag_seconds",
                "Agent snapshot time to hub arrival",
            )
            .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
        )?;
        let series_dropped = IntGauge::new(
            "pmr_hub_series_dropped",
            "Process series left out of the last scrape (cap)",
        )?;
        registry.register(Box::new(agents_connected.clone()))?;
        registry.register(Box::new(frames_in.clone()))?;
        registry.register(Box::new(handshake_failures.clone()))?;
        registry.register(Box::new(ingest_lag.clone()))?;
        registry.register(Box::new(connections_refused.clone()))?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(pending_handshakes.clone()))?;
        registry.register(Box::new(writer.commits.clone()))?;
        registry.register(Box::new(writer.writes.clone()))?;
        registry.register(Box::new(writer.queued.clone()))?;
        registry.register(Box::new(changes.clone()))?;
        registry.register(Box::new(series_dropped.clone()))?;
        let log_viewers = IntGauge::new("pmr_hub_log_viewers", "Open live log views")?;
        registry.register(Box::new(log_viewers.clone()))?;
        let proc_registry = Registry::new();
        let gauge = |name: &str, help: &str, labels: &[&str]| -> anyhow::Result<GaugeVec> {
            let g = GaugeVec::new(Opts::new(name, help), labels)?;
            proc_registry.register(Box::new(g.clone()))?;
            Ok(g)
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
            proc_registry,
            rendering: std::sync::Mutex::new(()),
            registry,
            agents_connected,
            frames_in,
            handshake_failures,
            connections_refused,
            connections_open,
            pending_handshakes,
            writer,
            changes,
            ingest_lag,
            series_dropped,
            log_viewers,
        })
    }

    /// Renders the text exposition, process series capped at `max_series`.
    /// Offline servers keep `pmr_server_up 0` but no process series: their
    /// last values would be stale.
    pub fn render(&self, live: &Live, max_series: usize) -> String {
        // One render at a time: the process gauges are reset and refilled.
        let _one = self.rendering.lock().unwrap_or_else(|e| e.into_inner());
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
        self.series_dropped.set(dropped);
        let mut families = self.registry.gather();
        families.extend(self.proc_registry.gather());
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&families, &mut out);
        String::from_utf8(out).unwrap_or_default()
    }
}
