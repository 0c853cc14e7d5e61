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
    let text = String::from_utf8_lossy(&tail);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    Ok(lines[start..].iter().map(|s| s.to_string()).collect())
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
}
