//! `GET /api/v1/processes` (every live process, filtered) and
//! `GET /api/v1/servers/{id}/processes/{pm_id}` (one process with its
//! stored CPU and memory history).

use std::sync::Arc;

use axum::extract::State;
use pmr_shared::link::messages::Proc;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, responses as r};
use super::extract::{Json, Path, Query};
use super::{ApiError, Caller, schema};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{COARSE_SPAN_MS, RollupRow};

/// History older than this is served in 5-minute rows, newer in 10-second ones.
const FINE_HISTORY_MS: i64 = 6 * 3_600_000;

/// Filters of `/api/v1/processes`; all optional, all must match.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ProcFilter {
    /// Only processes of this server: its name or its id (as a string).
    server: Option<String>,
    /// Only processes of this app (exact name).
    app: Option<String>,
    /// Only processes with this pm2 status, e.g. `online`, `stopped`, `errored`.
    status: Option<String>,
}

/// One process in the fleet list: the process and where it runs.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct FleetProcess {
    #[serde(flatten)]
    #[schema(value_type = schema::Proc)]
    process: Proc,
    /// Server name.
    server: String,
    /// Server id.
    server_id: i64,
    /// The server's bucket.
    bucket: String,
    /// Whether the server is connected (when not, this is its last report).
    server_online: bool,
}

/// Every process of every server seen since the hub started, filtered.
#[utoipa::path(
    get,
    path = "/api/v1/processes",
    tag = "processes",
    params(ProcFilter),
    responses(
        (status = 200, description = "Matching processes, by server then `pm_id`", body = Vec<FleetProcess>),
        r::Errors,
    )
)]
pub(super) async fn list_processes(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Query(f): Query<ProcFilter>,
) -> Json<Vec<FleetProcess>> {
    let mut out = Vec::new();
    hub.live.each(|s| {
        if !caller.sees(&s.bucket)
            || f.server
                .as_ref()
                .is_some_and(|w| *w != s.name && *w != s.id.to_string())
        {
            return;
        }
        for p in s.processes.values() {
            if f.app.as_ref().is_some_and(|a| *a != p.name)
                || f.status.as_ref().is_some_and(|st| *st != p.status)
            {
                continue;
            }
            out.push(FleetProcess {
                process: p.clone(),
                server: s.name.clone(),
                server_id: s.id,
                bucket: s.bucket.clone(),
                server_online: s.online,
            });
        }
    });
    Json(out)
}

/// The `{id}` and `{pm_id}` of `/api/v1/servers/{id}/processes/{pm_id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct ProcessId {
    /// Server id (an integer).
    id: i64,
    /// The process's `pm_id` on that server (an integer, 0 to 4294967295).
    pm_id: u32,
}

/// How far back the history of one process goes.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct HistorySince {
    /// Start of the history, Unix ms (integer); default one hour ago. More
    /// than 6 hours back, rows are 5 minutes wide instead of 10 seconds.
    #[param(minimum = 0)]
    since: Option<i64>,
}

/// One process with its history.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ProcessDetail {
    /// Server name.
    server: String,
    /// Server id.
    server_id: i64,
    /// The process as last reported.
    #[schema(value_type = schema::Proc)]
    process: Proc,
    /// Width of the history rows, ms: 10000 or 300000.
    span_ms: i64,
    /// CPU and memory per window since `since`, oldest first.
    #[schema(value_type = Vec<schema::Rollup>)]
    history: Vec<RollupRow>,
}

/// One process of a server seen since the hub started, with its history.
#[utoipa::path(
    get,
    path = "/api/v1/servers/{id}/processes/{pm_id}",
    tag = "processes",
    params(ProcessId, HistorySince),
    responses(
        (status = 200, description = "The process and its history", body = ProcessDetail),
        (status = 404, response = r::NotFound),
        r::Errors,
    )
)]
pub(super) async fn get_process(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Path(ProcessId { id, pm_id }): Path<ProcessId>,
    Query(q): Query<HistorySince>,
) -> ApiResult<Json<ProcessDetail>> {
    if q.since.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request(
            "since: must be a Unix time in ms, 0 or more",
        ));
    }
    let s = hub
        .live
        .get(id)
        .filter(|s| caller.sees(&s.bucket))
        .ok_or_else(|| ApiError::not_found("server", id))?;
    let process = s
        .processes
        .get(&pm_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("process", format!("{pm_id} on server {id}")))?;
    let now = now_ms();
    let since = q.since.unwrap_or(now - 3_600_000);
    let span_ms = if now - since > FINE_HISTORY_MS {
        COARSE_SPAN_MS
    } else {
        10_000
    };
    let store = hub.store.clone();
    let history =
        tokio::task::spawn_blocking(move || store.history(id, i64::from(pm_id), span_ms, since))
            .await??;
    Ok(Json(ProcessDetail {
        server: s.name,
        server_id: s.id,
        process,
        span_ms,
        history,
    }))
}
