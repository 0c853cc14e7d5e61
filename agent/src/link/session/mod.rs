//! One connection to the hub at a time: connect, prove the key, replay what
//! the hub lacks, then stream snapshots and events and run its actions.
//! Between connections: exponential backoff with full jitter, capped.

mod actions;
mod connect;
mod snapshot;
mod stream;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use pmr_shared::ipc::LinkSettings;
use pmr_shared::link::messages::close;
use rustls::ClientConfig;

use super::Port;
use super::{SecretKeyBox, Shared};
use crate::clock::now_ms;
use wire::SessionEnd;

/// Everything needed to connect.
/// Built once by `LinkManager::start` and kept for every reconnection, so a
/// retry never rereads or revalidates the settings.
pub(crate) struct Target {
    /// The hub's URL, the public key and the machine name, as validated.
    pub(crate) settings: LinkSettings,
    /// Signs the handshake; never sent.
    pub(crate) secret: SecretKeyBox,
    /// [`super::settings::machine_id`], read once.
    pub(crate) machine_id: String,
    /// `Some` for `wss://` hubs: the trust chosen in [`super::tls`].
    pub(crate) tls: Option<Arc<ClientConfig>>,
}

/// First wait after a failed attempt; doubled each time.
const BACKOFF_BASE_MS: u64 = 1_000;
/// Longest wait (`PMR_LINK_BACKOFF_MAX_MS` overrides it).
const BACKOFF_CAP_MS: u64 = 60_000;
/// Spread of the first retry after a working session ends.
const RECONNECT_SPREAD_MS: u64 = 5_000;

/// A uniform random number below `n` (jitter).
fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    u64::from_le_bytes(b) % n.max(1)
}

/// Connects, and reconnects, until the link is stopped (the task aborted).
pub(crate) async fn run_forever(port: Port, shared: Arc<Shared>, target: Target) {
    let mut attempt: u32 = 0;
    // Replicas are tried in turn: after any session or attempt ends, the
    // next address (a dead replica's agents spread over the others as
    // their jittered waits end).
    let urls: Vec<String> = super::settings::hub_urls(&target.settings.hub)
        .into_iter()
        .map(String::from)
        .collect();
    let mut next = 0;
    loop {
        let url = &urls[next % urls.len()];
        next += 1;
        let result = session(&port, &shared, &target, url).await;
        let was_connected = {
            let mut st = shared.state();
            let was = st.connected;
            st.connected = false;
            st.since = now_ms() as i64;
            st.last_error = Some(match &result {
                Ok(()) => "the hub closed the connection".into(),
                Err(e) => e.to_string(),
            });
            was
        };
        // Full jitter: a hub restart does not bring every agent back at once.
        // After a working session the first retry is spread over 5 s; a
        // refusal for rate makes the next waits longer.
        let cap = std::env::var("PMR_LINK_BACKOFF_MAX_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(BACKOFF_CAP_MS);
        let ceiling = if was_connected {
            attempt = 0;
            cap.min(RECONNECT_SPREAD_MS)
        } else {
            cap.min(BACKOFF_BASE_MS << attempt.min(16))
        }
        .max(1);
        let busy_ms = shared
            .busy_wait_ms
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        let rate_limited = SessionEnd::Closed {
            code: close::RATE_LIMITED,
        };
        if busy_ms > 0 || result.as_ref().err() == Some(&rate_limited) {
            attempt = attempt.saturating_add(3);
        }
        // A busy hub's Retry-After is a floor, with jitter on top of it.
        let delay = Duration::from_millis(busy_ms + random_below(ceiling) + 100);
        attempt = attempt.saturating_add(1);
        shared.state().next_attempt = Some(now_ms() as i64 + delay.as_millis() as i64);
        tokio::time::sleep(delay).await;
        shared.state().next_attempt = None;
    }
}

/// One connection, until it fails; `Err` says why, for `pmr link status`.
/// `connected` turns true only after the welcome, so a hub that accepts
/// the socket but refuses the key never shows as linked.
async fn session(
    port: &Port,
    shared: &Arc<Shared>,
    t: &Target,
    url: &str,
) -> Result<(), SessionEnd> {
    let (ws, resume) = connect::open(shared, t, url).await?;
    {
        let mut st = shared.state();
        st.connected = true;
        st.since = now_ms() as i64;
        st.last_error = None;
    }
    tracing::info!("linked to {url}");
    stream::run(port, shared, ws, resume).await
}
