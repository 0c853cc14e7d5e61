//! The dashboard: one HTML shell and a few ES modules, embedded in the
//! binary (no build step anywhere). Every page is a view of `/api/v1`: the
//! browser signs in with `POST /api/v1/session` and reads what a script
//! would, so the server checks roles and buckets in one place.
//!
//! Page addresses all answer the same shell; the modules route on the path.
//! Assets are served with an ETag, gzip when the browser takes it, and a
//! strict Content-Security-Policy (scripts and styles from this origin
//! only, no inline code, no framing).

pub mod assets;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::Hub;

/// The paths of the dashboard's pages (the shell answers each).
pub const PAGES: [&str; 17] = [
    "/",
    "/login",
    "/setup",
    "/processes",
    "/servers/{id}",
    "/servers/{id}/processes/{pm_id}",
    "/versions",
    "/events",
    "/alerts",
    "/exceptions",
    "/admin/rules",
    "/admin/receivers",
    "/admin/keys",
    "/admin/users",
    "/admin/tokens",
    "/admin/audit",
    "/admin/hub",
];

/// The dashboard's routes: its pages and `/assets/{file}`.
pub fn router() -> Router<Arc<Hub>> {
    let mut r = Router::new().route("/assets/{file}", get(asset));
    for p in PAGES {
        r = r.route(p, get(shell));
    }
    r
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn secure_headers(h: &mut HeaderMap) {
    let set = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "same-origin"),
    ];
    for (k, v) in set {
        h.insert(k, HeaderValue::from_static(v));
    }
}

/// On a hub that serves TLS, every answer tells the browser to come back
/// over HTTPS only, for a year (HSTS).
pub async fn hsts(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    r
}

/// Whether the request carries a session cookie (valid or not).
fn has_session_cookie(req: &HeaderMap) -> bool {
    req.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|c| {
            let name = c.trim().split('=').next().unwrap_or_default();
            name == crate::access::session::COOKIE || name == crate::access::session::COOKIE_TLS
        })
}

/// The shell; without a session cookie, the variant that says so, so the
/// page opens the sign-in form without asking the API first (a 401 that
/// every browser logs as an error).
async fn shell(req: HeaderMap) -> Response {
    let mut r = if has_session_cookie(&req) {
        serve(&req, &assets::SHELL)
    } else {
        serve(&req, assets::signed_out_shell())
    };
    r.headers_mut().insert(
        header::VARY,
        HeaderValue::from_static("Accept-Encoding, Cookie"),
    );
    r
}

async fn asset(axum::extract::Path(file): axum::extract::Path<String>, req: HeaderMap) -> Response {
    match assets::find(&file) {
        Some(a) => serve(&req, a),
        None => crate::http::error_response(StatusCode::NOT_FOUND, format!("no asset {file}")),
    }
}

/// Answers one asset: 304 when the browser's copy is current, gzip when
/// it accepts it. `no-cache`: the browser revalidates, so a new hub binary
/// is never mixed with old modules.
fn serve(req: &HeaderMap, a: &'static assets::Asset) -> Response {
    let etag = a.etag();
    let fresh = req
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let gzip = req
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else if gzip {
        let mut r = a.gzipped().to_vec().into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        a.body.to_vec().into_response()
    };
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    secure_headers(h);
    r
}
