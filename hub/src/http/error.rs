//! The one shape of every error the hub answers over HTTP:
//! `{"error": "<what went wrong>", "status": <code>}` with a JSON content type
//! (plus `field` when one field of a JSON body is at fault), whether it comes
//! from a handler, an extractor, a limit, the router or the HTTP parser.

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
    /// The request body's field at fault, as a path (`for_secs`,
    /// `scope.app`, `targets[2]`); absent when no one field is.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub field: Option<String>,
}

/// Builds the JSON error response every layer of the hub uses.
pub fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    field_error_response(status, message, None)
}

/// The same, naming the body's field at fault.
pub fn field_error_response(
    status: StatusCode,
    message: impl Into<String>,
    field: Option<String>,
) -> Response {
    (status, Json(error_body(status, message, field))).into_response()
}

/// The body alone, for answers written below the router.
pub fn error_body(
    status: StatusCode,
    message: impl Into<String>,
    field: Option<String>,
) -> ErrorBody {
    ErrorBody {
        error: message.into(),
        status: status.as_u16(),
        field,
    }
}
