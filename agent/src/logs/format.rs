//! How captured lines are written: pm2's JSON records (`log_type: json`)
//! or plain lines behind a date stamp (`log_date_format`). The CLI formats
//! lines it reads back (`pmr logs --json`) the same way.

/// pm2's `log_type: json` records: message, timestamp, type, process_id, app_name.
/// `fmt` is a chrono format (already converted from dayjs); without one the
/// stamp is RFC 3339 in local time with milliseconds. Every line of one
/// chunk gets the same stamp: the time it was read, not written.
pub fn json_lines(
    lines: &[u8],
    fmt: Option<&str>,
    app: &str,
    pm_id: u32,
    stream: &'static str,
) -> Vec<u8> {
    let now = chrono::Local::now();
    let stamp = match fmt {
        Some(f) => now.format(f).to_string(),
        None => now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
    };
    let mut out = Vec::with_capacity(lines.len() * 2);
    for line in lines.split_inclusive(|&b| b == b'\n') {
        let message = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line));
        let record = serde_json::json!({
            "message": message,
            "timestamp": stamp,
            "type": stream,
            "process_id": pm_id,
            "app_name": app,
        });
        if serde_json::to_writer(&mut out, &record).is_ok() {
            out.push(b'\n');
        }
    }
    out
}

/// Each line behind the same `<date>: ` stamp (`log_date_format`).
pub(super) fn prefix_lines(lines: &[u8], fmt: &str) -> Vec<u8> {
    let stamp = chrono::Local::now().format(fmt).to_string();
    let count = lines.iter().filter(|&&b| b == b'\n').count().max(1);
    let mut out = Vec::with_capacity(lines.len() + count * (stamp.len() + 2));
    for line in lines.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(stamp.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_every_line() {
        let out = prefix_lines(b"a\nb\n", "X");
        assert_eq!(out, b"X: a\nX: b\n");
    }

    #[test]
    fn json_records_one_per_line() {
        let out = json_lines(b"a\nb\n", Some("X"), "app", 3, "err");
        let text = String::from_utf8(out).unwrap();
        let recs: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1]["message"], "b");
        assert_eq!(recs[1]["timestamp"], "X");
        assert_eq!(recs[1]["process_id"], 3);
        assert_eq!(recs[1]["type"], "err");
    }
}
