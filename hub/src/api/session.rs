//! `/api/v1/session`: signing in (`POST`, public), who is signed in
//! (`GET`), signing out (`DELETE`); and `GET /api/v1/audit` for admins.
//! A session is a cookie the browser keeps; scripts use API tokens.

use std::sync::{Arc, OnceLock};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiResult, responses as r};
use super::extract::{Json, NoParams, Query};
use super::{ApiError, Caller};
use crate::access::{Role, password, session, valid_email};
use crate::clock::now_ms;
use crate::http::addr::{AddrKey, PeerAddr};
use crate::state::Hub;
use crate::store::{AuditRow, Write};

/// E-mail and password.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Credentials {
    /// The user's e-mail address.
    email: String,
    /// The password.
    password: String,
}

/// Who is signed in.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct SessionInfo {
    /// The user's e-mail, or `token:NAME`.
    name: String,
    /// `owner`, `admin`, `operator` or `viewer`.
    role: String,
    /// The buckets visible; null: every bucket.
    buckets: Option<Vec<String>>,
    /// With a session cookie: the token every state-changing request must
    /// repeat in `X-CSRF-Token`; null with an API token.
    csrf: Option<String>,
}

fn info(c: &Caller, csrf: Option<String>) -> SessionInfo {
    SessionInfo {
        name: c.name.clone(),
        role: c.role.as_str().into(),
        buckets: c.buckets.clone(),
        csrf,
    }
}

/// Whether the client reached the hub over TLS (the hub's own, or a
/// trusted proxy's): its session cookie is then `Secure` and `__Host-`.
pub(super) fn secure(hub: &Hub, ext: &axum::http::Extensions) -> bool {
    hub.tls() || ext.get::<crate::http::ForwardedTls>().is_some()
}

async fn audit(hub: &Hub, actor: &str, addr: &PeerAddr, action: &str, result: &str) {
    let row = AuditRow {
        at: now_ms(),
        actor: actor.into(),
        address: addr.0.ip().to_string(),
        action: action.into(),
        target: String::new(),
        result: result.into(),
    };
    if let Err(e) = hub.admin.write(Write::Audit(row)).await {
        tracing::warn!("cannot write the audit log: {e}");
    }
}

static DUMMY: OnceLock<String> = OnceLock::new();

/// Computes the hash unknown accounts are checked against, at start-up, so
/// the first such sign-in takes no longer than the others.
pub fn prepare() {
    DUMMY.get_or_init(|| password::hash("not a password of anyone").unwrap_or_default());
}

/// Checks a password in the same time whether or not the account exists.
fn check(stored: Option<&str>, given: &str) -> bool {
    let dummy =
        DUMMY.get_or_init(|| password::hash("not a password of anyone").unwrap_or_default());
    let ok = password::verify(stored.unwrap_or(dummy), given);
    ok && stored.is_some()
}

/// Signs in: sets the session cookie and returns the CSRF token.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    tag = "access",
    params(NoParams),
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; `Set-Cookie: pmr_session=...; HttpOnly; SameSite=Lax` (and `Secure` under TLS)", body = SessionInfo),
        (status = 401, description = "Wrong e-mail or password", body = crate::http::error::ErrorBody),
        (status = 400, response = r::BadRequest),
        (status = 429, response = r::TooManyRequests),
        (status = 500, response = r::Internal),
        r::BodyErrors,
    )
)]
pub(super) async fn sign_in(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(addr): ConnectInfo<PeerAddr>,
    forwarded: Option<axum::Extension<crate::http::ForwardedTls>>,
    _: Query<NoParams>,
    Json(c): Json<Credentials>,
) -> ApiResult<Response> {
    // A malformed address is no account: refused before any budget or hash.
    valid_email(&c.email).map_err(|e| ApiError::invalid("email", e))?;
    let peer = AddrKey::from(addr.0.ip());
    if !hub.logins.allow(peer, &c.email) {
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in attempts: wait a little",
        )
        .into_response();
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("6"));
        return Ok(r);
    }
    let (store, email) = (hub.store.clone(), c.email.clone());
    let found = tokio::task::spawn_blocking(move || store.user_login(&email)).await??;
    let stored = found.as_ref().map(|(_, h)| h.clone());
    let given = c.password;
    let ok = {
        // Bounded: hashing is memory- and CPU-hungry by design.
        let _slot = hub
            .logins
            .hashing
            .acquire()
            .await
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || check(stored.as_deref(), &given)).await?
    };
    let (Some((user, _)), true) = (found, ok) else {
        hub.logins.failed(peer, &c.email);
        // Every replica counts it: guesses spread over replicas meet one budget.
        crate::cluster::relay::login_failed(&hub, peer, session::account_key(&c.email)).await;
        audit(&hub, &c.email, &addr, "sign-in", "wrong e-mail or password").await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "wrong e-mail or password",
        ));
    };
    let id = session::new_id();
    let now = now_ms();
    let w = Write::CreateSession {
        id_hash: session::secret_hash(&id),
        user_id: user.id,
        now,
        expires_at: now + session::LIFETIME_MS,
        address: addr.0.ip().to_string(),
    };
    hub.admin.write(w).await?;
    audit(&hub, &user.email, &addr, "sign-in", "ok").await;
    let role: Role = user.role.parse().map_err(ApiError::internal)?;
    let caller = Caller {
        name: user.email,
        role,
        buckets: user.buckets,
        credential: Default::default(),
    };
    let tls = hub.tls() || forwarded.is_some();
    let cookie = session::cookie(&id, session::LIFETIME_MS / 1000, tls);
    let mut r = Json(info(&caller, Some(session::csrf(&id)))).into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(r)
}

/// Who is calling, and (with a session) its CSRF token.
#[utoipa::path(
    get,
    path = "/api/v1/session",
    tag = "access",
    params(NoParams),
    responses(
        (status = 200, description = "The caller", body = SessionInfo),
        r::Errors,
    )
)]
pub(super) async fn who(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    _: Query<NoParams>,
    req: Request,
) -> Json<SessionInfo> {
    let tls = secure(&hub, req.extensions());
    let csrf = session::from_cookies(req.headers(), tls).map(session::csrf);
    Json(info(&caller, csrf))
}

/// Signs out: the session ends and the cookie is cleared.
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    tag = "access",
    params(NoParams),
    responses(
        (status = 204, description = "Signed out"),
        r::Guarded,
    )
)]
pub(super) async fn sign_out(
    State(hub): State<Arc<Hub>>,
    ConnectInfo(addr): ConnectInfo<PeerAddr>,
    caller: Caller,
    _: Query<NoParams>,
    req: Request,
) -> ApiResult<Response> {
    let tls = secure(&hub, req.extensions());
    if let Some(id) = session::from_cookies(req.headers(), tls) {
        let w = Write::DeleteSession {
            id_hash: session::secret_hash(id),
        };
        hub.admin.write(w).await?;
        audit(&hub, &caller.name, &addr, "sign-out", "ok").await;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let cookie = session::cookie("", 0, tls);
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    Ok(r)
}

/// How many audit lines.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditFilter {
    /// Lines, newest first, 1 to 1000; default 100.
    #[param(minimum = 1, maximum = 1000, default = 100)]
    limit: Option<i64>,
}

/// The audit log: every sign-in, sign-out and remote action, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/audit",
    tag = "access",
    params(AuditFilter),
    responses(
        (status = 200, description = "Audit lines, newest first", body = Vec<AuditLine>),
        r::Guarded,
    )
)]
pub(super) async fn list_audit(
    State(hub): State<Arc<Hub>>,
    caller: Caller,
    Query(f): Query<AuditFilter>,
) -> ApiResult<Json<Vec<AuditRow>>> {
    caller.require(Role::Admin)?;
    // The log names servers and users of every bucket.
    if caller.buckets.is_some() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the audit log spans every bucket: it needs an admin without bucket limits",
        ));
    }
    let limit = super::events::page_size(f.limit)?;
    let store = hub.store.clone();
    Ok(Json(
        tokio::task::spawn_blocking(move || store.audit(limit)).await??,
    ))
}

/// One audit line (the schema of [`AuditRow`]).
#[derive(Debug, Serialize, ToSchema)]
#[allow(dead_code)]
pub(super) struct AuditLine {
    /// Unix ms.
    at: i64,
    /// The user's e-mail, or `token:NAME`.
    actor: String,
    /// The client's address.
    address: String,
    /// `sign-in`, `sign-out`, `action:<verb>`.
    action: String,
    /// For an action: `<id> on <server>: <targets>`.
    target: String,
    /// `ok`, `sent`, or what went wrong.
    result: String,
}
