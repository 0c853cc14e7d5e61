//! What an agent reports of its machine and processes: the live snapshot
//! (every second) and the 10-second rollups the hub keeps as history.

use serde::{Deserialize, Serialize};

/// Host metrics in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Host {
    /// Host name.
    pub hostname: String,
    /// Logical CPUs.
    pub cpus: u32,
    /// CPU busy, percent of all CPUs.
    pub cpu: f32,
    /// Total memory, bytes.
    pub mem_total: u64,
    /// Used memory, bytes.
    pub mem_used: u64,
    /// 1, 5, 15 minute load averages.
    pub load: [f32; 3],
    /// Total bytes of the file system holding `$PMR_HOME`.
    pub disk_total: u64,
    /// Used bytes of that file system.
    pub disk_used: u64,
    /// Seconds since boot.
    pub uptime: u64,
}

/// One process in a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Proc {
    /// Instance id on the agent.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// pm2 status text.
    pub status: String,
    /// Main pid, 0 when none.
    pub pid: u32,
    /// Restart counter.
    pub restart_time: u32,
    /// Consecutive unstable restarts.
    pub unstable_restarts: u32,
    /// Epoch ms of the last start.
    pub pm_uptime: u64,
    /// CPU percent of one core.
    pub cpu: f32,
    /// Resident bytes.
    pub memory: u64,
    /// `fork_mode` or `cluster_mode`.
    pub exec_mode: String,
    /// Custom metrics by name.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metrics: serde_json::Map<String, serde_json::Value>,
    /// Git metadata, pm2's `versioning` shape, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<serde_json::Value>,
    /// Names of the custom actions the app registered (@pm2/io), for `trigger`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
}

/// Live state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Increases by one per snapshot of this session.
    pub seq: u64,
    /// True: `processes` is everything; false: only what changed.
    pub full: bool,
    /// Agent clock, Unix ms.
    pub at: i64,
    /// Host metrics.
    pub host: Host,
    /// Processes (all, or the changed ones).
    pub processes: Vec<Proc>,
    /// Ids gone since the last snapshot (deltas only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<u32>,
}

/// Min/max/avg/last of one value over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Agg {
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean of the samples.
    pub avg: f64,
    /// Last sample.
    pub last: f64,
}

/// One process's 10-second aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcRollup {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// CPU percent.
    pub cpu: Agg,
    /// Resident bytes.
    pub memory: Agg,
}

/// 10-second aggregates of every process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollup {
    /// Sequence number on the rollups stream.
    pub seq: u64,
    /// Start of the window, Unix ms.
    pub start: i64,
    /// Window length, ms.
    pub span_ms: u32,
    /// One entry per process.
    pub processes: Vec<ProcRollup>,
}
