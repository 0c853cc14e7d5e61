//! `/api/v1/alert-rules`: list (everyone), create and delete (admins
//! without bucket limits), mute for a while (operators).

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiResult, responses as r};
use super::super::extract::{Json, NoParams, Path, Query};
use super::super::{ApiError, Caller};
use crate::access::Role;
use crate::alerts::rule::{Rule, RuleSpec};
use crate::clock::now_ms;
use crate::http::addr::PeerAddr;
use crate::state::Hub;
use crate::store::{StoreError, Write, Written};

/// The `{id}` of a rule.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct RuleId {
    /// The rule's id.
    id: i64,
}

/// How long to mute.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Mute {
    /// Minutes from now; 0 unmutes.
    minutes: u64,
}

async fn rules(hub: &Arc<Hub>) -> ApiResult<Vec<Rule>> {
    let hub2 = hub.clone();
    tokio::task::spawn_blocking(move || crate::alerts::listed_rules(&hub2))
        .await?
        .map_err(ApiError::internal)
}

/// Every rule.
#[utoipa::path(
    get,
    path = "/api/v1/alert-rules",
    tag = "alerts",
    params(NoParams),
    responses(
        (status = 200, description = "Rules, oldest first", body = Vec<Rule>),
        r::Errors,
    )
)]
pub(crate) async fn list_rules(
    State(hub): State<Arc<Hub>>,
    _caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<Rule>>> {
    Ok(Json(rules(&hub).await?))
}

/// Creates a rule (admins without bucket limits).
#[utoipa::path(
    post,
    path = "/api/v1/alert-rules",
    tag = "alerts",
    params(NoParams),
    request_body = RuleSpec,
    responses(
        (status = 201, description = "The rule, with its id", body = Rule),
        (status = 409, response = r::Conflict),
        r::Guarded, r::BodyErrors,
    )
)]
pub(crate) async fn create_rule(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    Json(v): Json<serde_json::Value>,
) -> ApiResult<(StatusCode, Json<Rule>)> {
    super::super::admin::require_fleet_admin(&caller, "alert rules")?;
    let spec = RuleSpec::parse(v)?;
    // A receiver that does not exist is a conflict with the hub's state
    // (the document cannot say which names exist), not a malformed body.
    let receivers = crate::alerts::receiver_names(hub.store.as_ref())?;
    spec.check_receivers(receivers.iter().map(String::as_str))
        .map_err(|e| ApiError::from(e).with_status(StatusCode::CONFLICT))?;
    let w = Write::CreateRule {
        name: spec.name.clone(),
        spec: serde_json::to_string(&spec)?,
        now: now_ms(),
    };
    let id = match hub.admin.write(w).await {
        Ok(Written::Id(id)) => id,
        Err(StoreError::Conflict(_)) => {
            let msg = format!("a rule named {} exists already", spec.name);
            return Err(ApiError::new(StatusCode::CONFLICT, msg));
        }
        Ok(other) => return Err(ApiError::internal(format!("the store answered {other:?}"))),
        Err(e) => return Err(e.into()),
    };
    hub.alerts.reload();
    super::super::admin::record(&hub, &caller, addr.ip(), "alert-rule:create", &spec.name).await;
    let rule = Rule {
        id,
        spec,
        muted_until: None,
        source: "api",
    };
    Ok((StatusCode::CREATED, Json(rule)))
}

/// Deletes a rule; its alerts resolve (admins without bucket limits).
#[utoipa::path(
    delete,
    path = "/api/v1/alert-rules/{id}",
    tag = "alerts",
    params(RuleId, NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = r::NotFound),
        r::Guarded,
    )
)]
pub(crate) async fn delete_rule(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(RuleId { id }): Path<RuleId>,
    _: Query<NoParams>,
) -> ApiResult<StatusCode> {
    super::super::admin::require_fleet_admin(&caller, "alert rules")?;
    if hub.admin.write(Write::DeleteRule { id }).await? != Written::Rows(1) {
        return Err(ApiError::not_found("rule", id));
    }
    hub.alerts.reload();
    super::super::admin::record(
        &hub,
        &caller,
        addr.ip(),
        "alert-rule:delete",
        &id.to_string(),
    )
    .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Mutes a rule for some minutes (0 unmutes): nothing is sent for it
/// meanwhile; its alerts still show (operators).
#[utoipa::path(
    post,
    path = "/api/v1/alert-rules/{id}/mute",
    tag = "alerts",
    params(RuleId, NoParams),
    request_body = Mute,
    responses(
        (status = 200, description = "The rule, muted or not", body = Rule),
        (status = 404, response = r::NotFound),
        r::Guarded, r::BodyErrors,
    )
)]
pub(crate) async fn mute_rule(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(RuleId { id }): Path<RuleId>,
    _: Query<NoParams>,
    Json(m): Json<Mute>,
) -> ApiResult<Json<Rule>> {
    caller.require(Role::Operator)?;
    let until = (m.minutes > 0).then(|| now_ms() + m.minutes.min(525_600) as i64 * 60_000);
    if hub.admin.write(Write::MuteRule { id, until }).await? != Written::Rows(1) {
        return Err(ApiError::not_found("rule", id));
    }
    hub.alerts.reload();
    let what = format!("{id} for {} min", m.minutes);
    super::super::admin::record(&hub, &caller, addr.ip(), "alert-rule:mute", &what).await;
    let rule = rules(&hub).await?.into_iter().find(|r| r.id == id);
    rule.map(Json)
        .ok_or_else(|| ApiError::not_found("rule", id))
}
