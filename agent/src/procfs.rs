//! Reading `/proc/<pid>/stat` and `/proc/<pid>/task/*/children`, which the
//! sampler, the stop path, the orphan reaper, the notify socket, the CLI and
//! the tests all need: one reader each, so the parsing rules live once.

/// A process's stat line, if it still exists.
pub fn read_stat(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// The fields of a stat line from field 3 (the state) on. The command name
/// may hold spaces and parentheses, so they start after the last `)`.
pub fn stat_fields(line: &str) -> Option<std::str::SplitAsciiWhitespace<'_>> {
    Some(line.get(line.rfind(')')? + 2..)?.split_ascii_whitespace())
}

/// Field `n` of a stat line, numbered as in proc(5) (1 is the pid, 3 the
/// state).
pub fn stat_field(line: &str, n: usize) -> Option<&str> {
    stat_fields(line)?.nth(n.checked_sub(3)?)
}

/// When process `pid` started, Unix ms (boot time plus stat field 22).
pub fn started_ms(pid: u32) -> Option<u64> {
    let ticks: u64 = stat_field(&read_stat(pid)?, 22)?.parse().ok()?;
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: u64 = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()??
        .max(1) as u64;
    Some(boot * 1000 + ticks * 1000 / hz)
}

/// Which threads' `children` lists [`children`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// The main thread's only: one read, enough for a single-threaded
    /// parent and cheap enough for the sampler's every pass.
    Main,
    /// Every thread's: a child forked by another thread is listed under
    /// that thread alone (the stop path and the reaper must see it).
    All,
}

/// The children of `proc` (a pid, or `self` with [`Threads::All`]), as
/// `/proc` numbers them; `None` when the process is gone.
pub fn children(proc: impl std::fmt::Display, threads: Threads) -> Option<Vec<u32>> {
    let parse = |text: String| -> Vec<u32> {
        text.split_ascii_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect()
    };
    match threads {
        Threads::Main => std::fs::read_to_string(format!("/proc/{proc}/task/{proc}/children"))
            .ok()
            .map(parse),
        Threads::All => {
            let tasks = std::fs::read_dir(format!("/proc/{proc}/task")).ok()?;
            Some(
                tasks
                    .flatten()
                    .filter_map(|t| std::fs::read_to_string(t.path().join("children")).ok())
                    .flat_map(parse)
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Threads, children, stat_field};

    #[test]
    fn lists_a_child_of_this_process() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        let me = std::process::id();
        let all = children("self", Threads::All).unwrap();
        let main = children(me, Threads::Main).unwrap_or_default();
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(all.contains(&child.id()), "{all:?}");
        // Spawned by this test's thread, not the main one.
        assert!(main.len() <= all.len());
        assert_eq!(children(u32::MAX, Threads::All), None);
    }

    #[test]
    fn fields_after_an_odd_command_name() {
        let line = "42 (my (weird) app) S 1 42 42 0 -1 4194560";
        assert_eq!(stat_field(line, 3), Some("S"));
        assert_eq!(stat_field(line, 4), Some("1"));
        assert_eq!(stat_field(line, 9), Some("4194560"));
        assert_eq!(stat_field(line, 10), None);
    }
}
