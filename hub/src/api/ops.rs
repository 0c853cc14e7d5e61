//! The routes for operators and their tools rather than for the API's
//! data: liveness, readiness, Prometheus metrics, and the agents' websocket
//! door (described here so the document names every route the hub serves;
//! its protocol is in docs/protocol.md).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::error::ErrorBody;
use super::extract::{NoParams, Query};
use crate::http::error_response;
use crate::state::Hub;

/// Liveness: the process answers HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    params(NoParams),
    responses(
        (status = 200, description = "`ok`", content_type = "text/plain", body = String),
        (status = 400, description = "A query parameter (none are taken)", body = ErrorBody),
    )
)]
pub(crate) async fn healthz(_: Query<NoParams>) -> &'static str {
    "ok"
}

/// Readiness: the store answers too (and, for a replica, the shared
/// database). The first line says `ready`; the next say which replica
/// this is, who holds the once-only lease and how many agents it holds.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    params(NoParams),
    responses(
        (status = 200, description = "`ready`, then `replica: …`, `lease: held` (or `lease: elsewhere`), `agents: N` lines", content_type = "text/plain", body = String),
        (status = 400, description = "A query parameter (none are taken)", body = ErrorBody),
        (status = 503, description = "The store does not answer", body = ErrorBody),
    )
)]
pub(crate) async fn readyz(State(hub): State<Arc<Hub>>, _: Query<NoParams>) -> Response {
    if !hub.admin.alive() {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "the store writer stopped");
    }
    if !hub.cluster.ready() {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database does not answer",
        );
    }
    let store = hub.store.clone();
    match tokio::task::spawn_blocking(move || store.hub_id()).await {
        Ok(Ok(_)) => format!(
            "ready\nreplica: {}\nlease: {}\nagents: {}\n",
            hub.cluster.id,
            if hub.cluster.holds_lease() {
                "held"
            } else {
                "elsewhere"
            },
            hub.live.connected()
        )
        .into_response(),
        _ => error_response(StatusCode::SERVICE_UNAVAILABLE, "the store does not answer"),
    }
}

/// Prometheus text: the hub's own metrics and one series set per process.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    description = "Open by default, as Prometheus exporters are. With `metrics_token` set it asks \
        for `Authorization: Bearer <metrics_token>`; with `metrics_listen` set it is served on \
        that address instead of this port.",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics_token` is set and was not given", body = ErrorBody),
    )
)]
pub(crate) async fn metrics(State(hub): State<Arc<Hub>>, req: Request) -> Response {
    if hub.config.metrics_listen.is_some() {
        return error_response(
            StatusCode::NOT_FOUND,
            "/metrics is served on the metrics_listen address",
        );
    }
    metrics_here(State(hub), req).await
}

/// `/metrics` itself, on whichever listener serves it.
pub(crate) async fn metrics_here(State(hub): State<Arc<Hub>>, req: Request) -> Response {
    if let Some(want) = &hub.config.metrics_token {
        let given = crate::http::bearer(req.headers()).unwrap_or("");
        let same: bool = subtle::ConstantTimeEq::ct_eq(given.as_bytes(), want.as_bytes()).into();
        if !same {
            let mut r = error_response(StatusCode::UNAUTHORIZED, "/metrics needs its bearer token");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        hub.metrics.render(&hub.live, hub.config.max_series),
    )
        .into_response()
}
