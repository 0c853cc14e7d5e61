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
use crate::access::{password, session, valid_email};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{Store, Write, Written, write_one};

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
        (status = 403, description = "Wrong or expired token", body = crate::http::error::ErrorBody),
        (status = 409, description = "A user exists already", body = crate::http::error::ErrorBody),
        (status = 400, response = r::BadRequest),
        (status = 500, response = r::Internal),
        r::BodyErrors,
    )
)]
pub(super) async fn create_owner(
    State(hub): State<Arc<Hub>>,
    _: Query<NoParams>,
    Json(s): Json<Setup>,
) -> ApiResult<(StatusCode, Json<Created>)> {
    valid_email(&s.email).map_err(|e| ApiError::invalid("email", e))?;
    password::acceptable(&s.password).map_err(|e| ApiError::invalid("password", e))?;
    let pw = s.password;
    let password_hash = tokio::task::spawn_blocking(move || password::hash(&pw))
        .await?
        .map_err(ApiError::internal)?;
    // One write checks and spends the token: two requests cannot both win.
    let w = Write::CreateFirstOwner {
        token_hash: session::secret_hash(&s.token),
        email: s.email.clone(),
        password_hash,
        now: now_ms(),
    };
    match hub.admin.write(w).await? {
        Written::Id(_) => {}
        Written::Refused("exists") => {
            return Err(refuse(
                StatusCode::CONFLICT,
                "an owner exists already: sign in",
            ));
        }
        _ => {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "wrong, spent or expired setup token: restart `pmr-hub serve` for a new one",
            ));
        }
    }
    Ok((StatusCode::CREATED, Json(Created { email: s.email })))
}
