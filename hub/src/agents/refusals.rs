//! Refused handshakes: counted in `/metrics` by reason, and logged with the
//! source address and reason at most [`LINES_PER_SEC`] lines a second (with
//! a count of the lines left out), so a flood cannot flood the log too.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Instant;

use pmr_shared::sync::Locked;

use crate::metrics::Metrics;
use crate::ratelimit::TokenBucket;

/// Log lines about refusals per second, on average.
pub const LINES_PER_SEC: f64 = 5.0;
/// Lines that may come at once.
const BURST: f64 = 20.0;

/// The refusal log's budget, and the lines it left out since the last one.
pub struct Refusals {
    state: Mutex<(TokenBucket, u64)>,
}

impl Default for Refusals {
    fn default() -> Self {
        Self {
            state: Mutex::new((TokenBucket::new(LINES_PER_SEC, BURST), 0)),
        }
    }
}

impl Refusals {
    /// Counts a refusal and logs it if the budget allows.
    pub fn note(&self, metrics: &Metrics, peer: SocketAddr, reason: &str, detail: &str) {
        metrics
            .handshake_failures
            .with_label_values(&[reason])
            .inc();
        let mut s = self.state.locked();
        let (bucket, suppressed) = &mut *s;
        if !bucket.take(Instant::now()) {
            *suppressed += 1;
            return;
        }
        let left_out = std::mem::take(suppressed);
        drop(s);
        let detail = escape(detail);
        // Escaped here, written as is (`%`): the log escapes nothing twice.
        if left_out > 0 {
            tracing::warn!(%peer, reason, %detail, left_out, "agent handshake refused");
        } else {
            tracing::warn!(%peer, reason, %detail, "agent handshake refused");
        }
    }
}

/// An agent-supplied text made safe for a log line: control characters,
/// quotes and backslashes escaped, at most 200 characters.
pub fn escape(s: &str) -> String {
    let mut out: String = s.chars().take(200).flat_map(char::escape_debug).collect();
    if s.chars().nth(200).is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escape_leaves_no_line_break() {
        let e = super::escape("web\n2026-12-01T00:00:00Z  INFO forged\r\u{1b}[2J");
        assert!(
            !e.contains('\n') && !e.contains('\r') && !e.contains('\u{1b}'),
            "{e}"
        );
        assert!(e.starts_with("web\\n"));
    }
}
