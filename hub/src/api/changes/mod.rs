//! `GET /api/v1/changes`: the change feed as server-sent events, for pages
//! and scripts that follow the fleet live. Each change is one event named
//! after its kind with the change as JSON; a client that falls too far
//! behind gets a `resync` event (refetch what it shows, then go on), and a
//! comment every 15 s keeps proxies from closing a quiet stream. Every 15 s
//! the caller's token or session is checked again: a signed-out, removed or
//! expired caller's stream ends. Events carry the live figures a page
//! shows (see [`figures`]); a fleet-wide stream with `every` gets the
//! fleet's figures as one shared digest every 5 s (see [`crate::ingest::digest`]).

mod figures;
mod stream;

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiError;
use super::error::{ApiResult, responses as r};
use super::extract::{Json, NoParams, Query};
use crate::ingest::feed::Change;
use crate::state::Hub;

/// The kind a stream leaves out unless asked: one per agent a second.
const NOT_BY_DEFAULT: &str = "sample";

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

/// Every change from now on, as server-sent events.
#[utoipa::path(
    get,
    path = "/api/v1/changes",
    tag = "changes",
    params(ChangeFilter),
    responses(
        (status = 200, description = "A stream of server-sent events (`text/event-stream`), not one JSON document: one event per change, named after its kind (`event: restart`), its `data:` line the change as JSON (`{\"type\":\"restart\",\"server_id\":1,...}`), then a blank line; with `kinds` holding `sample`, `every` and no `server`, no `sample` events but `event: figures` every 5 s, `{\"servers\": [sample, ...]}` for the servers whose figures changed; `event: resync` when the client fell behind and must refetch; a `:` comment line every 15 s keeps proxies from closing a quiet stream.", content_type = "text/event-stream", body = String,
            example = json!("event: restart\ndata: {\"type\":\"restart\",\"server_id\":1,\"pm_id\":0,\"app\":\"api\",\"restarts\":3}\n\n")),
        r::Errors,
    )
)]
pub(super) async fn follow_changes(
    State(hub): State<Arc<Hub>>,
    caller: super::Caller,
    Query(f): Query<ChangeFilter>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let kinds: HashSet<String> = match &f.kinds {
        None => default_kinds().map(String::from).collect(),
        Some(list) => list.split(',').map(|k| k.trim().to_string()).collect(),
    };
    if let Some(bad) = kinds.iter().find(|k| !Change::KINDS.contains(&k.as_str())) {
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
    let state = stream::Follow::new(hub, caller, kinds, f.server, f.every);
    let stream = futures_util::stream::unfold(state, |mut st| async move {
        let event = st.next().await?;
        Some((Ok(event), st))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The kinds a stream sends when `kinds` is not given.
fn default_kinds() -> impl Iterator<Item = &'static str> {
    Change::KINDS
        .iter()
        .copied()
        .filter(|k| *k != NOT_BY_DEFAULT)
}

/// The kinds of change `/api/v1/changes` sends, so a client (the
/// dashboard) names them without a copy of the list.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ChangeKinds {
    /// Every kind, each an event name and a value of `kinds`.
    #[schema(example = json!(["server_up", "server_down", "process_status", "restart", "process_removed", "version", "sample", "event", "action_result"]))]
    kinds: Vec<&'static str>,
    /// The kinds sent when `kinds` is not given (all but `sample`).
    default: Vec<&'static str>,
}

/// The kinds of change the stream sends.
#[utoipa::path(
    get,
    path = "/api/v1/changes/kinds",
    tag = "changes",
    params(NoParams),
    responses(
        (status = 200, description = "The kinds of change", body = ChangeKinds),
        r::Errors,
    )
)]
pub(super) async fn change_kinds(
    _: super::Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<ChangeKinds>> {
    Ok(Json(ChangeKinds {
        kinds: Change::KINDS.to_vec(),
        default: default_kinds().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use crate::ingest::feed::Change;

    #[test]
    fn the_documented_kinds_are_the_feeds_kinds() {
        let d = crate::api::openapi();
        let op = &d["paths"]["/api/v1/changes"]["get"];
        let kinds = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "kinds")
            .unwrap();
        let text = kinds["description"].as_str().unwrap();
        for k in Change::KINDS {
            assert!(text.contains(&format!("`{k}`")), "{k} is not documented");
        }
        let documented = text.matches('`').count() / 2;
        assert_eq!(documented, Change::KINDS.len() + 1, "{text}");
    }
}
