//! What the agent reports every second: the host and every instance, in
//! full now and then, else only what changed since the last report.
//!
//! A pure function of the list and the previous report, called by the
//! session's `report` each second; the session decides when a full one is
//! due (every `FULL_EVERY`, first thing on a connection, or when the hub asks
//! with `Resend`), which is what lets a hub that lost a delta catch up.

use std::collections::HashMap;

use pmr_shared::link::messages::{Proc, Snapshot};

use crate::clock::now_ms;
use crate::link::host::HostSampler;

/// Snapshots between two fresh readings of the custom metrics.
const METRICS_EVERY: u64 = 5;

/// This second's report; `last` holds what the hub was last told.
///
/// A delta carries only the processes that differ from `last`, plus the ids
/// in `last` that are gone; a full one carries every process and no removals
/// (the hub replaces its view). Either way `last` becomes this list.
pub(super) fn snapshot(
    list: Vec<pmr_shared::app::ProcessInfo>,
    home: &std::path::Path,
    host: &mut HostSampler,
    last: &mut HashMap<u32, Proc>,
    seq: u64,
    full: bool,
) -> Snapshot {
    // Custom metrics (a Node app's heap changes every second) go up every
    // 5 s, so an idle app does not appear in every delta.
    let fresh_metrics = full || seq.is_multiple_of(METRICS_EVERY);
    let now: Vec<Proc> = list
        .into_iter()
        .map(|p| {
            let mut p = Proc {
                pm_id: p.pm_id,
                name: p.spec.name,
                namespace: p.spec.namespace,
                status: p.status.as_str().into(),
                pid: p.pid,
                restart_time: p.restart_time,
                unstable_restarts: p.unstable_restarts,
                pm_uptime: p.pm_uptime,
                cpu: p.cpu,
                memory: p.memory,
                exec_mode: p.spec.exec_mode,
                // Custom metrics go up as their values.
                metrics: match last.get(&p.pm_id) {
                    Some(prev) if !fresh_metrics => prev.metrics.clone(),
                    _ => p
                        .axm_monitor
                        .iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.get("value")?.clone())))
                        .collect(),
                },
                versioning: p.versioning,
                actions: p
                    .axm_actions
                    .iter()
                    .filter_map(|a| Some(a.get("action_name")?.as_str()?.to_string()))
                    .collect(),
            };
            pmr_shared::link::limits::fit(&mut p);
            p
        })
        .collect();
    let removed: Vec<u32> = if full {
        Vec::new()
    } else {
        last.keys()
            .filter(|id| !now.iter().any(|p| p.pm_id == **id))
            .copied()
            .collect()
    };
    let processes: Vec<Proc> = if full {
        now.clone()
    } else {
        now.iter()
            .filter(|p| last.get(&p.pm_id) != Some(*p))
            .cloned()
            .collect()
    };
    last.clear();
    last.extend(now.into_iter().map(|p| (p.pm_id, p)));
    Snapshot {
        seq,
        full,
        at: now_ms() as i64,
        host: host.sample(home),
        processes,
        removed,
    }
}
