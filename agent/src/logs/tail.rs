//! The last lines of a log file, for `pmr logs` and for the hub's log
//! views when they open.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

/// The last `n` lines of a file, read backwards in blocks so a huge log
/// costs no more than the lines asked for.
pub fn last_lines(path: &str, n: usize) -> std::io::Result<Vec<String>> {
    const BLOCK: u64 = 64 * 1024;
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let mut pos = len;
    let mut tail: Vec<u8> = Vec::new();
    // A file without newlines must not be read whole: stop at 16 MiB.
    while pos > 0 && tail.len() < 16 << 20 && tail.iter().filter(|&&b| b == b'\n').count() <= n {
        let step = BLOCK.min(pos);
        pos -= step;
        f.seek(SeekFrom::Start(pos))?;
        let mut block = vec![0; step as usize];
        f.read_exact(&mut block)?;
        block.extend_from_slice(&tail);
        tail = block;
    }
    // Unless the start of the file was reached, the first line read is cut
    // (by a block boundary, maybe mid-character); it is dropped whenever
    // more than `n` lines were read, i.e. unless the 16 MiB stop came first.
    let text = String::from_utf8_lossy(&tail);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    Ok(lines[start..].iter().map(|s| s.to_string()).collect())
}

/// The whole lines written to a file since it was `from` bytes long (all
/// of it if it is now shorter: it was rotated), at most the last `cap`
/// bytes of them: what a follower missed while its daemon was replaced.
pub fn lines_since(path: &str, from: u64, cap: u64) -> std::io::Result<Vec<String>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    let from = if len < from { 0 } else { from };
    let capped = len.saturating_sub(cap) > from;
    let from = from.max(len.saturating_sub(cap));
    f.seek(SeekFrom::Start(from))?;
    let mut bytes = Vec::new();
    f.take(len - from).read_to_end(&mut bytes)?;
    // Cut by the cap: the first line is not whole. A line still being
    // written comes whole with the stream.
    let start = match bytes.iter().position(|&b| b == b'\n') {
        Some(i) if capped => i + 1,
        _ => 0,
    };
    let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8_lossy(&bytes[start.min(end)..end]);
    Ok(text.lines().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_of_a_big_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let text: String = (0..50_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, text).unwrap();
        let got = last_lines(path.to_str().unwrap(), 3).unwrap();
        assert_eq!(got, ["line 49997", "line 49998", "line 49999"]);
        assert!(last_lines(path.to_str().unwrap(), 0).unwrap().is_empty());
    }

    #[test]
    fn lines_since_an_offset_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let p = path.to_str().unwrap();
        std::fs::write(&path, "a\nb\nc\nhalf").unwrap();
        assert_eq!(lines_since(p, 2, 1 << 20).unwrap(), ["b", "c"]);
        assert_eq!(lines_since(p, 0, 7).unwrap(), ["c"], "capped: whole lines");
        // Shorter than it was: rotated, read from the start.
        assert_eq!(lines_since(p, 100, 1 << 20).unwrap(), ["a", "b", "c"]);
    }
}
