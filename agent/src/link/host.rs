//! Host metrics for snapshots, from `/proc` and `statvfs`.
//!
//! Read once a second by the link's session; nothing here fails: a value
//! that cannot be read is reported as 0 rather than holding a snapshot back.

use std::path::Path;

use pmr_shared::link::messages::Host;

/// Remembers the CPU counters between samples.
#[derive(Default)]
pub struct HostSampler {
    /// (total, idle) jiffies at the last sample; `None` before the first,
    /// which reports 0 % CPU.
    last: Option<(u64, u64)>,
}

/// The first (`cpu`) line of `/proc/stat`: all jiffies, and the idle ones
/// (idle plus iowait), since boot.
fn cpu_counters() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_ascii_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total, idle))
}

/// Total and used memory in bytes; used is total minus `MemAvailable`
/// (page cache the kernel can drop counts as free, as `free` shows it).
fn meminfo() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| -> u64 {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_ascii_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let total = field("MemTotal:");
    (total, total.saturating_sub(field("MemAvailable:")))
}

impl HostSampler {
    /// One sample; CPU is the busy share since the previous call.
    pub fn sample(&mut self, disk_of: &Path) -> Host {
        let mut cpu = 0.0;
        if let Some((total, idle)) = cpu_counters() {
            if let Some((t0, i0)) = self.last {
                let dt = total.saturating_sub(t0);
                if dt > 0 {
                    cpu = (dt.saturating_sub(idle.saturating_sub(i0))) as f32 / dt as f32 * 100.0;
                }
            }
            self.last = Some((total, idle));
        }
        let (mem_total, mem_used) = meminfo();
        let load: Vec<f32> = std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_ascii_whitespace()
            .take(3)
            .filter_map(|v| v.parse().ok())
            .collect();
        let (disk_total, disk_used) = nix::sys::statvfs::statvfs(disk_of)
            .map(|s| {
                let frag = s.fragment_size();
                let total = s.blocks() * frag;
                (total, total.saturating_sub(s.blocks_available() * frag))
            })
            .unwrap_or((0, 0));
        let uptime = std::fs::read_to_string("/proc/uptime")
            .ok()
            .and_then(|u| u.split('.').next().and_then(|s| s.parse().ok()))
            .unwrap_or(0);
        Host {
            hostname: nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u32),
            cpu,
            mem_total,
            mem_used,
            load: [
                load.first().copied().unwrap_or(0.0),
                load.get(1).copied().unwrap_or(0.0),
                load.get(2).copied().unwrap_or(0.0),
            ],
            disk_total,
            disk_used,
            uptime,
        }
    }
}
