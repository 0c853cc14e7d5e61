//! Limits every request meets before its route, answered as JSON errors:
//! the request line and head sizes (414, 431), the time a request may take
//! (408), and the router's own 404 and 405. What hyper refuses before the
//! router (heads it cannot parse or hold) gets the same messages, through
//! [`super::plain`].

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use super::error_response;

/// Longest request target (path and query), bytes.
pub const MAX_URI: usize = 8 * 1024;
/// Most header lines in a request.
pub const MAX_HEADERS: usize = 100;
/// Most bytes of header names and values in a request.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Why a request target is refused with 414, here or by hyper.
pub fn target_too_long() -> String {
    format!("the request target is longer than {MAX_URI} bytes")
}

/// Why a request head is refused with 431, here or by hyper.
pub fn head_too_large() -> String {
    format!("at most {MAX_HEADERS} header lines and {MAX_HEADER_BYTES} bytes of headers")
}

/// Why hyper refuses a request with 400: it could not parse the head.
pub const NOT_HTTP: &str = "the request line or a header line is not valid HTTP/1.1";

/// Refuses oversized request heads, then runs the request within `limit`.
pub async fn guard(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    let target = req.uri().path_and_query().map_or(0, |p| p.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    if target > MAX_URI {
        return error_response(StatusCode::URI_TOO_LONG, target_too_long());
    }
    let headers = req.headers();
    let bytes: usize = headers
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum();
    if headers.len() > MAX_HEADERS || bytes > MAX_HEADER_BYTES {
        return error_response(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            head_too_large(),
        );
    }
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => error_response(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request took longer than {} s", limit.as_secs()),
        ),
    }
}

/// The router's answer for a path it does not know.
pub async fn not_found(req: Request) -> Response {
    error_response(
        StatusCode::NOT_FOUND,
        format!("no route for {}", req.uri().path()),
    )
}

/// The router's answer for a known path asked with another method.
pub async fn method_not_allowed(req: Request) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} is not allowed on {}", req.method(), req.uri().path()),
    )
}
