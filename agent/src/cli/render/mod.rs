//! Text output of the command line, as pm2 prints it: box-drawn tables
//! ([`table()`]), the process table of `pmr list` ([`process_table`]), the
//! `describe` sheet ([`describe()`]), `prettylist`'s `util.inspect` layout
//! ([`inspect()`]), and the human forms of durations and sizes here.

mod describe;
mod inspect;
mod list;
mod table;

use std::io::IsTerminal;

use pmr_shared::app::Status;

pub(crate) use describe::{describe, metric_text};
pub(crate) use inspect::inspect;
pub(crate) use list::process_table;
pub(crate) use table::table;

/// Whether to colour output.
pub(crate) fn color(no_color: bool) -> bool {
    !no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
}

/// `text` in an ANSI colour when `on` (see [`color`]).
fn paint(on: bool, code: &str, text: &str) -> String {
    if on {
        format!("\x1b[{code}m{text}\x1b[39m")
    } else {
        text.to_string()
    }
}

/// pm2's uptime form: `12s`, `5m`, `3h`, `2D`.
pub(crate) fn uptime(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86_400 => format!("{}h", s / 3600),
        _ => format!("{}D", s / 86_400),
    }
}

/// pm2's memory form: `0b`, `512.0kb`, `40.1mb`, `1.2gb`.
pub(crate) fn bytes(n: u64) -> String {
    /// Decimal units, largest first, as pm2 prints them.
    const UNITS: [(&str, f64); 3] = [("gb", 1e9), ("mb", 1e6), ("kb", 1e3)];
    let mut f = n as f64;
    for (unit, size) in UNITS {
        if f >= size {
            f /= size;
            return format!("{f:.1}{unit}");
        }
    }
    f = f.max(0.0);
    format!("{f}b")
}

/// A status in pm2's colour: green online, grey stopped, red errored.
fn status_cell(s: Status, on: bool) -> String {
    let code = match s {
        Status::Online => "32;1",
        Status::Stopped | Status::Stopping => "90;1",
        Status::Errored => "31;1",
        Status::Launching | Status::WaitingRestart => "34;1",
    };
    paint(on, code, s.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_forms() {
        assert_eq!(uptime(59_000), "59s");
        assert_eq!(uptime(61_000), "1m");
        assert_eq!(uptime(7_200_000), "2h");
        assert_eq!(uptime(200_000_000), "2D");
        assert_eq!(bytes(0), "0b");
        assert_eq!(bytes(40_100_000), "40.1mb");
    }
}
