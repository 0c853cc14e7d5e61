//! The API's own `Json`, `Query` and `Path` extractors: axum's, with every
//! rejection turned into an [`ApiError`], so a bad request is answered with
//! the JSON error shape, the right status and the name of the field or
//! parameter at fault, never with axum's plain-text body.
//!
//! One status rule for bodies: 415 without the JSON content type, 413 past
//! the limit, 400 for bytes that are not JSON, 422 for JSON with a bad
//! field, whose path (`scope.app`, `targets[1]`) is in the answer's `field`.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::IntoParams;

use super::error::ApiError;

/// A JSON request body (64 KiB at most, `Content-Type: application/json`)
/// or response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// The query string, parsed into a struct that denies unknown parameters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

/// Path parameters, parsed into a struct so errors name the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

/// The query of routes that take no parameters: any parameter is an error.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NoParams {}

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the request body with `Content-Type: application/json`",
            ));
        }
        let bytes = match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => b,
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the request body is over the {} byte limit",
                        super::BODY_LIMIT
                    ),
                ));
            }
            Err(r) => return Err(ApiError::new(r.status(), r.body_text())),
        };
        let mut value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("request body is not JSON: {e}"),
            )
        })?;
        whole_numbers(&mut value);
        body_value(value).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Query(v)),
            Err(r) => Err(query_rejection(&r)),
        }
    }
}

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Path(v)),
            Err(r) => Err(path_rejection(&r)),
        }
    }
}

/// `application/json`, or `application/<anything>+json`, parameters aside.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(ct) = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// JSON Schema counts `5.0` as an integer, so the API does too: a number
/// with no fraction becomes an integer before a typed field reads it.
pub(crate) fn whole_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) {
                *v = Value::from(f as i64);
            } else if f.fract() == 0.0 && f >= 0.0 && f < 2f64.powi(64) {
                *v = Value::from(f as u64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(whole_numbers),
        Value::Object(map) => map.values_mut().for_each(whole_numbers),
        _ => {}
    }
}

/// Reads a JSON value into `T`; a bad field is a 422 naming its path.
pub(crate) fn body_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // An unknown or missing field is named by the message, not the path
        // (which is the object holding it).
        let named = super::error::field_of(&inner)
            .filter(|_| inner.starts_with("unknown field") || inner.starts_with("missing field"));
        let at = |f: &str| {
            if path == "." {
                f.to_string()
            } else {
                format!("{path}.{f}")
            }
        };
        match named {
            Some(f) => ApiError::invalid_at(at(&f), inner),
            None if path == "." => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("invalid request body: {inner}"),
            ),
            None => ApiError::invalid(path, inner),
        }
    })
}

/// 400 naming the query parameter that is unknown or does not parse.
fn query_rejection(r: &QueryRejection) -> ApiError {
    let detail = match r {
        QueryRejection::FailedToDeserializeQueryString(e) => cause(e),
        other => other.body_text(),
    };
    ApiError::new(r.status(), format!("invalid query string: {detail}"))
}

/// 400 naming the path parameter that does not parse (e.g. a non-numeric id).
fn path_rejection(r: &PathRejection) -> ApiError {
    let message = match r {
        PathRejection::FailedToDeserializePathParams(e) => format!("invalid path: {}", e.kind()),
        other => other.body_text(),
    };
    ApiError::new(r.status(), message)
}

/// The serde message under axum's generic prefix, e.g. `limit: invalid digit`.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    e.source()
        .map_or_else(|| e.to_string(), ToString::to_string)
}
