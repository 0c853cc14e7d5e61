//! Where each request head ends in what a connection has read, so that an
//! upgrade knows how many bytes hyper read past its head (and holds for the
//! websocket): a client that sends the upgrade and a frame in one write
//! must not have the frame's bytes escape the pre-auth read budget.
//!
//! A head ends at its first empty line (`\n\n` or `\n\r\n`, as httparse
//! reads it). The first such end after a head's start is never later than
//! the real one, so the count of bytes past the head is never too small.

use std::collections::VecDeque;

/// Ends remembered at once; more (a body full of blank lines) and the
/// oldest are forgotten, which makes the count an over-estimate, not less.
const ENDS_KEPT: usize = 16;

/// The head tracker of one connection (plaintext, above TLS).
#[derive(Debug)]
pub struct Heads {
    /// Bytes read so far.
    read: u64,
    /// The last two bytes read, the latest last.
    last: [u8; 2],
    /// Offsets just past each empty line seen, oldest first.
    ends: VecDeque<u64>,
    /// The largest offset forgotten from `ends` (0: none).
    lost: u64,
    /// Where the next request's head starts, when known (bodies of known length).
    next_start: Option<u64>,
    /// Where the head of the request being served ends, when known.
    current_end: Option<u64>,
    /// Where the head of the request being served starts, when known.
    current_start: Option<u64>,
    /// False once nothing more needs tracking (an authenticated agent).
    on: bool,
}

impl Default for Heads {
    fn default() -> Self {
        Self {
            read: 0,
            last: [0; 2],
            ends: VecDeque::with_capacity(ENDS_KEPT),
            lost: 0,
            next_start: Some(0),
            current_end: None,
            current_start: None,
            on: true,
        }
    }
}

impl Heads {
    /// Notes bytes the connection read.
    pub fn read(&mut self, bytes: &[u8]) {
        if !self.on {
            self.read += bytes.len() as u64;
            return;
        }
        for &b in bytes {
            self.read += 1;
            let [p2, p1] = self.last;
            if b == b'\n' && (p1 == b'\n' || (p1 == b'\r' && p2 == b'\n')) {
                if self.ends.len() == ENDS_KEPT {
                    self.lost = self.ends.pop_front().unwrap_or(self.lost);
                }
                self.ends.push_back(self.read);
            }
            self.last = [p1, b];
        }
    }

    /// hyper parsed the next request's head; `body` is its body's length on
    /// the wire, `None` when unknown (chunked).
    pub fn request(&mut self, body: Option<u64>) {
        let start = self.next_start.take();
        self.current_start = start;
        self.current_end = start.filter(|s| self.lost <= *s).and_then(|s| {
            while self.ends.front().is_some_and(|e| *e <= s) {
                self.ends.pop_front();
            }
            self.ends.pop_front()
        });
        self.next_start = self.current_end.zip(body).map(|(e, n)| e + n);
    }

    /// Bytes read past the current request's head; when its end is not
    /// known, past its start (or everything read).
    pub fn beyond_head(&self) -> u64 {
        let from = self.current_end.or(self.current_start).unwrap_or(0);
        self.read.saturating_sub(from)
    }

    /// Stops tracking (the connection is an authenticated agent's now).
    pub fn stop(&mut self) {
        self.on = false;
        self.ends.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::Heads;

    fn heads(chunks: &[&[u8]]) -> Heads {
        let mut h = Heads::default();
        for c in chunks {
            h.read(c);
        }
        h
    }

    #[test]
    fn bytes_past_the_head_are_counted_whatever_the_reads() {
        let head = b"GET /agent/v1 HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut all = head.to_vec();
        all.extend_from_slice(&[7u8; 100]);
        for split in [1, 10, head.len() - 1, head.len(), all.len()] {
            let mut h = heads(&[&all[..split], &all[split..]]);
            h.request(Some(0));
            assert_eq!(h.beyond_head(), 100, "split at {split}");
        }
        // Bare LF line ends, as httparse accepts them.
        let mut h = heads(&[b"GET / HTTP/1.1\nHost: x\n\nabc"]);
        h.request(None);
        assert_eq!(h.beyond_head(), 3);
    }

    #[test]
    fn later_requests_start_after_the_body_before_them() {
        let first = b"POST /a HTTP/1.1\r\nContent-Length: 6\r\n\r\n\n\n\n\n\n\n";
        let second = b"GET /agent/v1 HTTP/1.1\r\n\r\nFRAME";
        let mut h = heads(&[first, second]);
        h.request(Some(6));
        h.request(Some(0));
        assert_eq!(h.beyond_head(), 5);
        // After a chunked body the next head's start is unknown: all counts.
        let mut h = heads(&[b"POST /a HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1\r\n\r\nxy"]);
        h.request(None);
        h.request(Some(0));
        assert_eq!(h.beyond_head(), h.read);
    }

    #[test]
    fn forgotten_ends_over_count_rather_than_under() {
        let mut h = heads(&[b"GET / HTTP/1.1\r\n\r\n", &[b'\n'; 64]]);
        h.request(Some(0));
        assert_eq!(h.beyond_head(), h.read, "the head's end was forgotten");
    }
}
