//! `POST /api/v1/actions` (ask a server's agent to restart, stop, scale, ...
//! some apps) and `GET /api/v1/actions/{id}` (what became of it).

mod answer;
mod outcome;
mod verb;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use pmr_shared::link::messages::{ActionRequest, HubMsg};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use self::verb::{ServerRef, Verb};
use super::error::{ApiResult, responses as r};
use super::extract::{Json, NoParams, Path, Query};
use super::{ApiError, Caller, schema};
use crate::access::Role;
use crate::clock::now_ms;
use crate::http::addr::PeerAddr;
use crate::live::ServerView;
use crate::state::Hub;
use crate::store::AuditRow;
use crate::store::{ActionRow, Write};
use axum::extract::ConnectInfo;

/// The body of `POST /api/v1/actions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewAction {
    /// The server: its id, or its name when unique across buckets.
    server: ServerRef,
    /// What to do.
    action: Verb,
    /// Apps to act on: names, pm_ids, namespaces, `/regex/` or `all`; at
    /// least one except for `flush`.
    #[serde(default)]
    targets: Vec<String>,
    /// Parameters of the verb, any JSON: the instance count for `scale`
    /// (e.g. `3`), the action name and argument for `trigger`; else omitted.
    #[serde(default)]
    params: Value,
    /// Wait up to 30 s for the agent's answer instead of returning at once.
    #[serde(default)]
    wait: bool,
}

/// Whether the action only went out or already came back.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum ActionState {
    /// Sent to the agent; poll `GET /api/v1/actions/{id}` for the result.
    Sent,
    /// The agent answered; `ok` and `message` hold the outcome.
    Done,
}

/// The answer to `POST /api/v1/actions`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct ActionTicket {
    /// Action id, for `GET /api/v1/actions/{id}`.
    id: String,
    /// Sent, or done (only with `wait`).
    status: ActionState,
    /// Outcome, when done; absent when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    ok: Option<bool>,
    /// The agent's message, when done; absent when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    message: Option<String>,
    /// The outcome in one sentence ("api restarted on web-1: 1 instance,
    /// new pid 2841"), when done; absent when sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    summary: Option<String>,
}

impl ActionTicket {
    /// Sent, not answered (yet).
    fn sent(id: String) -> Self {
        Self {
            id,
            status: ActionState::Sent,
            ok: None,
            message: None,
            summary: None,
        }
    }
}

/// Writes one audit line; a failed write is logged, never the caller's
/// error (the action itself may already be on its way).
pub(super) async fn audit(hub: &Hub, mut row: AuditRow, result: String) {
    row.at = now_ms();
    row.result = result;
    if let Err(e) = hub.admin.write(Write::Audit(row)).await {
        tracing::warn!("cannot write the audit log: {e}");
    }
}

/// Sends an action to one connected server's agent.
#[utoipa::path(
    post,
    path = "/api/v1/actions",
    tag = "actions",
    params(NoParams),
    request_body = NewAction,
    responses(
        (status = 200, description = "Done: with `wait`, the agent answered in time", body = ActionTicket),
        (status = 202, description = "Sent: without `wait`, or the agent did not answer in 30 s", body = ActionTicket),
        (status = 404, response = r::NotFound),
        (status = 409, response = r::Conflict),
        (status = 503, response = r::Unavailable),
        r::Guarded, r::BodyErrors,
    )
)]
pub(super) async fn create_action(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    Json(a): Json<NewAction>,
) -> ApiResult<(StatusCode, Json<ActionTicket>)> {
    let verb = serde_json::to_value(a.action)?;
    let verb = verb.as_str().unwrap_or_default().to_string();
    let mut line = AuditRow {
        at: 0,
        actor: caller.name.clone(),
        address: addr.ip().to_string(),
        action: format!("action:{verb}"),
        target: format!("{} on {}", a.targets.join(","), a.server),
        result: String::new(),
    };
    if let Err(e) = caller.require(Role::Operator) {
        let why = format!(
            "refused: needs the operator role, {} has {}",
            caller.name,
            caller.role.as_str()
        );
        audit(&hub, line, why).await;
        return Err(e);
    }
    let target = pick_server(&hub, &caller, &a.server)?;
    if !target.online {
        let msg = format!("server {} is offline: the action was not sent", target.name);
        audit(&hub, line, format!("not sent: {} is offline", target.name)).await;
        return Err(ApiError::new(StatusCode::CONFLICT, msg));
    }
    if a.targets.is_empty() && !matches!(a.action, Verb::Flush) {
        return Err(ApiError::invalid(
            "targets",
            "name at least one app, id, namespace or `all`",
        ));
    }
    if a.targets.len() > 1 && matches!(a.action, Verb::Flush) {
        return Err(ApiError::invalid(
            "targets",
            "flush empties the logs of one app, or of every app with no target",
        ));
    }
    let a_targets = a.targets.join(",");
    let wait = a.wait;
    let (id, sent) = send(&hub, &caller, &target, &verb, a).await?;
    line.target = format!("{} on {}: {}", id, target.name, a_targets);
    // The audit line says how the action ended, once the agent answered.
    let Some(done) = sent else {
        let why = "not sent: the agent's queue is full or it just left".to_string();
        audit(&hub, line, why).await;
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent's queue is full or it just left: retry",
        ));
    };
    let pending = answer::Pending {
        id,
        server_id: target.id,
        server: target.name,
        verb,
        targets: a_targets,
        line,
    };
    Ok(answer::answer(hub, pending, done, wait).await)
}

/// The one server `named` among those the caller sees (others do not
/// exist for it): 404 if none, 409 if its name is not unique.
fn pick_server(hub: &Hub, caller: &Caller, named: &ServerRef) -> ApiResult<ServerView> {
    let matching: Vec<ServerView> = hub
        .live
        .servers()
        .into_iter()
        .filter(|s| caller.sees(&s.bucket) && named.matches(s))
        .collect();
    match <[ServerView; 1]>::try_from(matching) {
        Ok([one]) => Ok(one),
        Err(v) if v.is_empty() => Err(ApiError::not_found("server", named)),
        Err(_) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "several servers have that name (in different buckets): use its id",
        )),
    }
}

/// Records action `a` and hands it to `target`'s session; its id, and the
/// agent's answer to come (`None`: not sent, the queue is full or the
/// agent just left).
async fn send(
    hub: &Hub,
    caller: &Caller,
    target: &ServerView,
    verb: &str,
    a: NewAction,
) -> ApiResult<(String, Option<answer::Done>)> {
    let mut raw = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let id = format!("a-{}", pmr_shared::link::handshake::hex(&raw));
    let row = ActionRow {
        id: id.clone(),
        server_id: target.id,
        action: verb.to_string(),
        targets: a.targets.join(","),
        requested_by: caller.name.clone(),
        requested_at: now_ms(),
        finished_at: None,
        ok: None,
        message: None,
    };
    hub.admin.write(Write::InsertAction(row)).await?;
    let msg = HubMsg::Action(ActionRequest {
        id: id.clone(),
        action: a.action.into(),
        targets: a.targets,
        params: a.params,
        by: Some(caller.name.clone()),
    });
    // An agent another replica holds gets the action through that replica.
    let sent = match &target.holder {
        Some(holder) => {
            crate::cluster::relay::relay_action(hub, holder, target.id, msg, id.clone()).await
        }
        None => hub.live.send_action(target.id, msg, id.clone()),
    };
    Ok((id, sent))
}

/// A server's bucket, from the live state or, for one not seen since the
/// hub started, the store.
async fn server_bucket(hub: &Arc<Hub>, id: i64) -> ApiResult<Option<String>> {
    if let Some(b) = hub.live.bucket_of(id) {
        return Ok(Some(b));
    }
    let store = hub.store.clone();
    let all = tokio::task::spawn_blocking(move || store.servers()).await??;
    Ok(all.into_iter().find(|s| s.id == id).map(|s| s.bucket))
}

/// The `{id}` of `/api/v1/actions/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct ActionId {
    /// Action id as returned by `POST /api/v1/actions`.
    id: String,
}

/// A recorded action and its outcome once the agent answered.
#[utoipa::path(
    get,
    path = "/api/v1/actions/{id}",
    tag = "actions",
    params(ActionId, NoParams),
    responses(
        (status = 200, description = "The action; `ok`, `message` and `finished_at` are null until the agent answers", body = schema::Action),
        (status = 404, response = r::NotFound),
        r::Errors,
    )
)]
pub(super) async fn get_action(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Path(ActionId { id }): Path<ActionId>,
    _: Query<NoParams>,
) -> ApiResult<Json<ActionRow>> {
    let store = hub.store.clone();
    let key = id.clone();
    match tokio::task::spawn_blocking(move || store.action(&key)).await? {
        Ok(row) if caller.buckets.is_none() => Ok(Json(row)),
        Ok(row) => match server_bucket(&hub, row.server_id).await? {
            Some(b) if caller.sees(&b) => Ok(Json(row)),
            _ => Err(ApiError::not_found("action", id)),
        },
        Err(crate::store::StoreError::NotFound) => Err(ApiError::not_found("action", id)),
        Err(e) => Err(e.into()),
    }
}
