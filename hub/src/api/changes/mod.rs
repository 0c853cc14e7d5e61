//! `GET /api/v1/changes`: the change feed as server-sent events, for pages
//! and scripts that follow the fleet live. Each change is one event named
//! after its kind with the change as JSON; a client that falls too far
//! behind gets a `resync` event (refetch what it shows, then go on), and a
//! comment every 15 s keeps proxies from closing a quiet stream. Every 15 s
//! the caller's token or session is checked again: a signed-out, removed or
//! expired caller's stream ends. Events carry the live figures a page
//! shows (see [`figures`]); `every` paces a fleet-wide stream's samples.

mod figures;

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
    /// default: each one), for a page that follows a whole fleet's figures.
    every: Option<u64>,
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
        (status = 200, description = "A stream of server-sent events (`text/event-stream`), not one JSON document: one event per change, named after its kind (`event: restart`), its `data:` line the change as JSON (`{\"type\":\"restart\",\"server_id\":1,...}`), then a blank line; `event: resync` when the client fell behind and must refetch; a `:` comment line every 15 s keeps proxies from closing a quiet stream.", content_type = "text/event-stream", body = String,
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
    let feed = hub.ingest.subscribe();
    let first_check = tokio::time::Instant::now() + RECHECK;
    let pace = figures::Pace::new(f.every.unwrap_or(0));
    let state = (feed, caller, first_check, pace);
    let stream =
        futures_util::stream::unfold(state, move |(mut feed, mut caller, mut check, mut pace)| {
            let (kinds, hub) = (kinds.clone(), hub.clone());
            async move {
                loop {
                    let received = tokio::select! {
                        r = feed.recv() => r,
                        () = tokio::time::sleep_until(check) => {
                            // Signed out, removed, expired or re-scoped since the
                            // stream began: it ends, or follows the new limits.
                            caller = super::auth::recheck(&hub, &caller).await.ok()??;
                            check += RECHECK;
                            continue;
                        }
                    };
                    match received {
                        Ok(c) => {
                            let server = server_of(&c);
                            // A caller limited to some buckets sees only their servers' changes.
                            let visible = caller.buckets.is_none()
                                || hub.live.bucket_of(server).is_some_and(|b| caller.sees(&b));
                            if !kinds.contains(c.kind())
                                || f.server.is_some_and(|s| s != server)
                                || !visible
                            {
                                continue;
                            }
                            if matches!(c, Change::Sample { .. })
                                && !pace.admit(server, crate::clock::now_ms())
                            {
                                continue;
                            }
                            let Some(data) = figures::enrich(&c, &hub.live) else {
                                continue;
                            };
                            let event = Event::default().event(c.kind()).json_data(&data).ok()?;
                            return Some((Ok(event), (feed, caller, check, pace)));
                        }
                        Err(RecvError::Lagged(n)) => {
                            let event = Event::default().event("resync").data(n.to_string());
                            return Some((Ok(event), (feed, caller, check, pace)));
                        }
                        Err(RecvError::Closed) => return None,
                    }
                }
            }
        });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
