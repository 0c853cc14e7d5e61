//! Who is calling, on every protected route: an API token
//! (`Authorization: Bearer`, scheme in any case) or a signed-in session's
//! cookie, whose state-changing requests must carry its CSRF token. The
//! caller's role and buckets are checked by each route, on the server.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::access::{Role, session};
use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::UserRow;

/// Who is calling, and what they may do.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The user's e-mail, or `token:NAME` for a token without a user.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// The buckets they may see; none: every bucket.
    pub buckets: Option<Vec<String>>,
    /// How they proved it, kept (hashed) to check again later.
    pub(super) credential: Credential,
}

/// The hash of the token or session id a caller presented.
#[derive(Debug, Clone, Default)]
pub(super) enum Credential {
    /// An API token's hash.
    Token(String),
    /// A session id's hash.
    Session(String),
    /// Made by the hub itself (a sign-in's answer).
    #[default]
    None,
}

impl Caller {
    /// Refuses (403) a caller below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            return Ok(());
        }
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "this needs the {} role; {} is {}",
                role.as_str(),
                self.name,
                self.role.as_str()
            ),
        ))
    }

    /// Whether the caller may see what belongs to `bucket`.
    pub fn sees(&self, bucket: &str) -> bool {
        self.buckets
            .as_ref()
            .is_none_or(|b| b.iter().any(|x| x == bucket))
    }

    fn of_user(u: &UserRow, role: Role, credential: Credential) -> Self {
        Self {
            name: u.email.clone(),
            role,
            buckets: u.buckets.clone(),
            credential,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::internal("a route without the caller check asked for its caller")
        })
    }
}

/// Hash under which a token is stored: the hub never keeps the token itself.
pub fn token_hash(token: &str) -> String {
    session::secret_hash(token)
}

/// 401 with the `WWW-Authenticate` challenge RFC 6750 asks for.
fn unauthorized(message: &str, challenge: &'static str) -> Response {
    let mut r = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    r
}

fn role_of(name: &str) -> Result<Role, ApiError> {
    name.parse()
        .map_err(|e: String| ApiError::internal(format!("stored role: {e}")))
}

/// The caller a credential stands for now, if it still stands: long
/// streams check again, so a removed user or a signed-out session stops.
pub(super) async fn recheck(hub: &Hub, c: &Caller) -> Result<Option<Caller>, ApiError> {
    match &c.credential {
        Credential::Token(hash) => by_token_hash(hub, hash.clone()).await,
        Credential::Session(hash) => by_session_hash(hub, hash.clone()).await,
        Credential::None => Ok(Some(c.clone())),
    }
}

async fn by_token(hub: &Hub, token: &str) -> Result<Option<Caller>, ApiError> {
    // Looking up by hash compares no secret bytes, so timing tells nothing.
    by_token_hash(hub, token_hash(token)).await
}

async fn by_token_hash(hub: &Hub, hash: String) -> Result<Option<Caller>, ApiError> {
    let store = hub.store.clone();
    let credential = Credential::Token(hash.clone());
    let Some(t) = tokio::task::spawn_blocking(move || store.token(&hash)).await?? else {
        return Ok(None);
    };
    // A token made before users existed has full access; one of a user
    // never more than the user.
    let role = match &t.role {
        Some(r) => role_of(r)?,
        None => Role::Owner,
    };
    Ok(Some(match &t.user {
        Some(u) => Caller::of_user(u, role.min(role_of(&u.role)?), credential),
        None => Caller {
            name: format!("token:{}", t.name),
            role,
            buckets: None,
            credential,
        },
    }))
}

async fn by_session(hub: &Hub, id: &str) -> Result<Option<Caller>, ApiError> {
    by_session_hash(hub, session::secret_hash(id)).await
}

async fn by_session_hash(hub: &Hub, hash: String) -> Result<Option<Caller>, ApiError> {
    let store = hub.store.clone();
    let credential = Credential::Session(hash.clone());
    let user = tokio::task::spawn_blocking(move || store.session_user(&hash, now_ms())).await??;
    user.map(|u| Ok(Caller::of_user(&u, role_of(&u.role)?, credential)))
        .transpose()
}

fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Lets a request through only with a known token or a live session (and,
/// for a session's state-changing request, its CSRF token); records the caller.
pub(super) async fn auth(State(hub): State<Arc<Hub>>, mut req: Request, next: Next) -> Response {
    let caller = if let Some(token) = crate::http::bearer(req.headers()) {
        match by_token(&hub, token).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return unauthorized(
                    "unknown API token",
                    r#"Bearer realm="pmr-hub", error="invalid_token""#,
                );
            }
            Err(e) => return e.into_response(),
        }
    } else if let Some(id) = session::from_cookies(
        req.headers(),
        super::session::secure(&hub, req.extensions()),
    ) {
        let id = id.to_string();
        let caller = match by_session(&hub, &id).await {
            Ok(Some(c)) => c,
            Ok(None) => {
                return unauthorized(
                    "the session has ended: sign in again",
                    r#"Bearer realm="pmr-hub""#,
                );
            }
            Err(e) => return e.into_response(),
        };
        let given = req
            .headers()
            .get(session::CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if changes_state(req.method()) && !session::csrf_ok(&id, given) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "missing or wrong X-CSRF-Token (the session's `csrf` from GET /api/v1/session)",
            )
            .into_response();
        }
        caller
    } else {
        let msg = if req.headers().contains_key(header::AUTHORIZATION) {
            "the Authorization header must be `Bearer <token>`"
        } else {
            "missing API token: send `Authorization: Bearer <token>`, or sign in"
        };
        return unauthorized(msg, r#"Bearer realm="pmr-hub""#);
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}
