//! `GET /api/v1/changes`: the change feed as server-sent events, for pages
//! and scripts that follow the fleet live. Each change is one event named
//! after its kind with the change as JSON; a client that falls too far
//! behind gets a `resync` event (refetch what it shows, then go on), and a
//! comment every 15 s keeps proxies from closing a quiet stream. Every 15 s
//! the caller's token or session is checked again: a signed-out, removed or
//! expired caller's stream ends. Events carry the live figures a page
//! shows (see [`figures`]); a fleet-wide stream with `every` gets the
//! fleet's figures as one shared digest every 5 s (see [`digest`]).

mod figures;

use crate::ingest::digest;

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use utoipa::IntoParams;

use super::ApiError;
use super::error::{ApiResult, responses as r};
use super::extract::Query;
use crate::ingest::feed::Change;
use crate::state::Hub;

/// How often a stream checks that its caller may still follow it.
const RECHECK: Duration = Duration::from_secs(15);

/// Kinds sent when `kinds` is not given: all but the per-second `sample`.
const DEFAULT_KINDS: &[&str] = &[
    "server_up",
    "server_down",
    "process_status",
    "restart",
    "process_removed",
    "version",
    "event",
    "action_result",
];

/// Which changes to follow.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ChangeFilter {
    /// Only changes of this server id (an integer).
    server: Option<i64>,
    /// Comma-separated kinds: `server_up`, `server_down`, `process_status`,
    /// `restart`, `process_removed`, `version`, `sample`, `event`,
    /// `action_result`; default all but `sample` (one per agent a second).
    kinds: Option<String>,
    /// Samples of one server at most every this many seconds (1 to 60;
    /// default: each one); without `server`, the fleet's figures as one
    /// `figures` digest every 5 s (this rounded up to 5) instead of samples.
    every: Option<u64>,
}

/// What one stream keeps between its events.
struct Follow {
    feed: tokio::sync::broadcast::Receiver<crate::ingest::feed::Item>,
    caller: super::Caller,
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

fn server_of(c: &Change) -> i64 {
    match c {
        Change::ServerUp { server_id, .. }
        | Change::ServerDown { server_id }
        | Change::ProcessStatus { server_id, .. }
        | Change::Restart { server_id, .. }
        | Change::ProcessRemoved { server_id, .. }
        | Change::Version { server_id, .. }
        | Change::Sample { server_id, .. }
        | Change::Event { server_id, .. }
        | Change::ActionResult { server_id, .. } => *server_id,
    }
}

/// Every change from now on, as server-sent events.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "changes",
    params(ChangeFilter),
    responses(
        (status = 200, description = "A stream of server-sent events (`text/event-stream`), not one JSON document: one event per change, named after its kind (`event: restart`), its `data:` line the change as JSON (`{\"type\":\"restart\",\"server_id\":1,...}`), then a blank line; with `kinds` holding `sample`, `every` and no `server`, no `sample` events but `event: figures` every 5 s, `{\"servers\": [sample, ...]}` for the servers whose figures changed; `event: resync` when the client fell behind and must refetch; a `:` comment line every 15 s keeps proxies from closing a quiet stream.", content_type = "text/event-stream", body = String,
            example = json!("event: restart\ndata: {\"type\":\"restart\",\"server_id\":1,\"pm_id\":0,\"app\":\"api\",\"restarts\":3}\n\n")),
        (status = 400, response = r::BadRequest),
        (status = 401, response = r::Unauthorized),
        (status = 500, response = r::Internal),
    )
)]
pub(super) async fn follow_changes(
    State(hub): State<Arc<Hub>>,
    caller: super::Caller,
    Query(f): Query<ChangeFilter>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let kinds: HashSet<String> = match &f.kinds {
        None => DEFAULT_KINDS.iter().map(|k| k.to_string()).collect(),
        Some(list) => list.split(',').map(|k| k.trim().to_string()).collect(),
    };
    let known = ["sample"].iter().chain(DEFAULT_KINDS);
    let known: HashSet<&str> = known.copied().collect();
    if let Some(bad) = kinds.iter().find(|k| !known.contains(k.as_str())) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            format!("kinds: unknown kind `{bad}`"),
        ));
    }
    if f.every.is_some_and(|e| !(1..=60).contains(&e)) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "every: seconds between samples of one server, 1 to 60",
        ));
    }
    // A fleet-wide stream with `every` gets the figures as one shared
    // digest every 5 s (or every `every` rounded up to 5 s), not per sample.
    let fleet_figures = f.every.is_some() && f.server.is_none() && kinds.contains("sample");
    let state = Follow {
        feed: hub.ingest.subscribe(),
        check: tokio::time::Instant::now() + RECHECK,
        pace: figures::Pace::new(f.every.unwrap_or(0)),
        digests: fleet_figures.then(|| hub.figures.subscribe(&hub.live)),
        digest_every: f
            .every
            .unwrap_or(0)
            .div_ceil(digest::PERIOD.as_secs())
            .max(1),
        digests_seen: 0,
        unsent: None,
        caller,
    };
    let stream = futures_util::stream::unfold(state, move |mut st| {
        let (kinds, hub) = (kinds.clone(), hub.clone());
        async move {
            loop {
                let digest = async {
                    match st.digests.as_mut() {
                        Some(rx) => rx.changed().await.is_ok(),
                        None => std::future::pending().await,
                    }
                };
                let has_chunk = st.unsent.is_some();
                // Changes first: a crash never waits behind the figures,
                // which go out in chunks between them.
                let received = tokio::select! {
                    biased;
                    r = st.feed.recv() => r,
                    () = std::future::ready(()), if has_chunk => {
                        let (d, from) = st.unsent.take()?;
                        let caller = &st.caller;
                        let (data, next) = digest::event_data(&d, from, |e| caller.sees(&e.bucket));
                        if next < d.len() {
                            st.unsent = Some((d, next));
                        }
                        let Some(data) = data else {
                            continue;
                        };
                        let event = Event::default().event("figures").data(data);
                        return Some((Ok(event), st));
                    }
                    true = digest => {
                        st.digests_seen += 1;
                        if st.digests_seen % st.digest_every == 0 {
                            // A page still sending an older digest skips
                            // its rest: the newer one has every server in it.
                            let d = st.digests.as_mut()?.borrow_and_update().clone();
                            st.unsent = Some((d, 0));
                        }
                        continue;
                    }
                    () = tokio::time::sleep_until(st.check) => {
                        // Signed out, removed, expired or re-scoped since the
                        // stream began: it ends, or follows the new limits.
                        st.caller = super::auth::recheck(&hub, &st.caller).await.ok()??;
                        st.check += RECHECK;
                        continue;
                    }
                };
                match received {
                    // Fleet-wide figures come from the digest.
                    Ok(c) if st.digests.is_some() && matches!(c.change, Change::Sample { .. }) => {
                        continue;
                    }
                    Ok(c) => {
                        let server = server_of(&c);
                        // A caller limited to some buckets sees only their servers' changes.
                        let visible = st.caller.buckets.is_none()
                            || hub
                                .live
                                .bucket_of(server)
                                .is_some_and(|b| st.caller.sees(&b));
                        if !kinds.contains(c.kind())
                            || f.server.is_some_and(|s| s != server)
                            || !visible
                        {
                            continue;
                        }
                        if matches!(c.change, Change::Sample { .. })
                            && !st.pace.admit(server, crate::clock::now_ms())
                        {
                            continue;
                        }
                        // Encoded once, by the first stream that sends it.
                        let data = c.sse.get_or_init(|| {
                            figures::enrich(&c.change, &hub.live).map(|v| v.to_string())
                        });
                        let Some(data) = data else {
                            continue;
                        };
                        let event = Event::default().event(c.kind()).data(data);
                        return Some((Ok(event), st));
                    }
                    Err(RecvError::Lagged(n)) => {
                        let event = Event::default().event("resync").data(n.to_string());
                        return Some((Ok(event), st));
                    }
                    Err(RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
