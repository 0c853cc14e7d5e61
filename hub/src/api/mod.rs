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
mod admin;
mod alerts;
mod auth;
mod changes;
mod cluster;
mod contract;
mod doc;
pub mod error;
mod events;
mod exceptions;
pub mod extract;
mod logs;
pub(crate) mod ops;
mod processes;
mod schema;
mod servers;
mod session;
pub mod setup;
mod versions;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use utoipa::OpenApi as _;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

pub use auth::{Caller, token_hash};
pub use error::{ApiError, ApiResult};
pub use session::prepare as prepare_sign_in;

use crate::state::Hub;

/// Largest request body the API reads; larger ones are answered 413.
pub const BODY_LIMIT: usize = 64 * 1024;

/// The API routes (token-protected) and the public OpenAPI document.
pub fn router(hub: Arc<Hub>) -> Router<Arc<Hub>> {
    protected()
        .layer(middleware::from_fn_with_state(hub, auth::auth))
        .merge(public())
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .split_for_parts()
        .0
}

/// The OpenAPI 3.1 document of every API route, built from the handlers,
/// with every constraint the server enforces ([`contract`]).
pub fn openapi() -> serde_json::Value {
    let mut doc = serde_json::to_value(protected().merge(public()).into_openapi())
        .unwrap_or_else(|e| serde_json::json!({"error": e.to_string(), "status": 500}));
    contract::tighten(&mut doc);
    doc
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
        .routes(json_405(routes!(changes::change_kinds)))
        .routes(json_405(routes!(logs::follow_logs)))
        .routes(json_405(routes!(session::who, session::sign_out)))
        .routes(json_405(routes!(session::list_audit)))
        .routes(json_405(routes!(
            admin::keys::list_keys,
            admin::keys::create_key
        )))
        .routes(json_405(routes!(admin::keys::revoke_key)))
        .routes(json_405(routes!(
            admin::tokens::list_tokens,
            admin::tokens::create_token
        )))
        .routes(json_405(routes!(admin::tokens::delete_token)))
        .routes(json_405(routes!(
            admin::users::list_users,
            admin::users::create_user
        )))
        .routes(json_405(routes!(admin::users::delete_user)))
        .routes(json_405(routes!(admin::users::reset_password)))
        .routes(json_405(routes!(alerts::list_alerts)))
        .routes(json_405(routes!(exceptions::list_exceptions)))
        .routes(json_405(routes!(cluster::cluster)))
        .routes(json_405(routes!(alerts::alert_history)))
        .routes(json_405(routes!(
            alerts::rules::list_rules,
            alerts::rules::create_rule
        )))
        .routes(json_405(routes!(alerts::rules::delete_rule)))
        .routes(json_405(routes!(alerts::rules::mute_rule)))
        .routes(json_405(routes!(
            alerts::receivers::list_receivers,
            alerts::receivers::create_receiver
        )))
        .routes(json_405(routes!(alerts::receivers::delete_receiver)))
        .routes(json_405(routes!(alerts::receivers::test_receiver)))
        .routes(json_405(routes!(alerts::receivers::list_deliveries)))
}

/// Routes anyone may call; their operations say so (`security: []`).
fn public() -> OpenApiRouter<Arc<Hub>> {
    let mut r = OpenApiRouter::default()
        .routes(json_405(routes!(doc::get_openapi)))
        // No fallback of its own: the path's other methods (protected) have it.
        .routes(routes!(session::sign_in))
        .routes(json_405(routes!(setup::create_owner)))
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
