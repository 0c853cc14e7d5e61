//! `POST /api/v1/setup`: the first owner of a hub with no user, created
//! with the one-time token `serve` prints (no default password anywhere).
//! The token is stored only as its hash and expires after a day.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ApiError;
use super::error::{ApiResult, responses as r};
use super::extract::{Json, NoParams, Query};
use crate::access::{Role, password, session, valid_email};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{Store, StoreError, Write, write_one};

/// Meta keys of the pending setup token.
const HASH_KEY: &str = "setup_token_hash";
const EXPIRES_KEY: &str = "setup_token_expires";
/// How long the printed token works, ms.
const LIFETIME_MS: i64 = 24 * 3600 * 1000;

/// Called by `serve` at start: when no user exists, a new one-time token
/// (returned, to print) replaces any older one.
pub fn issue(store: &dyn Store) -> anyhow::Result<Option<String>> {
    if !store.users()?.is_empty() {
        return Ok(None);
    }
    let token = session::new_id();
    for (key, value) in [
        (HASH_KEY, session::secret_hash(&token)),
        (EXPIRES_KEY, (now_ms() + LIFETIME_MS).to_string()),
    ] {
        let w = Write::SetMeta {
            key: key.into(),
            value,
        };
        write_one(store, w)?;
    }
    Ok(Some(token))
}

/// The first owner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Setup {
    /// The one-time token `pmr-hub serve` printed.
    token: String,
    /// The owner's e-mail address.
    email: String,
    /// At least 12 characters.
    password: String,
}

/// The owner created.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Created {
    /// The owner's e-mail; sign in with `POST /api/v1/session`.
    email: String,
}

fn refuse(status: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError::new(status, msg)
}

/// Creates the first owner with the one-time token.
#[utoipa::path(
    post,
    path = "/api/v1/setup",
    tag = "access",
    params(NoParams),
    request_body = Setup,
    responses(
        (status = 201, description = "The owner exists; the token is spent", body = Created),
        (status = 400, response = r::BadRequest),
        (status = 403, description = "Wrong or expired token", body = crate::http::error::ErrorBody),
        (status = 409, description = "A user exists already", body = crate::http::error::ErrorBody),
        (status = 413, response = r::PayloadTooLarge),
        (status = 415, response = r::UnsupportedMediaType),
        (status = 422, response = r::Unprocessable),
        (status = 500, response = r::Internal),
    )
)]
pub(super) async fn create_owner(
    State(hub): State<Arc<Hub>>,
    _: Query<NoParams>,
    Json(s): Json<Setup>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    let store = hub.store.clone();
    let (users, hash, expires) = tokio::task::spawn_blocking(move || {
        Ok::<_, StoreError>((
            store.users()?,
            store.meta(HASH_KEY)?,
            store.meta(EXPIRES_KEY)?,
        ))
    })
    .await??;
    if !users.is_empty() {
        return Err(refuse(
            StatusCode::CONFLICT,
            "an owner exists already: sign in",
        ));
    }
    let given = session::secret_hash(&s.token);
    let same =
        hash.is_some_and(|h| subtle::ConstantTimeEq::ct_eq(h.as_bytes(), given.as_bytes()).into());
    let fresh = expires
        .and_then(|e| e.parse::<i64>().ok())
        .is_some_and(|e| e > now_ms());
    if !same || !fresh {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "wrong or expired setup token: restart `pmr-hub serve` for a new one",
        ));
    }
    valid_email(&s.email).map_err(ApiError::bad_request)?;
    password::acceptable(&s.password).map_err(ApiError::bad_request)?;
    let pw = s.password;
    let password_hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await?
        .map_err(ApiError::internal)?;
    let w = Write::CreateUser {
        email: s.email.clone(),
        password_hash,
        role: Role::Owner.as_str().into(),
        buckets: None,
        now: now_ms(),
    };
    hub.ingest.writer.write(w).await?;
    // Spent: the token cannot make a second owner.
    let spent = Write::SetMeta {
        key: HASH_KEY.into(),
        value: String::new(),
    };
    hub.ingest.writer.write(spent).await?;
    Ok((StatusCode::CREATED, Json(Created { email: s.email })))
}
