//! Polling with a bound, for every test crate that starts real processes:
//! the agent's integration tests and the end-to-end tests use this one
//! copy, so a hang fails the same way (and after the same time) everywhere.

use std::time::{Duration, Instant};

/// Generous bound so a broken build fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(50);

/// Polls `f` until it returns `Some`, panicking after [`PATIENCE`].
pub fn wait_until<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_for(what, PATIENCE, f)
}

/// [`wait_until`] with its own bound, for what takes time by design.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_the_first_some() {
        let mut n = 0;
        assert_eq!(
            wait_until("three polls", || {
                n += 1;
                (n == 3).then_some(n)
            }),
            3
        );
    }

    #[test]
    #[should_panic(expected = "timed out waiting for nothing")]
    fn panics_after_the_bound() {
        wait_for("nothing", Duration::from_millis(10), || None::<()>);
    }
}
