//! `/api/v1/tokens`: API tokens for scripts. A token belongs to a user and
//! carries a role no higher than that user's (nor the caller's); the token
//! itself is in the creation's answer only, the hub keeps its hash.

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiResult, responses as r};
use super::super::extract::{Json, NoParams, Path, Query};
use super::super::{ApiError, Caller, token_hash};
use crate::access::Role;
use crate::clock::now_ms;
use crate::http::addr::PeerAddr;
use crate::state::Hub;
use crate::store::{TokenInfo, Write, Written};

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewToken {
    /// A name to know it by (1 to 64 characters).
    name: String,
    /// The user it acts for; default: the caller.
    user: Option<String>,
    /// Its role; default and ceiling: the lower of the user's and the caller's.
    role: Option<Role>,
}

/// A new token: the token is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedToken {
    /// Row id.
    id: i64,
    /// `Authorization: Bearer <token>`.
    token: String,
    /// The user it acts for.
    user: String,
    /// Its role.
    role: Role,
}

/// The `{id}` of `/api/v1/tokens/{id}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct TokenId {
    /// The token's row id.
    id: i64,
}

/// Lists every token, never the token itself (admins without bucket limits).
#[utoipa::path(
    get,
    path = "/api/v1/tokens",
    tag = "admin",
    params(NoParams),
    responses(
        (status = 200, description = "Tokens, oldest first", body = Vec<TokenInfo>),
        r::Guarded,
    )
)]
pub(crate) async fn list_tokens(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<TokenInfo>>> {
    super::require_fleet_admin(&caller, "tokens")?;
    let store = hub.store.clone();
    Ok(Json(
        tokio::task::spawn_blocking(move || store.tokens()).await??,
    ))
}

/// Creates a token for a user (admins without bucket limits).
#[utoipa::path(
    post,
    path = "/api/v1/tokens",
    tag = "admin",
    params(NoParams),
    request_body = NewToken,
    responses(
        (status = 201, description = "The token, shown once", body = CreatedToken),
        (status = 404, response = r::NotFound),
        r::Guarded, r::BodyErrors,
    )
)]
pub(crate) async fn create_token(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    Json(t): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    super::require_fleet_admin(&caller, "tokens")?;
    let name = t.name;
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::invalid(
            "name",
            "1 to 64 characters, no control characters",
        ));
    }
    let email = t.user.unwrap_or_else(|| caller.name.clone());
    let store = hub.store.clone();
    let who = email.clone();
    let found = tokio::task::spawn_blocking(move || store.user_login(&who)).await??;
    let Some((user, _)) = found else {
        return Err(ApiError::not_found("user", &email));
    };
    let theirs: Role = user.role.parse().map_err(ApiError::internal)?;
    let ceiling = theirs.min(caller.role);
    let role = t.role.unwrap_or(ceiling);
    if role > ceiling {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "role {}: above {} (the lower of {email}'s role and yours)",
                role.as_str(),
                ceiling.as_str()
            ),
        ));
    }
    let mut raw = [0u8; 24];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    let token = format!("pmrt_{}", pmr_shared::link::handshake::hex(&raw));
    let w = Write::CreateToken {
        name: name.clone(),
        token_hash: token_hash(&token),
        owner: Some((user.id, role.as_str().into())),
        now: now_ms(),
    };
    let Written::Id(id) = hub.admin.write(w).await? else {
        return Err(ApiError::internal("the token was not stored"));
    };
    let target = format!("{name} for {email} ({})", role.as_str());
    super::record(&hub, &caller, addr.ip(), "token:create", &target).await;
    let created = CreatedToken {
        id,
        token,
        user: email,
        role,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Deletes a token: it stops working at once (admins without bucket limits).
#[utoipa::path(
    delete,
    path = "/api/v1/tokens/{id}",
    tag = "admin",
    params(TokenId, NoParams),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, response = r::NotFound),
        r::Guarded,
    )
)]
pub(crate) async fn delete_token(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(TokenId { id }): Path<TokenId>,
    _: Query<NoParams>,
) -> ApiResult<StatusCode> {
    super::require_fleet_admin(&caller, "tokens")?;
    if hub.admin.write(Write::DeleteToken { id }).await? != Written::Rows(1) {
        return Err(ApiError::not_found("token", id));
    }
    super::record(&hub, &caller, addr.ip(), "token:delete", &id.to_string()).await;
    Ok(StatusCode::NO_CONTENT)
}
