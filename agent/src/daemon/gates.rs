//! What lets a request in, and what holds the daemon back: requests in
//! flight (a hand-over waits for them), the hand-over itself, the final
//! stop (nothing new starts), reloads and scales under way (one per app),
//! and the list file each change must reach before it is answered.
//! Their refusals are words only: each has one meaning (the list file not
//! written is `Internal`, a reload under way a `Conflict`), which the
//! handler that asked sets as the reply's kind.

use pmr_shared::sync::Locked;

use super::state::Daemon;

/// Counts one request in flight while it lives.
pub struct Busy<'a>(&'a Daemon);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.in_flight.send_modify(|n| *n -= 1);
    }
}

/// Marks apps as reloading until dropped.
pub struct ReloadGuard<'a> {
    /// Holds the `reloading` set the names are taken out of.
    d: &'a Daemon,
    /// The apps this guard marked.
    names: std::collections::BTreeSet<String>,
}

impl Drop for ReloadGuard<'_> {
    fn drop(&mut self) {
        let mut r = self.d.reloading.locked();
        for n in &self.names {
            r.remove(n);
        }
    }
}

impl Daemon {
    /// Waits (at most 2 s) until the list file holds every change made so
    /// far: what a request changed is on disk before it is answered, so an
    /// app the CLI reported started is known to the next daemon. `Err` says
    /// why the file could not be written (a full disk, no descriptor left).
    pub async fn list_saved(&self) -> Result<(), String> {
        let mut want = 0;
        self.list_wanted.send_modify(|g| {
            *g += 1;
            want = *g;
        });
        let mut written = self.list_written.subscribe();
        let limit = std::time::Duration::from_secs(2);
        match tokio::time::timeout(limit, written.wait_for(|(g, _)| *g >= want)).await {
            Ok(Ok(done)) => done.1.clone().map_or(Ok(()), Err),
            // Slow (a loaded disk): the writer carries on; not a failure.
            _ => Ok(()),
        }
    }

    /// Counts a request as in flight until the guard drops.
    pub fn busy(&self) -> Busy<'_> {
        self.in_flight.send_modify(|n| *n += 1);
        Busy(self)
    }

    /// Whether a hand-over began.
    pub fn is_leaving(&self) -> bool {
        self.leaving.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Takes no new request, and waits (at most `limit`) for those being
    /// answered, so none is cut off by a hand-over.
    pub async fn quiesce(&self, limit: std::time::Duration) {
        self.leaving
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let mut n = self.in_flight.subscribe();
        let _ = tokio::time::timeout(limit, n.wait_for(|n| *n == 0)).await;
    }

    /// Claims `names` for a reload or a scale; refused while one of them
    /// has either under way.
    pub fn begin_reload(
        &self,
        names: &std::collections::BTreeSet<String>,
    ) -> Result<ReloadGuard<'_>, String> {
        let mut r = self.reloading.locked();
        if let Some(busy) = names.iter().find(|n| r.contains(*n)) {
            return Err(format!(
                "a reload or scale of {busy} is already under way; try again once it has finished"
            ));
        }
        r.extend(names.iter().cloned());
        Ok(ReloadGuard {
            d: self,
            names: names.clone(),
        })
    }

    /// True once the daemon has begun stopping every app for good.
    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }
}
