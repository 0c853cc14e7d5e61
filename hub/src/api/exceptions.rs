//! `GET /api/v1/exceptions`: exceptions of apps grouped across the fleet
//! (message and top frame), with counts, first and last seen, servers,
//! revisions and the latest occurrence's stack and error lines.

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::Caller;
use super::error::{ApiResult, responses as r};
use super::extract::{Json, Query};
use crate::state::Hub;
use crate::store::ExceptionRow;

/// Which groups.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ExceptionFilter {
    /// Only this app (exact name).
    app: Option<String>,
    /// Groups, the most recently seen first, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
}

/// Exception groups, the most recently seen first.
#[utoipa::path(
    get,
    path = "/api/v1/exceptions",
    tag = "alerts",
    params(ExceptionFilter),
    responses(
        (status = 200, description = "Exception groups", body = Vec<ExceptionRow>),
        r::Errors,
    )
)]
pub(super) async fn list_exceptions(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Query(f): Query<ExceptionFilter>,
) -> ApiResult<Json<Vec<ExceptionRow>>> {
    let limit = super::events::page_size(f.limit)?;
    let store = hub.store.clone();
    // Read more than asked when filtering, then keep what the caller sees.
    let rows =
        tokio::task::spawn_blocking(move || store.exception_groups(limit.max(1000))).await??;
    Ok(Json(
        rows.into_iter()
            .filter(|g| f.app.as_ref().is_none_or(|a| *a == g.app))
            .filter(|g| caller.buckets.is_none() || g.buckets.iter().any(|b| caller.sees(b)))
            .take(limit as usize)
            .collect(),
    ))
}
