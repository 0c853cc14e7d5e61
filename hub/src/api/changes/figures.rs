//! What a change event says beyond the change itself, read from the live
//! state when the event is sent: a page follows every figure of a row
//! (pid, uptime, status, CPU, memory) from the stream alone, never from a
//! refetch. The feed stays small (a `sample` says only "this server's
//! figures are new"); a stream that asked for samples gets the figures.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::ingest::digest::server_figures;
use crate::ingest::feed::Change;
use crate::live::Live;

/// Samples of one server sent at most once per `every_ms` on one stream.
#[derive(Default)]
pub(super) struct Pace {
    every_ms: i64,
    last: HashMap<i64, i64>,
}

impl Pace {
    /// At most one sample per server every `secs` seconds (0: every one).
    pub(super) fn new(secs: u64) -> Self {
        Self {
            every_ms: (secs as i64).saturating_mul(1000),
            last: HashMap::new(),
        }
    }

    /// Whether a sample of `server` may go at `now` (and notes it did).
    pub(super) fn admit(&mut self, server: i64, now: i64) -> bool {
        if self.every_ms == 0 {
            return true;
        }
        let last = self.last.entry(server).or_insert(i64::MIN / 2);
        if now - *last < self.every_ms {
            return false;
        }
        *last = now;
        true
    }
}

/// The change as the stream sends it: `process_status` and `restart`
/// with the instance's pid and start time now, `sample` with every
/// process's figures and the host's.
pub(super) fn enrich(c: &Change, live: &Live) -> Option<Value> {
    let mut v = serde_json::to_value(c).ok()?;
    match c {
        Change::ProcessStatus {
            server_id, pm_id, ..
        }
        | Change::Restart {
            server_id, pm_id, ..
        } => {
            let now = live.read(*server_id, |s| {
                s.processes.get(pm_id).map(|p| (p.pid, p.pm_uptime))
            });
            if let (Some(Some((pid, up))), Some(o)) = (now, v.as_object_mut()) {
                o.insert("pid".into(), json!(pid));
                o.insert("pm_uptime".into(), json!(up));
            }
        }
        Change::Sample { server_id, .. } => {
            let figures = live.read(*server_id, server_figures);
            if let (Some((procs, host)), Some(o)) = (figures, v.as_object_mut()) {
                o.insert("processes".into(), procs);
                o.insert("host".into(), host);
            }
        }
        _ => {}
    }
    Some(v)
}
