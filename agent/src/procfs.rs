//! Reading `/proc/<pid>/stat`, which the sampler, the stop path, the notify
//! socket and the CLI all need.

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

#[cfg(test)]
mod tests {
    use super::stat_field;

    #[test]
    fn fields_after_an_odd_command_name() {
        let line = "42 (my (weird) app) S 1 42 42 0 -1 4194560";
        assert_eq!(stat_field(line, 3), Some("S"));
        assert_eq!(stat_field(line, 4), Some("1"));
        assert_eq!(stat_field(line, 9), Some("4194560"));
        assert_eq!(stat_field(line, 10), None);
    }
}
