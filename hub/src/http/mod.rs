//! The hub's HTTP side below the routes: one error shape (hyper's own
//! refusals included), the connection loop with its timeouts and
//! per-address caps, request limits, and the read budget of upgrades.

pub mod addr;
pub mod conn;
pub mod error;
pub mod fair;
pub mod heads;
pub mod limits;
pub mod plain;
pub mod serve;

pub use error::error_response;

/// Marks a request that reached a trusted reverse proxy over TLS
/// (`X-Forwarded-Proto: https`): its cookies are `Secure` as under the
/// hub's own TLS.
#[derive(Debug, Clone, Copy)]
pub struct ForwardedTls;

/// The token of an `Authorization: Bearer <token>` header, the scheme in
/// any case (RFC 7235); the API and `/metrics` read it the same way.
pub fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            super::bearer(&h).map(String::from)
        };
        for v in ["Bearer t1", "bearer t1", "BEARER t1", "bEaReR   t1 "] {
            assert_eq!(with(v).as_deref(), Some("t1"), "{v}");
        }
        for v in ["Basic dTpw", "Bearer", "Bearer ", "Bearert1", ""] {
            assert_eq!(with(v), None, "{v}");
        }
    }
}
