//! `/api/v1/users`: who may sign in, with which role and buckets. No one
//! grants a role above their own or touches a user above them; new and
//! reset passwords are generated, shown once, and stored as argon2id.

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiResult, responses as r};
use super::super::extract::{Json, NoParams, Path, Query};
use super::super::{ApiError, Caller};
use crate::access::{Role, password, valid_bucket, valid_email};
use crate::clock::now_ms;
use crate::http::addr::PeerAddr;
use crate::state::Hub;
use crate::store::{StoreError, UserRow, Write, Written};

/// A user to add.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUser {
    /// Login name.
    email: String,
    /// Their role: at most the caller's.
    role: Role,
    /// The buckets they may see; absent or null: every bucket.
    buckets: Option<Vec<String>>,
}

/// A user with a password generated for them: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct WithPassword {
    /// Login name.
    email: String,
    /// The password, shown once; the hub keeps only its argon2id hash.
    password: String,
}

/// The `{email}` of `/api/v1/users/{email}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct Email {
    /// The user's e-mail.
    email: String,
}

/// Lists every user (admins without bucket limits).
#[utoipa::path(
    get,
    path = "/api/v1/users",
    tag = "admin",
    params(NoParams),
    responses(
        (status = 200, description = "Users, by e-mail", body = Vec<UserRow>),
        r::Guarded,
    )
)]
pub(crate) async fn list_users(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<UserRow>>> {
    super::require_fleet_admin(&caller, "users")?;
    let store = hub.store.clone();
    Ok(Json(
        tokio::task::spawn_blocking(move || store.users()).await??,
    ))
}

/// A generated password and its hash (hashing is slow by design).
async fn new_password() -> ApiResult<(String, String)> {
    let pw = password::generate();
    let for_hash = pw.clone();
    let hash = tokio::task::spawn_blocking(move || password::hash(&for_hash))
        .await?
        .map_err(ApiError::internal)?;
    Ok((pw, hash))
}

fn above(caller: &Caller, role: Role) -> Result<(), ApiError> {
    if role > caller.role {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "role {}: above {}'s own ({})",
                role.as_str(),
                caller.name,
                caller.role.as_str()
            ),
        ));
    }
    Ok(())
}

/// The user named, checked to be no higher than the caller.
async fn subject(hub: &Hub, caller: &Caller, email: &str) -> ApiResult<UserRow> {
    let (store, who) = (hub.store.clone(), email.to_string());
    let found = tokio::task::spawn_blocking(move || store.user_login(&who)).await??;
    let Some((user, _)) = found else {
        return Err(ApiError::not_found("user", email));
    };
    above(caller, user.role.parse().map_err(ApiError::internal)?)?;
    Ok(user)
}

/// Adds a user with a generated password (admins without bucket limits).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    tag = "admin",
    params(NoParams),
    request_body = NewUser,
    responses(
        (status = 201, description = "Added; the password is shown once", body = WithPassword),
        (status = 409, response = r::Conflict),
        r::Guarded, r::BodyErrors,
    )
)]
pub(crate) async fn create_user(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    Json(u): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<WithPassword>)> {
    super::require_fleet_admin(&caller, "users")?;
    valid_email(&u.email).map_err(|e| ApiError::invalid("email", e))?;
    above(&caller, u.role)?;
    if let Some(b) = &u.buckets {
        for (i, name) in b.iter().enumerate() {
            valid_bucket(name).map_err(|e| ApiError::invalid(format!("buckets[{i}]"), e))?;
        }
    }
    let (pw, password_hash) = new_password().await?;
    let w = Write::CreateUser {
        email: u.email.clone(),
        password_hash,
        role: u.role.as_str().into(),
        buckets: u.buckets,
        now: now_ms(),
    };
    match hub.admin.write(w).await {
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("a user {} exists already", u.email),
            ));
        }
        Err(e) => return Err(e.into()),
    }
    let target = format!("{} {}", u.email, u.role.as_str());
    super::record(&hub, &caller, addr.ip(), "user:add", &target).await;
    let created = WithPassword {
        email: u.email,
        password: pw,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Removes a user, their sessions and tokens (admins without bucket limits).
#[utoipa::path(
    delete,
    path = "/api/v1/users/{email}",
    tag = "admin",
    params(Email, NoParams),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, response = r::NotFound),
        r::Guarded,
    )
)]
pub(crate) async fn delete_user(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(Email { email }): Path<Email>,
    _: Query<NoParams>,
) -> ApiResult<StatusCode> {
    super::require_fleet_admin(&caller, "users")?;
    if email == caller.name {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "you cannot remove yourself: ask another admin",
        ));
    }
    subject(&hub, &caller, &email).await?;
    let w = Write::DeleteUser {
        email: email.clone(),
    };
    if hub.admin.write(w).await? != Written::Rows(1) {
        return Err(ApiError::not_found("user", &email));
    }
    super::record(&hub, &caller, addr.ip(), "user:remove", &email).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Gives a user a new generated password and ends their sessions (admins
/// without bucket limits).
#[utoipa::path(
    post,
    path = "/api/v1/users/{email}/password",
    tag = "admin",
    params(Email, NoParams),
    responses(
        (status = 200, description = "The new password, shown once", body = WithPassword),
        (status = 404, response = r::NotFound),
        r::Guarded,
    )
)]
pub(crate) async fn reset_password(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(Email { email }): Path<Email>,
    _: Query<NoParams>,
) -> ApiResult<Json<WithPassword>> {
    super::require_fleet_admin(&caller, "users")?;
    subject(&hub, &caller, &email).await?;
    let (pw, password_hash) = new_password().await?;
    let w = Write::SetPassword {
        email: email.clone(),
        password_hash,
    };
    if hub.admin.write(w).await? != Written::Rows(1) {
        return Err(ApiError::not_found("user", &email));
    }
    super::record(&hub, &caller, addr.ip(), "user:reset-password", &email).await;
    Ok(Json(WithPassword {
        email,
        password: pw,
    }))
}
