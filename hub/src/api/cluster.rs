//! `GET /api/v1/cluster`: the hub's replicas, which one holds the
//! once-only lease and how many agents each holds (one, on SQLite).

use std::sync::Arc;

use axum::extract::State;

use super::Caller;
use super::error::{ApiError, ApiResult, responses as r};
use super::extract::{Json, NoParams, Query};
use crate::access::Role;
use crate::cluster::status::Status;
use crate::state::Hub;

/// The replicas, the oldest first (admins without bucket limits).
#[utoipa::path(
    get,
    path = "/api/v1/cluster",
    tag = "operations",
    params(NoParams),
    responses(
        (status = 200, description = "The store and every replica seen within the hour", body = Status),
        r::Guarded,
    )
)]
pub(super) async fn cluster(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Status>> {
    caller.require(Role::Admin)?;
    // It counts the agents of every bucket.
    if caller.buckets.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "the replicas hold agents of every bucket: this needs an admin without bucket limits",
        ));
    }
    let status = hub
        .cluster
        .status(&hub.live)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(status))
}
