//! `GET /api/v1/events`: stored process events, newest first, paged
//! backwards with `before` and the `next_before` cursor.

use std::sync::Arc;

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, responses as r};
use super::extract::{Json, Query};
use super::{ApiError, schema};
use crate::state::Hub;
use crate::store::{EventQuery, EventRow};

/// Page size when `limit` is not given.
pub(super) const DEFAULT_LIMIT: i64 = 100;
/// Largest page.
pub(super) const MAX_LIMIT: i64 = 1000;

/// A page size from `limit`: the default when absent, else 1 to [`MAX_LIMIT`].
pub(super) fn page_size(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "limit: must be from 1 to {MAX_LIMIT}, got {limit}"
        )));
    }
    Ok(limit)
}

/// Filters and paging of `/api/v1/events`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EventFilter {
    /// Only events of this server id (an integer).
    server: Option<i64>,
    /// Only events of this app (exact name).
    app: Option<String>,
    /// Only events with an id below this (an integer): pass the previous
    /// page's `next_before` to get the next, older page.
    #[param(minimum = 1)]
    before: Option<i64>,
    /// Page size, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
}

/// One page of events.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct EventPage {
    /// Events, newest first.
    #[schema(value_type = Vec<schema::Event>)]
    events: Vec<EventRow>,
    /// Cursor for the next (older) page as `before`; null on the last page.
    next_before: Option<i64>,
}

/// Stored events, newest first, one page at a time.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventFilter),
    responses(
        (status = 200, description = "One page of events", body = EventPage),
        r::Errors,
    )
)]
pub(super) async fn list_events(
    State(hub): State<Arc<Hub>>,
    caller: super::Caller,
    Query(f): Query<EventFilter>,
) -> ApiResult<Json<EventPage>> {
    let limit = page_size(f.limit)?;
    if f.before.is_some_and(|b| b < 1) {
        return Err(ApiError::bad_request(
            "before: must be an event id, 1 or more",
        ));
    }
    let q = EventQuery {
        server_id: f.server,
        app: f.app,
        before: f.before,
        limit,
        buckets: caller.buckets,
    };
    let store = hub.store.clone();
    let events = tokio::task::spawn_blocking(move || store.events(&q)).await??;
    // A full page may have more behind it; a short one is the last.
    let next_before = if events.len() as i64 == limit {
        events.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(EventPage {
        events,
        next_before,
    }))
}
