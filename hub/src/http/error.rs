//! The one shape of every error the hub answers over HTTP:
//! `{"error": "<what went wrong>", "status": <code>}` with a JSON content type,
//! whether it comes from a handler, an extractor, a limit or the router.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Builds the JSON error response every layer of the hub uses.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let message: String = message.into();
    (
        status,
        Json(json!({ "error": message, "status": status.as_u16() })),
    )
        .into_response()
}
