//! One change stream: what it keeps between its events ([`Follow`]) and
//! how it picks the next one: a change it may send, a chunk of the fleet's
//! figures, a `resync` after falling behind, or the end when its caller
//! may no longer follow.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use axum::response::sse::Event;
use tokio::sync::broadcast::error::RecvError;

use super::figures;
use crate::ingest::digest;
use crate::ingest::feed::{Change, Item};
use crate::state::Hub;

/// How often a stream checks that its caller may still follow it.
const RECHECK: Duration = Duration::from_secs(15);

/// What one stream keeps between its events.
pub(super) struct Follow {
    hub: Arc<Hub>,
    feed: tokio::sync::broadcast::Receiver<Item>,
    caller: crate::api::Caller,
    /// The kinds asked for.
    kinds: HashSet<String>,
    /// The one server followed, if any.
    server: Option<i64>,
    /// When the caller is checked again.
    check: tokio::time::Instant,
    pace: figures::Pace,
    /// The fleet's figures, for a fleet-wide stream with `every`.
    digests: Option<tokio::sync::watch::Receiver<digest::Digest>>,
    /// One digest in this many is sent.
    digest_every: u64,
    digests_seen: u64,
    /// The digest being sent, and the entry it goes on from.
    unsent: Option<(digest::Digest, usize)>,
}

impl Follow {
    /// A stream of `kinds` (of `server` only, if given), samples at most
    /// every `every` seconds, for `caller`, starting now.
    pub(super) fn new(
        hub: Arc<Hub>,
        caller: crate::api::Caller,
        kinds: HashSet<String>,
        server: Option<i64>,
        every: Option<u64>,
    ) -> Follow {
        // A fleet-wide stream with `every` gets the figures as one shared
        // digest every 5 s (or every `every` rounded up to 5 s), not per sample.
        let fleet_figures = every.is_some() && server.is_none() && kinds.contains("sample");
        Follow {
            feed: hub.ingest.subscribe(),
            check: tokio::time::Instant::now() + RECHECK,
            pace: figures::Pace::new(every.unwrap_or(0)),
            digests: fleet_figures.then(|| hub.figures.subscribe(&hub.live)),
            digest_every: every.unwrap_or(0).div_ceil(digest::PERIOD.as_secs()).max(1),
            digests_seen: 0,
            unsent: None,
            caller,
            kinds,
            server,
            hub,
        }
    }

    /// The next event to send; `None` ends the stream.
    pub(super) async fn next(&mut self) -> Option<Event> {
        loop {
            let digest = async {
                match self.digests.as_mut() {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            let has_chunk = self.unsent.is_some();
            // Changes first: a crash never waits behind the figures,
            // which go out in chunks between them.
            let received = tokio::select! {
                biased;
                r = self.feed.recv() => r,
                () = std::future::ready(()), if has_chunk => {
                    match self.figures_chunk()? {
                        Some(event) => return Some(event),
                        None => continue,
                    }
                }
                true = digest => {
                    self.digests_seen += 1;
                    if self.digests_seen.is_multiple_of(self.digest_every) {
                        // A page still sending an older digest skips
                        // its rest: the newer one has every server in it.
                        let d = self.digests.as_mut()?.borrow_and_update().clone();
                        self.unsent = Some((d, 0));
                    }
                    continue;
                }
                () = tokio::time::sleep_until(self.check) => {
                    // Signed out, removed, expired or re-scoped since the
                    // stream began: it ends, or follows the new limits.
                    self.caller = crate::api::auth::recheck(&self.hub, &self.caller).await.ok()??;
                    self.check += RECHECK;
                    continue;
                }
            };
            match received {
                Ok(c) => {
                    if let Some(event) = self.change_event(&c) {
                        return Some(event);
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    return Some(Event::default().event("resync").data(n.to_string()));
                }
                Err(RecvError::Closed) => return None,
            }
        }
    }

    /// The next chunk of the digest being sent (`Some(None)`: nothing in
    /// it this caller may see); `None` if there is none.
    fn figures_chunk(&mut self) -> Option<Option<Event>> {
        let (d, from) = self.unsent.take()?;
        let caller = &self.caller;
        let (data, next) = digest::event_data(&d, from, |e| caller.sees(&e.bucket));
        if next < d.len() {
            self.unsent = Some((d, next));
        }
        Some(data.map(|data| Event::default().event("figures").data(data)))
    }

    /// The event for change `c`, if this stream sends it: a kind asked
    /// for, of the server followed, in a bucket the caller sees, a sample
    /// only as often as asked (fleet-wide figures come from the digest).
    fn change_event(&mut self, c: &Item) -> Option<Event> {
        let sample = matches!(c.change, Change::Sample { .. });
        if self.digests.is_some() && sample {
            return None;
        }
        let server = c.server_id();
        // A caller limited to some buckets sees only their servers' changes.
        let visible = self.caller.buckets.is_none()
            || self
                .hub
                .live
                .bucket_of(server)
                .is_some_and(|b| self.caller.sees(&b));
        if !self.kinds.contains(c.kind()) || self.server.is_some_and(|s| s != server) || !visible {
            return None;
        }
        if sample && !self.pace.admit(server, crate::clock::now_ms()) {
            return None;
        }
        // Encoded once, by the first stream that sends it.
        let data = c
            .sse
            .get_or_init(|| figures::enrich(&c.change, &self.hub.live).map(|v| v.to_string()));
        Some(Event::default().event(c.kind()).data(data.as_deref()?))
    }
}
