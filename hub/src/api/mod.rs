//! `/api/v1`: JSON over the live state and the store.
//!
//! Every route but `GET /api/v1/openapi.json` needs an API token
//! (`Authorization: Bearer <token>`, scheme case-insensitive; tokens come
//! from `pmr-hub tokens create`). Every error, whether from a handler, an
//! extractor, the body limit or the token check, is
//! `{"error": "...", "status": N}` (see [`error`]).
//!
//! Routes are registered only through `utoipa_axum::routes!`, so a route
//! cannot exist without its `#[utoipa::path]` documentation; the resulting
//! OpenAPI 3.1 document is [`openapi`], served at `/api/v1/openapi.json`.
//! One file per resource: [`servers`], [`processes`], [`events`],
//! [`versions`], [`actions`]; the OpenAPI frame is in [`doc`].

mod actions;
mod changes;
mod doc;
pub mod error;
mod events;
pub mod extract;
pub(crate) mod ops;
mod processes;
mod schema;
mod servers;
mod versions;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use error::{ApiError, ApiResult};

use crate::state::Hub;

/// Largest request body the API reads; larger ones are answered 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The API routes (token-protected) and the public OpenAPI document.
pub fn router(hub: Arc<Hub>) -> Router<Arc<Hub>> {
    protected()
        .layer(middleware::from_fn_with_state(hub, auth))
        .merge(public())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .split_for_parts()
        .0
}

/// The OpenAPI 3.1 document of every API route, built from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    protected().merge(public()).into_openapi()
}

/// Routes that need a token.
fn protected() -> OpenApiRouter<Arc<Hub>> {
    OpenApiRouter::with_openapi(doc::ApiDoc::openapi())
        .routes(json_405(routes!(servers::list_servers)))
        .routes(json_405(routes!(servers::get_server)))
        .routes(json_405(routes!(processes::list_processes)))
        .routes(json_405(routes!(processes::get_process)))
        .routes(json_405(routes!(events::list_events)))
        .routes(json_405(routes!(versions::list_versions)))
        .routes(json_405(routes!(actions::create_action)))
        .routes(json_405(routes!(actions::get_action)))
        .routes(json_405(routes!(changes::follow_changes)))
}

/// Routes anyone may call; their operations say so (`security: []`).
fn public() -> OpenApiRouter<Arc<Hub>> {
    let mut r = OpenApiRouter::default()
        .routes(json_405(routes!(doc::get_openapi)))
        .routes(json_405(routes!(ops::healthz)))
        .routes(json_405(routes!(ops::readyz)))
        .routes(json_405(routes!(ops::metrics)))
        .routes(json_405(routes!(crate::agents::upgrade)));
    for item in r.get_openapi_mut().paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for op in ops.into_iter().flatten() {
            op.security = Some(Vec::new());
        }
    }
    r
}

/// A method the path does not take is answered in the JSON error shape
/// (axum adds the `Allow` header).
fn json_405(r: UtoipaMethodRouter<Arc<Hub>>) -> UtoipaMethodRouter<Arc<Hub>> {
    r.map(|m| {
        m.fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this path",
            )
        })
    })
}

/// Who is calling: the name of the token it presented.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::internal("a route without the token check asked for its caller")
        })
    }
}

/// Hash under which a token is stored: the hub never keeps the token itself.
pub fn token_hash(token: &str) -> String {
    pmr_shared::link::handshake::hex(&Sha256::digest(token.as_bytes()))
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

/// Lets a request through only with a known API token; records the caller.
async fn auth(State(hub): State<Arc<Hub>>, mut req: Request, next: Next) -> Response {
    let Some(token) = crate::http::bearer(req.headers()) else {
        let msg = if req.headers().contains_key(header::AUTHORIZATION) {
            "the Authorization header must be `Bearer <token>`"
        } else {
            "missing API token: send `Authorization: Bearer <token>`"
        };
        return unauthorized(msg, r#"Bearer realm="pmr-hub""#);
    };
    // Looking up by hash compares no secret bytes, so timing tells nothing.
    let hash = token_hash(token);
    let store = hub.store.clone();
    match tokio::task::spawn_blocking(move || store.token_name(&hash)).await {
        Ok(Ok(Some(name))) => {
            req.extensions_mut().insert(Caller(name));
            next.run(req).await
        }
        Ok(Ok(None)) => unauthorized(
            "unknown API token",
            r#"Bearer realm="pmr-hub", error="invalid_token""#,
        ),
        Ok(Err(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
