//! Token buckets: one ([`TokenBucket`]) for a session's frames or the
//! refusal log, and one per key ([`RateLimit`]) for handshakes by address
//! and by bucket key.

use pmr_shared::sync::Locked;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// One bucket: at most `burst` tokens, refilled at `per_sec`, starting full.
#[derive(Debug, Clone, Copy)]
pub struct TokenBucket {
    per_sec: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        let burst = burst.max(1.0);
        Self {
            per_sec,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let grown = now.saturating_duration_since(self.at).as_secs_f64() * self.per_sec;
        self.tokens = (self.tokens + grown).min(self.burst);
        self.at = now;
    }

    /// Takes a token; false when none is left.
    pub fn take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket has refilled completely (its user is idle).
    fn is_full(&self, now: Instant) -> bool {
        let mut b = *self;
        b.refill(now);
        b.tokens >= b.burst
    }
}

/// A token bucket per key: `burst` at most, refilled at `per_sec`.
pub struct RateLimit<K> {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, TokenBucket>>,
}

/// Most keys remembered before idle ones are forgotten.
const MAX_KEYS: usize = 100_000;

impl<K: Eq + Hash + Clone> RateLimit<K> {
    /// A limiter allowing `per_sec` on average with bursts of `burst`.
    pub fn new(per_sec: f64, burst: f64) -> Self {
        Self {
            per_sec,
            burst: burst.max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `key`; false when none is left.
    pub fn allow(&self, key: &K) -> bool {
        let now = Instant::now();
        let mut map = self.buckets.locked();
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            // Full of keys (an attack from many addresses): make room by
            // dropping any one entry rather than scanning them all here.
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        let (per_sec, burst) = (self.per_sec, self.burst);
        map.entry(key.clone())
            .or_insert_with(|| TokenBucket::new(per_sec, burst))
            .take(now)
    }

    /// Whether `key` has a token left, without taking it.
    pub fn has(&self, key: &K) -> bool {
        let map = self.buckets.locked();
        map.get(key).is_none_or(|b| {
            let mut b = *b;
            b.refill(Instant::now());
            b.tokens >= 1.0
        })
    }

    /// Forgets keys whose bucket has refilled: they are idle.
    pub fn sweep(&self) {
        let now = Instant::now();
        let mut map = self.buckets.locked();
        map.retain(|_, b| !b.is_full(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refuse() {
        let r = RateLimit::new(0.001, 3.0);
        assert!(r.allow(&1));
        assert!(r.allow(&1));
        assert!(r.allow(&1));
        assert!(!r.allow(&1));
        assert!(r.allow(&2), "keys are independent");
    }
}
