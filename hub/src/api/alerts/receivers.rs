//! `/api/v1/receivers` (admins without bucket limits): where notifications
//! go. A webhook's signing secret is answered once, at creation; URLs and
//! secrets are stored sealed. `POST .../test` sends a test notification
//! through the real delivery path; `GET /api/v1/deliveries` is the log.

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiResult, responses as r};
use super::super::extract::{Json, NoParams, Path, Query};
use super::super::{ApiError, Caller};
use crate::alerts::deliver::Attempt;
use crate::alerts::receiver::{ReceiverKind, ReceiverSpec};
use crate::alerts::{Target, receiver_spec};
use crate::clock::now_ms;
use crate::http::addr::PeerAddr;
use crate::state::Hub;
use crate::store::{DeliveryRow, ReceiverRow, StoreError, Write, Written};

/// A receiver as listed: its settings and host, never its URL's path or secret.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Receiver {
    /// Row id.
    id: i64,
    /// Settings.
    #[serde(flatten)]
    spec: ReceiverSpec,
    /// Scheme and host it posts to.
    host: String,
    /// Unix ms.
    created_at: i64,
}

/// A new receiver: the secret, for webhooks, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedReceiver {
    /// The receiver.
    receiver: Receiver,
    /// The HMAC-SHA256 key of `X-Pmr-Signature` (webhooks), hex; shown once.
    secret: Option<String>,
}

/// One attempt of a test send.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TestAttempt {
    /// 1 for the first.
    attempt: u32,
    /// `delivered`, `retrying` or `failed`.
    outcome: String,
    /// The receiver's HTTP status.
    http_status: Option<u16>,
    /// Time, ms.
    latency_ms: i64,
    /// What went wrong.
    error: Option<String>,
}

impl From<Attempt> for TestAttempt {
    fn from(a: Attempt) -> Self {
        TestAttempt {
            attempt: a.attempt,
            outcome: a.outcome.into(),
            http_status: a.http_status,
            latency_ms: a.latency_ms,
            error: a.error,
        }
    }
}

/// The `{id}` of a receiver.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct ReceiverId {
    /// The receiver's id.
    id: i64,
}

fn listed(row: ReceiverRow) -> Option<Receiver> {
    Some(Receiver {
        id: row.id,
        spec: receiver_spec(&row).ok()?,
        host: row.host,
        created_at: row.created_at,
    })
}

async fn rows(hub: &Arc<Hub>) -> ApiResult<Vec<ReceiverRow>> {
    let store = hub.store.clone();
    Ok(tokio::task::spawn_blocking(move || store.receivers()).await??)
}

/// Every receiver.
#[utoipa::path(
    get,
    path = "/api/v1/receivers",
    tag = "alerts",
    params(NoParams),
    responses(
        (status = 200, description = "Receivers, oldest first", body = Vec<Receiver>),
        r::Guarded,
    )
)]
pub(crate) async fn list_receivers(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<Receiver>>> {
    super::super::admin::require_fleet_admin(&caller, "receivers")?;
    Ok(Json(
        rows(&hub).await?.into_iter().filter_map(listed).collect(),
    ))
}

/// Creates a receiver: the body is its settings plus `url` (admins
/// without bucket limits).
#[utoipa::path(
    post,
    path = "/api/v1/receivers",
    tag = "alerts",
    params(NoParams),
    request_body(content = ReceiverSpec, description = "The settings, plus `url`: where to POST"),
    responses(
        (status = 201, description = "The receiver and, for a webhook, its secret (once)", body = CreatedReceiver),
        (status = 409, response = r::Conflict),
        r::Guarded, r::BodyErrors,
    )
)]
pub(crate) async fn create_receiver(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    Json(mut v): Json<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<CreatedReceiver>)> {
    super::super::admin::require_fleet_admin(&caller, "receivers")?;
    let url = match v.as_object_mut().map(|o| o.remove("url")) {
        None => return Err(ApiError::invalid_checked("a receiver is a JSON object")),
        Some(Some(serde_json::Value::String(u))) => u,
        Some(Some(_)) => return Err(ApiError::invalid("url", "a string")),
        Some(None) => return Err(ApiError::invalid("url", "required")),
    };
    let spec = ReceiverSpec::parse(v)?;
    let host = crate::alerts::host_of(&url, spec.kind)?;
    let secret = (spec.kind == ReceiverKind::Webhook).then(|| {
        let mut raw = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
        pmr_shared::link::handshake::hex(&raw)
    });
    let sealed = hub
        .alerts
        .seal(&Target {
            url,
            secret: secret.clone(),
        })
        .map_err(ApiError::internal)?;
    let w = Write::CreateReceiver {
        name: spec.name.clone(),
        kind: spec.kind.as_str().into(),
        spec: serde_json::to_string(&spec)?,
        sealed,
        host: host.clone(),
        now: now_ms(),
    };
    let id = match hub.admin.write(w).await {
        Ok(Written::Id(id)) => id,
        Err(StoreError::Conflict(_)) => {
            let msg = format!("a receiver named {} exists already", spec.name);
            return Err(ApiError::new(StatusCode::CONFLICT, msg));
        }
        Ok(other) => return Err(ApiError::internal(format!("the store answered {other:?}"))),
        Err(e) => return Err(e.into()),
    };
    hub.alerts.reload();
    let what = format!("{} ({}, {host})", spec.name, spec.kind.as_str());
    super::super::admin::record(&hub, &caller, addr.ip(), "receiver:create", &what).await;
    let receiver = Receiver {
        id,
        spec,
        host,
        created_at: now_ms(),
    };
    Ok((
        StatusCode::CREATED,
        Json(CreatedReceiver { receiver, secret }),
    ))
}

/// Deletes a receiver (admins without bucket limits); one a rule sends
/// to is refused (409) until the rule changes.
#[utoipa::path(
    delete,
    path = "/api/v1/receivers/{id}",
    tag = "alerts",
    params(ReceiverId, NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = r::NotFound),
        (status = 409, response = r::Conflict),
        r::Guarded,
    )
)]
pub(crate) async fn delete_receiver(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(ReceiverId { id }): Path<ReceiverId>,
    _: Query<NoParams>,
) -> ApiResult<StatusCode> {
    super::super::admin::require_fleet_admin(&caller, "receivers")?;
    let row = hub.store.receivers()?.into_iter().find(|r| r.id == id);
    let name = row
        .and_then(|r| crate::alerts::receiver_spec(&r).ok())
        .map(|s| s.name);
    if let Some(name) = name {
        let file = hub.config.alert_rules_file.as_deref();
        let users = crate::alerts::rules_using(hub.store.as_ref(), file, &name)
            .map_err(ApiError::internal)?;
        if !users.is_empty() {
            let msg = format!(
                "receiver {name} is named by rule(s) {}: change them first",
                users.join(", ")
            );
            return Err(ApiError::new(StatusCode::CONFLICT, msg));
        }
    }
    if hub.admin.write(Write::DeleteReceiver { id }).await? != Written::Rows(1) {
        return Err(ApiError::not_found("receiver", id));
    }
    hub.alerts.reload();
    super::super::admin::record(&hub, &caller, addr.ip(), "receiver:delete", &id.to_string()).await;
    Ok(StatusCode::NO_CONTENT)
}

/// How long a test send may take, retries and waits included: no attempt
/// or wait runs past it, so its answer always comes.
const TEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(12);

/// Sends a test notification now, through the real delivery path, with the
/// receiver's attempts that fit in 12 s; the attempts (admins without
/// bucket limits).
#[utoipa::path(
    post,
    path = "/api/v1/receivers/{id}/test",
    tag = "alerts",
    params(ReceiverId, NoParams),
    responses(
        (status = 200, description = "Every attempt (those of the receiver's that fit in 12 s)", body = Vec<TestAttempt>),
        (status = 404, response = r::NotFound),
        r::Guarded,
    )
)]
pub(crate) async fn test_receiver(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Path(ReceiverId { id }): Path<ReceiverId>,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<TestAttempt>>> {
    super::super::admin::require_fleet_admin(&caller, "receivers")?;
    let row = rows(&hub)
        .await?
        .into_iter()
        .find(|r| r.id == id)
        .ok_or_else(|| ApiError::not_found("receiver", id))?;
    let url = crate::link_line::target(hub.store.as_ref(), &hub.config)
        .url
        .replacen("ws", "http", 1);
    let name = receiver_spec(&row).map_err(ApiError::internal)?.name;
    let n = crate::alerts::test_notification(id, &name, &url, &caller.name);
    let attempts = crate::alerts::send_now(&hub, &row, &n, Some(TEST_BUDGET))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(attempts.into_iter().map(TestAttempt::from).collect()))
}

/// How many log lines.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryFilter {
    /// Lines, newest first, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
}

/// The delivery log: every attempt, newest first (admins without bucket limits).
#[utoipa::path(
    get,
    path = "/api/v1/deliveries",
    tag = "alerts",
    params(DeliveryFilter),
    responses(
        (status = 200, description = "Attempts, newest first", body = Vec<DeliveryRow>),
        r::Guarded,
    )
)]
pub(crate) async fn list_deliveries(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Query(f): Query<DeliveryFilter>,
) -> ApiResult<Json<Vec<DeliveryRow>>> {
    super::super::admin::require_fleet_admin(&caller, "deliveries")?;
    let limit = super::super::events::page_size(f.limit)?;
    let store = hub.store.clone();
    Ok(Json(
        tokio::task::spawn_blocking(move || store.deliveries(limit)).await??,
    ))
}
