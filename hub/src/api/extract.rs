//! The API's own `Json`, `Query` and `Path` extractors: axum's, with every
//! rejection turned into an [`ApiError`], so a bad request is answered with
//! the JSON error shape, the right status and the name of the field or
//! parameter at fault, never with axum's plain-text body.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
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
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(r) => Err(json_rejection(&r)),
        }
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

/// 415 without the JSON content type, 400 for bad syntax, 422 for a field
/// of the wrong type or value, 413 past the body limit.
fn json_rejection(r: &JsonRejection) -> ApiError {
    let message = match r {
        JsonRejection::JsonDataError(e) => format!("invalid request body: {}", cause(e)),
        JsonRejection::JsonSyntaxError(e) => format!("request body is not JSON: {}", cause(e)),
        JsonRejection::MissingJsonContentType(_) => {
            "send the request body with `Content-Type: application/json`".to_string()
        }
        JsonRejection::BytesRejection(_) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            format!(
                "the request body is over the {} byte limit",
                super::BODY_LIMIT
            )
        }
        other => other.body_text(),
    };
    ApiError::new(r.status(), message)
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
