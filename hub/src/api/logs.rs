//! `GET /api/v1/servers/{id}/logs`: a server's output, live, as
//! server-sent events, while the stream is open. Opening the first stream
//! of a server asks its agent for lines; closing the last one stops them.
//! Nothing is stored: a stream starts with what is written from then on.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use pmr_shared::link::messages::LogLine;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, responses as r};
use super::extract::{Path, Query};
use super::{ApiError, Caller};
use crate::state::Hub;

/// How often a stream checks that its caller may still follow it.
const RECHECK: Duration = Duration::from_secs(15);

/// The `{id}` of `/api/v1/servers/{id}/logs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct ServerId {
    /// Server id.
    id: i64,
}

/// Whose output.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct LogFilter {
    /// Only this app (exact name); default every app of the server.
    app: Option<String>,
}

/// One `lines` event.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Lines {
    /// Lines, oldest first: `at` (agent Unix ms), `pm_id`, `app`, `stream` (`out` or `err`), `line`.
    #[schema(value_type = Vec<Object>)]
    lines: Vec<LogLine>,
    /// Lines the agent left out since the previous event (over its rate or
    /// size limits), or batches this stream missed by reading too slowly.
    dropped: u64,
}

/// Follows a server's output (every app, or one) while the stream is open.
#[utoipa::path(
    get,
    path = "/api/v1/servers/{id}/logs",
    tag = "servers",
    params(ServerId, LogFilter),
    responses(
        (status = 200, description = "A stream of server-sent events (`text/event-stream`), not one JSON document. Each event is `event: lines` and a `data:` line holding a `Lines` object (see the `Lines` schema) as JSON, then a blank line; a `:` comment line every 15 s keeps proxies from closing a quiet stream. The agent sends at most 100 lines each 250 ms, each cut to 4 KiB.", content_type = "text/event-stream", body = String,
            example = json!("event: lines\ndata: {\"lines\":[{\"at\":1700000000000,\"pm_id\":0,\"app\":\"api\",\"stream\":\"out\",\"line\":\"listening on 3000\"}],\"dropped\":0}\n\n")),
        (status = 404, response = r::NotFound),
        r::Errors,
    )
)]
pub(super) async fn follow_logs(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Path(ServerId { id }): Path<ServerId>,
    Query(f): Query<LogFilter>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // Servers of buckets the caller may not see do not exist for it.
    if !hub.live.bucket_of(id).is_some_and(|b| caller.sees(&b)) {
        return Err(ApiError::not_found("server", id));
    }
    let viewer = hub.ingest.logs.join(id, f.app.clone());
    let check = tokio::time::Instant::now() + RECHECK;
    let state = (viewer, caller, check);
    let stream = futures_util::stream::unfold(state, move |(mut viewer, mut caller, mut check)| {
        let (hub, app) = (hub.clone(), f.app.clone());
        async move {
            loop {
                let got = tokio::select! {
                    r = viewer.rx.recv() => r,
                    () = tokio::time::sleep_until(check) => {
                        caller = super::auth::recheck(&hub, &caller).await.ok()??;
                        check += RECHECK;
                        continue;
                    }
                };
                let lines = match got {
                    Ok(batch) => Lines {
                        lines: batch
                            .lines
                            .iter()
                            .filter(|l| app.as_ref().is_none_or(|a| *a == l.app))
                            .cloned()
                            .collect(),
                        dropped: batch.dropped,
                    },
                    Err(RecvError::Lagged(n)) => Lines {
                        lines: Vec::new(),
                        dropped: n,
                    },
                    Err(RecvError::Closed) => return None,
                };
                if lines.lines.is_empty() && lines.dropped == 0 {
                    continue;
                }
                let event = Event::default().event("lines").json_data(&lines).ok()?;
                return Some((Ok(event), (viewer, caller, check)));
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
