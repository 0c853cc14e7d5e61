//! The one shape of every error the hub answers over HTTP:
//! `{"error": "<what went wrong>", "status": <code>}` with a JSON content type,
//! whether it comes from a handler, an extractor, a limit or the router.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error: `{"error": "...", "status": 404}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody {
    /// What went wrong, naming the parameter or field at fault.
    pub error: String,
    /// The HTTP status code, repeated for clients that only keep the body.
    pub status: u16,
}

/// Builds the JSON error response every layer of the hub uses.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: message.into(),
        status: status.as_u16(),
    };
    (status, Json(body)).into_response()
}
