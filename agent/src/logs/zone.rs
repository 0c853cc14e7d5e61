//! pm2-logrotate's `TZ`: the date in rotated names in a named time zone.
//! The offset is asked of the system's `date`, which reads the tz database
//! (pmr carries none), and kept for a minute: rotations are rare, and a
//! scheduled one rotates every log at the same moment.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::FixedOffset;
use pmr_shared::sync::Locked;

/// Where the tz database lives (`TZDIR`, as the C library reads it).
fn tz_dir() -> std::path::PathBuf {
    std::env::var_os("TZDIR").map_or_else(|| "/usr/share/zoneinfo".into(), Into::into)
}

/// Names of UTC itself, which need no look-up.
fn is_utc(tz: &str) -> bool {
    matches!(
        tz,
        "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT" | "Z" | "Etc/Universal"
    )
}

/// Checks a time zone name: empty (the system's), UTC, or a zone of the
/// tz database (`Europe/Paris`, `Etc/GMT+1`). `Err` is the reason, shown
/// as a bad setting; no caller branches on it, hence a `String`.
pub fn check(tz: &str) -> Result<(), String> {
    if tz.is_empty() || is_utc(tz) {
        return Ok(());
    }
    let plain = tz
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'));
    if !plain || tz.starts_with('/') || tz.split('/').any(|p| p.is_empty() || p == "..") {
        return Err(format!(
            "{tz:?} is not a time zone name (Europe/Paris, UTC)"
        ));
    }
    if !tz_dir().join(tz).is_file() {
        return Err(format!(
            "{tz:?} is not in the time zone database ({})",
            tz_dir().display()
        ));
    }
    ask(tz).map(|_| ())
}

/// The offset of `tz` from UTC now; `None` for the system's zone (empty),
/// or when it cannot be known (then the system's is used).
pub fn offset(tz: &str) -> Option<FixedOffset> {
    if tz.is_empty() {
        return None;
    }
    if is_utc(tz) {
        return FixedOffset::east_opt(0);
    }
    // The last answer, for a minute: asking costs a `date` process, and an
    // offset changes only at a daylight-saving switch.
    static LAST: Mutex<Option<(String, Instant, FixedOffset)>> = Mutex::new(None);
    let mut last = LAST.locked();
    if let Some((name, at, off)) = last.as_ref()
        && name == tz
        && at.elapsed() < Duration::from_secs(60)
    {
        return Some(*off);
    }
    let off = ask(tz).ok()?;
    *last = Some((tz.to_string(), Instant::now(), off));
    Some(off)
}

/// `TZ=<tz> date +%z`, read as an offset.
fn ask(tz: &str) -> Result<FixedOffset, String> {
    let out = std::process::Command::new("date")
        .arg("+%z")
        .env("TZ", format!(":{tz}"))
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run date to read the offset of {tz}: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    parse_offset(text.trim()).ok_or_else(|| format!("date gave no offset for {tz}: {text:?}"))
}

/// `+0100`, `-0330` → an offset.
fn parse_offset(text: &str) -> Option<FixedOffset> {
    let (sign, digits) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_names() {
        assert_eq!(parse_offset("+0130"), FixedOffset::east_opt(5400));
        assert_eq!(parse_offset("-0500"), FixedOffset::east_opt(-18000));
        assert_eq!(parse_offset("0500"), None);
        assert!(check("").is_ok() && check("UTC").is_ok());
        assert!(check("../etc/passwd").is_err());
        assert!(check("Mars/Olympus").is_err());
    }
}
