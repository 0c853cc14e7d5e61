//! `GET /api/v1/servers` and `GET /api/v1/servers/{id}`: every server the
//! hub knows (live or only stored) and one connected server in full.

use std::collections::HashSet;
use std::sync::Arc;

use pmr_shared::link::messages::{Host, Proc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiResult;
use super::error::responses as r;
use super::extract::{Json, NoParams, Path, Query};
use super::{ApiError, Caller, schema};
use crate::live::ServerView;
use crate::state::Hub;
use crate::store::ServerRow;

/// A server in the list: identity, connection and host metrics.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ServerSummary {
    /// Server id, stable across reconnections.
    id: i64,
    /// Display name (unique within a bucket only).
    name: String,
    /// Bucket (the key it connects with).
    bucket: String,
    /// The agent's machine id.
    machine_id: String,
    /// Agent release version.
    agent_version: String,
    /// Connected now.
    online: bool,
    /// Last frame or stored activity, Unix ms (hub clock).
    last_seen: i64,
    /// Start of the current (or last) connection, Unix ms; null if not seen since the hub started.
    connected_since: Option<i64>,
    /// Host metrics of the last snapshot; null if not seen since the hub started.
    #[schema(value_type = Option<schema::Host>)]
    host: Option<Host>,
    /// Processes in the last snapshot.
    process_count: usize,
    /// Processes of the last snapshot by status (`online`: 3, `errored`: 1...).
    statuses: std::collections::BTreeMap<String, usize>,
}

impl From<&ServerView> for ServerSummary {
    fn from(s: &ServerView) -> Self {
        Self {
            id: s.id,
            name: s.name.clone(),
            bucket: s.bucket.clone(),
            machine_id: s.machine_id.clone(),
            agent_version: s.agent_version.clone(),
            online: s.online,
            last_seen: s.last_seen,
            connected_since: Some(s.connected_since),
            host: Some(s.host.clone()),
            process_count: s.processes.len(),
            statuses: s.processes.values().fold(Default::default(), |mut m, p| {
                *m.entry(p.status.clone()).or_default() += 1;
                m
            }),
        }
    }
}

impl From<&ServerRow> for ServerSummary {
    fn from(s: &ServerRow) -> Self {
        Self {
            id: s.id,
            name: s.name.clone(),
            bucket: s.bucket.clone(),
            machine_id: s.machine_id.clone(),
            agent_version: s.agent_version.clone(),
            online: false,
            last_seen: s.last_seen,
            connected_since: None,
            host: None,
            process_count: 0,
            statuses: Default::default(),
        }
    }
}

/// One server with its processes.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ServerDetail {
    #[serde(flatten)]
    summary: ServerSummary,
    /// Its processes by ascending `pm_id`.
    #[schema(value_type = Vec<schema::Proc>)]
    processes: Vec<Proc>,
}

/// The `{id}` of `/api/v1/servers/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct ServerId {
    /// Server id (an integer, as `id` in the server list).
    id: i64,
}

/// Lists every server: connected ones first, then those only in the store.
#[utoipa::path(
    get,
    path = "/api/v1/servers",
    tag = "servers",
    params(NoParams),
    responses(
        (status = 200, description = "Every server; those not seen since the hub started are offline with null host", body = Vec<ServerSummary>),
        r::Errors,
    )
)]
pub(super) async fn list_servers(
    axum::extract::State(hub): axum::extract::State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<ServerSummary>>> {
    let live = hub.live.servers();
    let store = hub.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.servers()).await??;
    let live_ids: HashSet<i64> = live.iter().map(|l| l.id).collect();
    let mut out: Vec<ServerSummary> = live.iter().map(ServerSummary::from).collect();
    out.extend(
        stored
            .iter()
            .filter(|s| !live_ids.contains(&s.id))
            .map(ServerSummary::from),
    );
    out.retain(|s| caller.sees(&s.bucket));
    Ok(Json(out))
}

/// One server seen since the hub started, with its processes.
#[utoipa::path(
    get,
    path = "/api/v1/servers/{id}",
    tag = "servers",
    params(ServerId, NoParams),
    responses(
        (status = 200, description = "The server and its processes", body = ServerDetail),
        (status = 404, response = r::NotFound),
        r::Errors,
    )
)]
pub(super) async fn get_server(
    axum::extract::State(hub): axum::extract::State<Arc<Hub>>,
    caller: Caller,
    Path(ServerId { id }): Path<ServerId>,
    _: Query<NoParams>,
) -> ApiResult<Json<ServerDetail>> {
    let s = hub
        .live
        .get(id)
        .filter(|s| caller.sees(&s.bucket))
        .ok_or_else(|| ApiError::not_found("server", id))?;
    Ok(Json(ServerDetail {
        summary: ServerSummary::from(&s),
        processes: s.processes.into_values().collect(),
    }))
}
