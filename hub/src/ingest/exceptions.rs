//! Exception groups: an `exception` event's detail (message first, then
//! the stack) is grouped by app, message (digits folded, so ids and counts
//! do not split a group) and top frame.

use sha2::{Digest, Sha256};

/// What an exception is grouped by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grouping {
    /// The group's key, 16 hex digits.
    pub key: String,
    /// The message: the detail's first line.
    pub message: String,
    /// The top frame, as written; "" when there is none.
    pub frame: String,
}

fn frame_of(lines: &[&str]) -> String {
    // Node and Java: the first `at` line. Python: the last `File` line
    // (the innermost call). Rust and Go: the line after `panicked`/`goroutine`.
    if let Some(l) = lines.iter().find(|l| l.trim_start().starts_with("at ")) {
        return l.trim().to_string();
    }
    if let Some(l) = lines
        .iter()
        .rev()
        .find(|l| l.trim_start().starts_with("File \""))
    {
        return l.trim().to_string();
    }
    lines
        .iter()
        .find(|l| l.contains(" panicked at ") || l.starts_with("goroutine "))
        .map(|l| l.trim().to_string())
        .unwrap_or_default()
}

/// Folds each run of digits to `0`.
fn fold_digits(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_digits = false;
    for c in s.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('0');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// The group of an exception of `app` with this detail.
pub fn group(app: &str, detail: &str) -> Grouping {
    let lines: Vec<&str> = detail.lines().collect();
    let message: String = lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .map_or("exception", |l| l.trim())
        .chars()
        .take(300)
        .collect();
    let frame: String = frame_of(&lines).chars().take(300).collect();
    let mut h = Sha256::new();
    for part in [app, &fold_digits(&message), &fold_digits(&frame)] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    Grouping {
        key: pmr_shared::link::handshake::hex(&h.finalize()[..8]),
        message,
        frame,
    }
}

#[cfg(test)]
mod tests {
    use super::group;

    #[test]
    fn same_message_and_frame_group_together_ids_aside() {
        let a = group(
            "api",
            "Error: user 12 not found\n    at find (/app/u.js:3:9)\n    at main",
        );
        let b = group(
            "api",
            "Error: user 7 not found\n    at find (/app/u.js:3:9)\n    at other",
        );
        assert_eq!(a.key, b.key);
        assert_eq!(a.message, "Error: user 12 not found");
        assert_eq!(a.frame, "at find (/app/u.js:3:9)");
        let other_place = group(
            "api",
            "Error: user 12 not found\n    at load (/app/v.js:9:1)",
        );
        assert_ne!(a.key, other_place.key);
        assert_ne!(
            a.key,
            group(
                "web",
                "Error: user 12 not found\n    at find (/app/u.js:3:9)"
            )
            .key
        );
        let py = group(
            "w",
            "ZeroDivisionError: division by zero\nTraceback (most recent call last):\n  File \"/a.py\", line 9, in <module>\n  File \"/b.py\", line 2, in f",
        );
        assert_eq!(py.frame, "File \"/b.py\", line 2, in f");
    }
}
