//! The last lines written to a log file, each with the time the daemon
//! read it from the app's pipe: what a log view that opens shows first,
//! dated as exactly as the lines that follow it live. Bounded in lines and
//! bytes; the file itself stays the record.

use pmr_shared::sync::Locked;
use std::collections::VecDeque;
use std::sync::Mutex;

/// Most lines kept per file (a file shared by instances shares them).
pub const LINES: usize = 50;
/// Most bytes of lines kept per file.
const BYTES: usize = 16 * 1024;
/// Longest line kept; longer ones are cut on a character boundary.
const LINE: usize = 4096;

/// One kept line.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentLine {
    /// When the daemon read it, Unix ms.
    pub at: u64,
    /// The instance that wrote it.
    pub pm_id: u32,
    /// The line as written to the file, without its newline.
    pub line: String,
}

/// The ring of one file's last lines.
#[derive(Debug, Default)]
pub struct Recent {
    ring: Mutex<Ring>,
}

/// The lines themselves, under the [`Recent`] lock.
#[derive(Debug, Default)]
struct Ring {
    /// Oldest first.
    lines: VecDeque<RecentLine>,
    /// Bytes of text held, kept under [`BYTES`].
    bytes: usize,
}

impl Recent {
    /// Keeps the last lines of `chunk` (whole lines, as written) read at `at`.
    pub fn push(&self, at: u64, pm_id: u32, chunk: &[u8]) {
        let chunk = chunk.strip_suffix(b"\n").unwrap_or(chunk);
        if chunk.is_empty() {
            return;
        }
        // Only the lines that can stay are looked at: a flood costs no more
        // per chunk than the ring holds.
        let mut last: Vec<&[u8]> = chunk.rsplit(|&b| b == b'\n').take(LINES).collect();
        last.reverse();
        let mut r = self.ring.locked();
        for bytes in last {
            // Reuse the oldest line's buffer once the ring is full.
            let mut line = if r.lines.len() >= LINES {
                let old = r.lines.pop_front().map(|l| l.line).unwrap_or_default();
                r.bytes -= old.len();
                old
            } else {
                String::new()
            };
            line.clear();
            let text = String::from_utf8_lossy(bytes);
            line.push_str(cut(&text, LINE));
            r.bytes += line.len();
            r.lines.push_back(RecentLine { at, pm_id, line });
            while r.bytes > BYTES {
                let Some(old) = r.lines.pop_front() else {
                    break;
                };
                r.bytes -= old.line.len();
            }
        }
    }

    /// The last `n` lines kept of instance `pm_id`, oldest first.
    pub fn of(&self, pm_id: u32, n: usize) -> Vec<RecentLine> {
        let r = self.ring.locked();
        let mut out: Vec<RecentLine> = r
            .lines
            .iter()
            .rev()
            .filter(|l| l.pm_id == pm_id)
            .take(n)
            .cloned()
            .collect();
        out.reverse();
        out
    }

    /// Forgets every line (the file was emptied).
    pub fn clear(&self) {
        let mut r = self.ring.locked();
        r.lines.clear();
        r.bytes = 0;
    }
}

/// `s` cut to at most `max` bytes on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[RecentLine]) -> Vec<&str> {
        lines.iter().map(|l| l.line.as_str()).collect()
    }

    #[test]
    fn lines_keep_the_time_they_were_read_and_their_instance() {
        let r = Recent::default();
        r.push(1000, 0, b"a\nb\n");
        r.push(4000, 1, b"other\n");
        r.push(5000, 0, b"c\n");
        let got = r.of(0, 10);
        assert_eq!(texts(&got), ["a", "b", "c"]);
        assert_eq!(
            got.iter().map(|l| l.at).collect::<Vec<_>>(),
            [1000, 1000, 5000]
        );
        assert_eq!(texts(&r.of(0, 2)), ["b", "c"]);
        assert_eq!(texts(&r.of(1, 10)), ["other"]);
        r.clear();
        assert!(r.of(0, 10).is_empty());
    }

    #[test]
    fn bounded_in_lines_and_bytes() {
        let r = Recent::default();
        let flood: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        r.push(1, 0, flood.as_bytes());
        let got = r.of(0, usize::MAX);
        assert_eq!(got.len(), LINES);
        assert_eq!(got.last().unwrap().line, "line 9999");
        let long = "é".repeat(LINE);
        for _ in 0..10 {
            r.push(2, 0, format!("{long}\n").as_bytes());
        }
        let got = r.of(0, usize::MAX);
        let bytes: usize = got.iter().map(|l| l.line.len()).sum();
        assert!(bytes <= BYTES, "{bytes} bytes kept");
        assert!(
            got.iter()
                .all(|l| l.line.len() <= LINE && l.line.starts_with('é'))
        );
    }
}
