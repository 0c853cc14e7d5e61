//! `/api/v1/alerts`: alerts pending or firing now and those that fired;
//! rules in [`rules`], receivers and deliveries in [`receivers`]. Viewers
//! see the alerts of their buckets; operators mute rules; admins without
//! bucket limits manage rules and receivers.

pub(super) mod receivers;
pub(super) mod rules;

use std::sync::Arc;

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::Caller;
use super::error::{ApiResult, responses as r};
use super::extract::{Json, NoParams, Query};
use crate::alerts::engine::Alert;
use crate::state::Hub;
use crate::store::AlertRow;

fn visible(caller: &Caller, labels: impl Fn(&str) -> Option<String>) -> bool {
    caller.buckets.is_none() || labels("bucket").is_some_and(|b| caller.sees(&b))
}

/// Alerts pending or firing now, firing first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "alerts",
    params(NoParams),
    responses(
        (status = 200, description = "Alerts now", body = Vec<Alert>),
        r::Errors,
    )
)]
pub(super) async fn list_alerts(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> Json<Vec<Alert>> {
    let mut all: Vec<Alert> = hub
        .alerts
        .alerts()
        .into_iter()
        .filter(|a| visible(&caller, |k| a.labels.get(k).cloned()))
        .collect();
    all.sort_by_key(|a| {
        (
            a.state != crate::alerts::engine::AlertState::Firing,
            -a.active_since,
        )
    });
    Json(all)
}

/// How many history lines.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct HistoryFilter {
    /// Lines, newest first, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
}

/// Alerts that fired, newest first, with when they resolved.
#[utoipa::path(
    get,
    path = "/api/v1/alerts/history",
    tag = "alerts",
    params(HistoryFilter),
    responses(
        (status = 200, description = "Alerts that fired", body = Vec<AlertRow>),
        r::Errors,
    )
)]
pub(super) async fn alert_history(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Query(f): Query<HistoryFilter>,
) -> ApiResult<Json<Vec<AlertRow>>> {
    let limit = super::events::page_size(f.limit)?;
    let store = hub.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.alert_history(limit)).await??;
    Ok(Json(
        rows.into_iter()
            .filter(|a| visible(&caller, |k| a.labels[k].as_str().map(String::from)))
            .collect(),
    ))
}
