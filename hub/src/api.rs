//! `/api/v1`: JSON over the live state and the store. Every route needs an
//! API token (`Authorization: Bearer ...`) until the dashboard's users exist.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use pmr_shared::link::messages::{ActionRequest, HubMsg, RemoteAction};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::{ActionRow, EventQuery, StoreError};
use crate::{Hub, now_ms};

/// An API failure with its status; 5xx details are logged, not returned.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError(StatusCode::NOT_FOUND, "not found".into()),
            StoreError::Conflict(m) => ApiError(StatusCode::CONFLICT, m),
            StoreError::Other(e) => {
                tracing::error!("store error: {e:#}");
                ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
            }
        }
    }
}

impl From<tokio::task::JoinError> for ApiError {
    fn from(e: tokio::task::JoinError) -> Self {
        tracing::error!("task failed: {e}");
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into())
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// Who is calling: the token's name.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// Hash under which a token is stored: the hub never keeps the token itself.
pub fn token_hash(token: &str) -> String {
    pmr_shared::link::handshake::hex(&Sha256::digest(token.as_bytes()))
}

async fn auth(State(hub): State<Arc<Hub>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or("");
    if token.is_empty() {
        return ApiError(StatusCode::UNAUTHORIZED, "missing API token".into()).into_response();
    }
    // Looking up by hash compares no secret bytes, so timing tells nothing.
    let hash = token_hash(token);
    let store = hub.store.clone();
    match tokio::task::spawn_blocking(move || store.token_name(&hash)).await {
        Ok(Ok(Some(name))) => {
            req.extensions_mut().insert(Caller(name));
            next.run(req).await
        }
        Ok(Ok(None)) => {
            ApiError(StatusCode::UNAUTHORIZED, "unknown API token".into()).into_response()
        }
        _ => ApiError(StatusCode::INTERNAL_SERVER_ERROR, "internal error".into()).into_response(),
    }
}

/// The API routes, behind token authentication.
pub fn router(hub: Arc<Hub>) -> Router<Arc<Hub>> {
    Router::new()
        .route("/api/v1/servers", get(servers))
        .route("/api/v1/servers/{id}", get(server))
        .route("/api/v1/processes", get(processes))
        .route("/api/v1/servers/{id}/processes/{pm_id}", get(process))
        .route("/api/v1/events", get(events))
        .route("/api/v1/versions", get(versions))
        .route("/api/v1/actions", post(create_action))
        .route("/api/v1/actions/{id}", get(action))
        .layer(middleware::from_fn_with_state(hub, auth))
}

fn server_json(s: &crate::live::ServerView) -> Value {
    json!({
        "id": s.id,
        "name": s.name,
        "bucket": s.bucket,
        "machine_id": s.machine_id,
        "agent_version": s.agent_version,
        "online": s.online,
        "last_seen": s.last_seen,
        "connected_since": s.connected_since,
        "host": s.host,
        "process_count": s.processes.len(),
    })
}

async fn servers(State(hub): State<Arc<Hub>>) -> ApiResult<Json<Value>> {
    let live = hub.live.servers();
    let store = hub.store.clone();
    let stored = tokio::task::spawn_blocking(move || store.servers()).await??;
    // Servers known from the store but not seen since the hub started are offline.
    let mut out: Vec<Value> = live.iter().map(server_json).collect();
    let live_ids: std::collections::HashSet<i64> = live.iter().map(|l| l.id).collect();
    for s in stored.iter().filter(|s| !live_ids.contains(&s.id)) {
        out.push(json!({
            "id": s.id, "name": s.name, "bucket": s.bucket, "machine_id": s.machine_id,
            "agent_version": s.agent_version, "online": false, "last_seen": s.last_seen,
            "connected_since": null, "host": null, "process_count": 0,
        }));
    }
    Ok(Json(Value::Array(out)))
}

async fn server(State(hub): State<Arc<Hub>>, Path(id): Path<i64>) -> ApiResult<Json<Value>> {
    let s = hub
        .live
        .get(id)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "no such server".into()))?;
    let mut v = server_json(&s);
    v["processes"] =
        serde_json::to_value(s.processes.values().collect::<Vec<_>>()).unwrap_or_default();
    Ok(Json(v))
}

#[derive(Debug, Deserialize)]
struct ProcFilter {
    server: Option<String>,
    app: Option<String>,
    status: Option<String>,
}

async fn processes(State(hub): State<Arc<Hub>>, Query(f): Query<ProcFilter>) -> Json<Value> {
    let mut out = Vec::new();
    hub.live.each(|s| {
        if f.server
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
            let mut v = serde_json::to_value(p).unwrap_or_default();
            v["server"] = json!(s.name);
            v["server_id"] = json!(s.id);
            v["bucket"] = json!(s.bucket);
            v["server_online"] = json!(s.online);
            out.push(v);
        }
    });
    Json(Value::Array(out))
}

#[derive(Debug, Deserialize)]
struct AppFilter {
    app: Option<String>,
}

/// Which revision of each app runs on which server, and where they differ.
async fn versions(State(hub): State<Arc<Hub>>, Query(f): Query<AppFilter>) -> Json<Value> {
    let mut by_app: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    hub.live.each(|s| {
        for p in s.processes.values() {
            if f.app.as_ref().is_some_and(|a| *a != p.name) {
                continue;
            }
            let entry = json!({
                "server": s.name,
                "server_id": s.id,
                "pm_id": p.pm_id,
                "versioning": p.versioning,
            });
            by_app.entry(p.name.clone()).or_default().push(entry);
        }
    });
    let out: Vec<Value> = by_app
        .into_iter()
        .map(|(app, runs)| {
            let mut revisions: Vec<&Value> = runs.iter().map(|r| &r["versioning"]["revision"]).collect();
            revisions.sort_by_key(|v| v.to_string());
            revisions.dedup();
            json!({ "app": app, "revisions": revisions.len(), "differs": revisions.len() > 1, "instances": runs })
        })
        .collect();
    Json(Value::Array(out))
}

#[derive(Debug, Deserialize)]
struct Since {
    since: Option<i64>,
}

async fn process(
    State(hub): State<Arc<Hub>>,
    Path((id, pm_id)): Path<(i64, u32)>,
    Query(q): Query<Since>,
) -> ApiResult<Json<Value>> {
    let s = hub
        .live
        .get(id)
        .ok_or(ApiError(StatusCode::NOT_FOUND, "no such server".into()))?;
    let p = s
        .processes
        .get(&pm_id)
        .cloned()
        .ok_or(ApiError(StatusCode::NOT_FOUND, "no such process".into()))?;
    let since = q.since.unwrap_or_else(|| now_ms() - 3_600_000);
    // Up to 6 hours back in 10-second rows, further in 5-minute ones.
    let span = if now_ms() - since > 6 * 3_600_000 {
        crate::store::COARSE_SPAN_MS
    } else {
        10_000
    };
    let store = hub.store.clone();
    let history =
        tokio::task::spawn_blocking(move || store.history(id, i64::from(pm_id), span, since))
            .await??;
    Ok(Json(
        json!({ "server": s.name, "server_id": s.id, "process": p, "span_ms": span, "history": history }),
    ))
}

#[derive(Debug, Deserialize)]
struct EventFilter {
    server: Option<i64>,
    app: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

async fn events(
    State(hub): State<Arc<Hub>>,
    Query(f): Query<EventFilter>,
) -> ApiResult<Json<Value>> {
    let limit = f.limit.unwrap_or(100).clamp(1, 1000);
    let q = EventQuery {
        server_id: f.server,
        app: f.app,
        before: f.before,
        limit,
    };
    let store = hub.store.clone();
    let rows = tokio::task::spawn_blocking(move || store.events(&q)).await??;
    let next = if rows.len() as i64 == limit {
        rows.last().map(|r| r.id)
    } else {
        None
    };
    Ok(Json(json!({ "events": rows, "next_before": next })))
}

#[derive(Debug, Deserialize)]
struct NewAction {
    /// Server id or name.
    server: Value,
    action: RemoteAction,
    #[serde(default)]
    targets: Vec<String>,
    #[serde(default)]
    params: Value,
    /// Wait (up to 30 s) for the result instead of returning at once.
    #[serde(default)]
    wait: bool,
}

async fn create_action(
    State(hub): State<Arc<Hub>>,
    Extension(caller): Extension<Caller>,
    Json(a): Json<NewAction>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let servers = hub.live.servers();
    let matching: Vec<&crate::live::ServerView> = servers
        .iter()
        .filter(|s| match &a.server {
            Value::Number(n) => n.as_i64() == Some(s.id),
            Value::String(t) => *t == s.name || *t == s.id.to_string(),
            _ => false,
        })
        .collect();
    let target = match matching.as_slice() {
        [] => return Err(ApiError(StatusCode::NOT_FOUND, "no such server".into())),
        [one] => *one,
        _ => {
            return Err(ApiError(
                StatusCode::CONFLICT,
                "several servers have that name (in different buckets): use its id".into(),
            ));
        }
    };
    if !target.online {
        return Err(ApiError(
            StatusCode::CONFLICT,
            format!("server {} is offline", target.name),
        ));
    }
    if a.targets.is_empty() && !matches!(a.action, RemoteAction::Flush) {
        return Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            "targets: name at least one app, id, namespace or `all`".into(),
        ));
    }
    let mut raw = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let id = format!("a-{}", pmr_shared::link::handshake::hex(&raw));
    let row = ActionRow {
        id: id.clone(),
        server_id: target.id,
        action: serde_json::to_value(a.action)?
            .as_str()
            .unwrap_or_default()
            .to_string(),
        targets: a.targets.join(","),
        requested_by: caller.0,
        requested_at: now_ms(),
        finished_at: None,
        ok: None,
        message: None,
    };
    let store = hub.store.clone();
    tokio::task::spawn_blocking(move || store.insert_action(&row)).await??;
    let msg = HubMsg::Action(ActionRequest {
        id: id.clone(),
        action: a.action,
        targets: a.targets,
        params: a.params,
    });
    let Some(done) = hub.live.send_action(target.id, msg, id.clone()) else {
        return Err(ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent's queue is full or it just left".into(),
        ));
    };
    if !a.wait {
        hub.live.forget_action(target.id, &id);
        return Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "id": id, "status": "sent" })),
        ));
    }
    match tokio::time::timeout(Duration::from_secs(30), done).await {
        Ok(Ok(r)) => Ok((
            StatusCode::OK,
            Json(json!({ "id": id, "status": "done", "ok": r.ok, "message": r.message })),
        )),
        _ => {
            hub.live.forget_action(target.id, &id);
            Ok((
                StatusCode::ACCEPTED,
                Json(json!({ "id": id, "status": "sent" })),
            ))
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(e: serde_json::Error) -> Self {
        ApiError(StatusCode::BAD_REQUEST, e.to_string())
    }
}

async fn action(State(hub): State<Arc<Hub>>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let store = hub.store.clone();
    let row = tokio::task::spawn_blocking(move || store.action(&id)).await??;
    Ok(Json(serde_json::to_value(row)?))
}
