//! Token buckets keyed by client address or key, for handshakes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket per key: `burst` at most, refilled at `per_sec`.
pub struct RateLimit<K> {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<K, (f64, Instant)>>,
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
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_KEYS && !map.contains_key(key) {
            // Full of keys (an attack from many addresses): make room by
            // dropping any one entry rather than scanning them all here.
            if let Some(k) = map.keys().next().cloned() {
                map.remove(&k);
            }
        }
        let (tokens, at) = map.entry(key.clone()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_sec).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets keys whose bucket has refilled: they are idle.
    pub fn sweep(&self) {
        let now = Instant::now();
        let (per_sec, burst) = (self.per_sec, self.burst);
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, (tokens, at)| {
            *tokens + now.duration_since(*at).as_secs_f64() * per_sec < burst
        });
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
