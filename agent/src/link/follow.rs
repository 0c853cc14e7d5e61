//! Live logs for the hub: while the hub asks (someone has a log view open),
//! the session follows the daemon's log bus for the named apps and sends
//! what they write in small batches. The bus never waits for a follower,
//! so the apps' log files are never slowed: a follower that falls behind
//! loses lines, and the next batch says how many. An app that starts being
//! followed first sends the last lines of its log files, so a view that
//! opens is not empty, each dated when the daemon read it from the app
//! (lines the daemon did not read itself, from before `pmr update` or a
//! daemon crash, are dated by their file's last change).

use std::collections::HashSet;

use pmr_shared::link::limits::MAX_LOG_LINE;
use pmr_shared::link::messages::{LogBatch, LogLine};
use tokio::sync::broadcast::{self, error::RecvError};

use crate::logs::LogEvent;

/// Most lines in one batch; batches go at most every [`EVERY`].
pub(super) const BATCH_LINES: usize = 100;
/// Most bytes of lines in one batch.
const BATCH_BYTES: usize = 128 * 1024;
/// Lines of each log file sent when an app starts being followed.
const TAIL_LINES: usize = 20;
/// Instances whose files are read then (the rest only go on live).
const TAIL_INSTANCES: usize = 8;
/// How often a batch may go.
pub(super) const EVERY: std::time::Duration = std::time::Duration::from_millis(250);

/// What the hub asked to follow, and the batch being filled.
#[derive(Default)]
pub(super) struct Follow {
    /// App names the hub follows; `*` for all.
    apps: HashSet<String>,
    /// The daemon's log bus, subscribed only while something is followed.
    rx: Option<broadcast::Receiver<LogEvent>>,
    /// Lines waiting for the next [`EVERY`] tick.
    batch: LogBatch,
    /// Bytes of line text in `batch`, kept under [`BATCH_BYTES`].
    bytes: usize,
}

impl Follow {
    /// Follows `apps` (`*`: all) from now on; an empty list stops.
    pub(super) fn set(
        &mut self,
        port: &super::Port,
        list: Vec<pmr_shared::app::ProcessInfo>,
        apps: Vec<String>,
    ) {
        let before = std::mem::replace(&mut self.apps, apps.into_iter().collect());
        let new = |name: &str| {
            let now = self.apps.contains("*") || self.apps.contains(name);
            let was = before.contains("*") || before.contains(name);
            now && !was
        };
        let tails: Vec<_> = list
            .into_iter()
            .filter(|p| new(&p.spec.name))
            .take(TAIL_INSTANCES)
            .collect();
        for p in tails {
            for (path, stream) in [(&p.out_log, "out"), (&p.err_log, "err")] {
                self.tail(port, p.pm_id, &p.spec.name, path, stream);
            }
        }
        if self.apps.is_empty() {
            self.rx = None;
            self.batch = LogBatch::default();
            self.bytes = 0;
        } else if self.rx.is_none() {
            self.rx = Some(port.logs.subscribe());
        }
    }

    /// The last lines one instance wrote to one log file, each dated when
    /// the daemon read it; read from the file, dated by its last change,
    /// when the daemon kept none (it began after they were written).
    fn tail(
        &mut self,
        port: &super::Port,
        pm_id: u32,
        app: &str,
        path: &str,
        stream: &'static str,
    ) {
        if crate::logs::is_null_path(path) {
            return;
        }
        let kept = (port.recent)(path, pm_id, TAIL_LINES).unwrap_or_default();
        let lines: Vec<(i64, String)> = if kept.is_empty() {
            let at = std::fs::metadata(path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_millis() as i64);
            let lines = crate::logs::tail::last_lines(path, TAIL_LINES).unwrap_or_default();
            lines.into_iter().map(|l| (at, l)).collect()
        } else {
            kept.into_iter().map(|l| (l.at as i64, l.line)).collect()
        };
        for (at, line) in lines {
            let line = clean(&line);
            if self.batch.lines.len() >= BATCH_LINES || self.bytes + line.len() > BATCH_BYTES {
                return;
            }
            self.bytes += line.len();
            self.batch.lines.push(LogLine {
                at,
                pm_id,
                app: app.to_string(),
                stream: stream.to_string(),
                line,
            });
        }
    }

    /// Whether the hub wants lines.
    pub(super) fn active(&self) -> bool {
        self.rx.is_some()
    }

    /// The next chunk from the bus; never resolves while not following.
    pub(super) async fn next(&mut self) -> Result<LogEvent, RecvError> {
        match &mut self.rx {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    }

    /// Takes a chunk (or the news that some were missed) into the batch.
    pub(super) fn absorb(&mut self, ev: Result<LogEvent, RecvError>) {
        let ev = match ev {
            Ok(ev) => ev,
            // The bus drops chunks, not lines: one chunk is counted as one line.
            Err(RecvError::Lagged(n)) => return self.batch.dropped += n,
            Err(RecvError::Closed) => return self.rx = None,
        };
        if !self.apps.contains("*") && !self.apps.contains(&*ev.name) {
            return;
        }
        let at = ev.at as i64;
        for line in ev.data.lines() {
            let line = clean(line);
            if self.batch.lines.len() >= BATCH_LINES || self.bytes + line.len() > BATCH_BYTES {
                self.batch.dropped += 1;
                continue;
            }
            self.bytes += line.len();
            self.batch.lines.push(LogLine {
                at,
                pm_id: ev.pm_id,
                app: ev.name.to_string(),
                stream: ev.stream.to_string(),
                line,
            });
        }
    }

    /// The batch to send, if it holds anything.
    pub(super) fn take(&mut self) -> Option<LogBatch> {
        if self.batch.lines.is_empty() && self.batch.dropped == 0 {
            return None;
        }
        self.bytes = 0;
        Some(std::mem::take(&mut self.batch))
    }
}

/// A line as the hub accepts it: colour codes and other control characters
/// (but tabs) removed, cut to [`MAX_LOG_LINE`] bytes on a character boundary.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len().min(MAX_LOG_LINE));
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            // A CSI sequence: parameters up to a final byte in @..~.
            chars.next();
            for f in chars.by_ref() {
                if ('@'..='~').contains(&f) {
                    break;
                }
            }
            continue;
        }
        if c.is_control() && c != '\t' {
            continue;
        }
        if out.len() + c.len_utf8() > MAX_LOG_LINE {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_codes_and_control_characters_go_long_lines_are_cut() {
        assert_eq!(clean("\u{1b}[31merror\u{1b}[0m\tdone\r"), "error\tdone");
        assert_eq!(clean("a\u{7}b"), "ab");
        let long = "é".repeat(MAX_LOG_LINE);
        let cut = clean(&long);
        assert!(cut.len() <= MAX_LOG_LINE && cut.chars().all(|c| c == 'é'));
    }
}
