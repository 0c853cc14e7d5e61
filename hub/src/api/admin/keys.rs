//! `/api/v1/keys`: bucket keys. Creating one answers the secret once, with
//! the exact `pmr link` line and the `PMR_*` variables for containers.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use pmr_shared::link::keys::SecretKey;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::super::error::{ApiResult, responses as r};
use super::super::extract::{Json, NoParams, Path, Query};
use super::super::{ApiError, Caller};
use crate::access::{Role, valid_bucket};
use crate::clock::now_ms;
use crate::http::addr::PeerAddr;
use crate::state::Hub;
use crate::store::{KeyRow, Write, Written};

/// A bucket key, public half only.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Key {
    /// Row id.
    id: i64,
    /// Its bucket.
    bucket: String,
    /// The public key agents name.
    public_key: String,
    /// Unix ms.
    created_at: i64,
    /// Unix ms; null while it works.
    revoked_at: Option<i64>,
}

impl From<KeyRow> for Key {
    fn from(k: KeyRow) -> Self {
        Key {
            id: k.id,
            bucket: k.bucket,
            public_key: k.public_key,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewKey {
    /// The bucket (created if new): 1 to 64 letters, digits, `-`, `_`, `.`.
    bucket: String,
}

/// A new key: its secret is in this answer only.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CreatedKey {
    /// The key.
    key: Key,
    /// The secret half: shown once, not stored by the hub.
    secret_key: String,
    /// The line to run on a server.
    link_command: String,
    /// The same, reading the secret from standard input (off the command line).
    link_command_stdin: String,
    /// The variables a container's `pmr-runtime` links with.
    env: BTreeMap<String, String>,
    /// The hub certificate's SHA-256 fingerprint when it is self-signed.
    fingerprint: Option<String>,
}

/// The `{key}` of `/api/v1/keys/{key}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub(crate) struct KeyRef {
    /// The key's row id or public key.
    key: String,
}

/// Lists the keys of the buckets the caller sees (admins).
#[utoipa::path(
    get,
    path = "/api/v1/keys",
    tag = "admin",
    params(NoParams),
    responses(
        (status = 200, description = "Keys, oldest first", body = Vec<Key>),
        r::Guarded,
    )
)]
pub(crate) async fn list_keys(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
) -> ApiResult<Json<Vec<Key>>> {
    caller.require(Role::Admin)?;
    let store = hub.store.clone();
    let keys = tokio::task::spawn_blocking(move || store.list_keys()).await??;
    Ok(Json(
        keys.into_iter()
            .filter(|k| caller.sees(&k.bucket))
            .map(Key::from)
            .collect(),
    ))
}

/// Creates a key (admins; a bucket-limited admin, in their buckets).
#[utoipa::path(
    post,
    path = "/api/v1/keys",
    tag = "admin",
    params(NoParams),
    request_body = NewKey,
    responses(
        (status = 201, description = "The key, its secret (once) and the link line", body = CreatedKey),
        r::Guarded, r::BodyErrors,
    )
)]
pub(crate) async fn create_key(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    Json(k): Json<NewKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    caller.require(Role::Admin)?;
    valid_bucket(&k.bucket).map_err(|e| ApiError::invalid("bucket", e))?;
    if !caller.sees(&k.bucket) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{} may not manage bucket {}", caller.name, k.bucket),
        ));
    }
    let secret = SecretKey::generate();
    let public = secret.public().to_string();
    let w = Write::CreateKey {
        bucket: k.bucket.clone(),
        public_key: public.clone(),
        now: now_ms(),
    };
    let Written::Id(id) = hub.admin.write(w).await? else {
        return Err(ApiError::internal("the key was not stored"));
    };
    let target = {
        let (store, cfg) = (hub.store.clone(), hub.config.clone());
        tokio::task::spawn_blocking(move || crate::link_line::target(&*store, &cfg)).await?
    };
    super::record(
        &hub,
        &caller,
        addr.ip(),
        "key:create",
        &format!("{} {public}", k.bucket),
    )
    .await;
    let secret = secret.to_text();
    let mut env = BTreeMap::from([
        ("PMR_HUB_URL".to_string(), target.url.clone()),
        ("PMR_PUBLIC_KEY".to_string(), public.clone()),
        ("PMR_SECRET_KEY".to_string(), secret.clone()),
    ]);
    if let Some(fp) = &target.fingerprint {
        env.insert("PMR_HUB_FINGERPRINT".into(), fp.clone());
    }
    let pin = target.pin();
    let created = CreatedKey {
        key: Key {
            id,
            bucket: k.bucket,
            public_key: public.clone(),
            created_at: now_ms(),
            revoked_at: None,
        },
        link_command: format!("pmr link {secret} {public} --hub {}{pin}", target.url),
        link_command_stdin: format!("pmr link - {public} --hub {}{pin}", target.url),
        secret_key: secret,
        env,
        fingerprint: target.fingerprint,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// Revokes a key: its agents' sessions close within a second (admins).
#[utoipa::path(
    delete,
    path = "/api/v1/keys/{key}",
    tag = "admin",
    params(KeyRef, NoParams),
    responses(
        (status = 200, description = "Revoked", body = Key),
        (status = 404, response = r::NotFound),
        r::Guarded,
    )
)]
pub(crate) async fn revoke_key(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(PeerAddr(addr)): ConnectInfo<PeerAddr>,
    caller: Caller,
    Path(KeyRef { key }): Path<KeyRef>,
    _: Query<NoParams>,
) -> ApiResult<Json<Key>> {
    caller.require(Role::Admin)?;
    let (store, which) = (hub.store.clone(), key.clone());
    let found = tokio::task::spawn_blocking(move || store.find_key(&which)).await??;
    // Keys of buckets the caller may not see do not exist for it.
    let Some(row) = found.filter(|k| caller.sees(&k.bucket) && k.revoked_at.is_none()) else {
        return Err(ApiError::not_found("active key", &key));
    };
    let w = Write::RevokeKey {
        which: row.public_key.clone(),
        now: now_ms(),
    };
    if hub.admin.write(w).await? != Written::Rows(1) {
        return Err(ApiError::not_found("active key", &key));
    }
    let target = format!("{} {}", row.bucket, row.public_key);
    super::record(&hub, &caller, addr.ip(), "key:revoke", &target).await;
    let mut key = Key::from(row);
    key.revoked_at = Some(now_ms());
    Ok(Json(key))
}
