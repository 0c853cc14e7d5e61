//! CPU and memory of each instance's whole process tree, from `/proc`.
//!
//! The sampler reads `/proc/<pid>/stat` of each process it tracks and
//! re-lists children every few samples, not at every one. No `/proc` file
//! stays open between rounds: a daemon out of descriptors must not be
//! holding them for its sampler.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

/// `/proc` reports times in USER_HZ, fixed at 100 on every Linux ABI.
const TICKS_PER_SEC: f64 = 100.0;

/// Children are re-listed every this many samples (and when a process is
/// first seen); in between the last list is reused. New grandchildren show
/// within a few seconds, and an idle app costs one read a second.
const RELIST_EVERY: u32 = 5;

/// What the sampler remembers of one process between rounds.
struct Tracked {
    /// Its children at the last listing (see [`RELIST_EVERY`]).
    kids: Vec<u32>,
    /// utime + stime at the last sample, in clock ticks.
    ticks: u64,
    /// Reached in this round; unseen ones are dropped by `end`.
    seen: bool,
}

/// Usage of one process tree at one sample.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Percent of one core since the previous sample.
    pub cpu: f32,
    /// Resident memory in bytes.
    pub memory: u64,
}

/// Remembers per-process tick counts between samples.
pub struct Sampler {
    /// Every process of every tree sampled last round, by pid.
    procs: HashMap<u32, Tracked>,
    /// When the last round began: CPU is ticks over this interval.
    last: Instant,
    /// RSS in `/proc/<pid>/stat` counts pages.
    page_size: u64,
    /// Read buffer for `stat` files, reused across reads.
    buf: Vec<u8>,
    /// The walk's work list, kept to reuse its allocation.
    stack: Vec<u32>,
    /// Round counter, for [`RELIST_EVERY`].
    round: u32,
}

impl Default for Sampler {
    fn default() -> Self {
        Self::new()
    }
}

impl Sampler {
    /// A sampler with nothing tracked yet.
    pub fn new() -> Self {
        let page_size = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .map_or(4096, |v| v as u64);
        Self {
            procs: HashMap::new(),
            last: Instant::now(),
            page_size,
            buf: vec![0; 4096],
            stack: Vec::new(),
            round: 0,
        }
    }

    /// Starts a sampling round; returns seconds since the previous one.
    pub fn begin(&mut self) -> f64 {
        self.round = self.round.wrapping_add(1);
        let now = Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        for t in self.procs.values_mut() {
            t.seen = false;
        }
        elapsed
    }

    /// Measures the tree rooted at `root`; call between `begin` and `end`.
    pub fn tree(&mut self, root: u32, elapsed: f64) -> Usage {
        let mut stack = std::mem::take(&mut self.stack);
        stack.clear();
        stack.push(root);
        let mut delta_ticks = 0u64;
        let mut pages = 0u64;
        let mut visited = 0;
        while let Some(pid) = stack.pop() {
            visited += 1;
            if visited > 4096 {
                break;
            }
            let Some((ticks, rss, fresh)) = self.read_stat(pid) else {
                continue;
            };
            pages += rss;
            if !fresh {
                let t = self.procs.get(&pid).map_or(ticks, |t| t.ticks);
                delta_ticks += ticks.saturating_sub(t);
            }
            if let Some(t) = self.procs.get_mut(&pid) {
                t.ticks = ticks;
                t.seen = true;
            }
            if fresh || self.round.is_multiple_of(RELIST_EVERY) {
                self.read_children(pid);
            }
            if let Some(t) = self.procs.get(&pid) {
                stack.extend_from_slice(&t.kids);
            }
        }
        self.stack = stack;
        let cpu = if elapsed > 0.0 {
            (delta_ticks as f64 / TICKS_PER_SEC / elapsed * 100.0) as f32
        } else {
            0.0
        };
        Usage {
            cpu,
            memory: pages * self.page_size,
        }
    }

    /// Forgets processes not seen in this round.
    pub fn end(&mut self) {
        self.procs.retain(|_, t| t.seen);
    }

    /// Returns (utime+stime ticks, rss pages, newly tracked).
    fn read_stat(&mut self, pid: u32) -> Option<(u64, u64, bool)> {
        let fresh = !self.procs.contains_key(&pid);
        // Opened and closed within the round.
        let read =
            File::open(format!("/proc/{pid}/stat")).and_then(|f| f.read_at(&mut self.buf, 0));
        let n = match read {
            Ok(n) if n > 0 => n,
            _ => {
                self.procs.remove(&pid);
                return None;
            }
        };
        self.procs.entry(pid).or_insert_with(|| Tracked {
            kids: Vec::new(),
            ticks: 0,
            seen: true,
        });
        let parsed = parse_stat(&self.buf[..n]);
        if parsed.is_none() {
            self.procs.remove(&pid);
        }
        let (ticks, rss) = parsed?;
        Some((ticks, rss, fresh))
    }

    /// Lists `pid`'s children again (main threads only); an unreadable
    /// list keeps the previous one.
    fn read_children(&mut self, pid: u32) {
        let Some(t) = self.procs.get_mut(&pid) else {
            return;
        };
        if let Some(kids) = crate::procfs::children(pid, crate::procfs::Threads::Main) {
            t.kids = kids;
        }
    }
}

/// Parses utime+stime and rss out of `/proc/<pid>/stat`.
fn parse_stat(bytes: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(bytes).ok()?;
    // One pass (this runs for every process every second): field N is
    // the (N-3)th, and `nth` consumes, hence the relative steps.
    let mut fields = crate::procfs::stat_fields(text)?;
    let utime: u64 = fields.nth(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let rss: i64 = fields.nth(24 - 16)?.parse().ok()?;
    Some((utime + stime, rss.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_stat_line_with_odd_names() {
        let line = b"42 (my (weird) app) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 1 0 100 12345 250 18446744073709551615";
        assert_eq!(parse_stat(line), Some((10, 250)));
    }

    #[test]
    fn samples_this_process() {
        let mut s = Sampler::new();
        let e = s.begin();
        let u = s.tree(std::process::id(), e);
        s.end();
        assert!(u.memory > 0);
    }
}
