//! Signed-in sessions: a random id in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` under TLS), stored only as its SHA-256; a CSRF token derived
//! from the id, which every state-changing request with the cookie must
//! repeat in `X-CSRF-Token`; and the limits on sign-in attempts.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::http::addr::AddrKey;
use crate::ratelimit::RateLimit;

/// The cookie's name.
pub const COOKIE: &str = "pmr_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts, ms (a working day and a half).
pub const LIFETIME_MS: i64 = 12 * 3600 * 1000;

fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    pmr_shared::link::handshake::hex(&h.finalize())
}

/// The hash under which a secret (session id, API token) is stored.
pub fn secret_hash(secret: &str) -> String {
    hex_sha256(&[secret.as_bytes()])
}

/// A new session id: 32 random bytes, hex.
pub fn new_id() -> String {
    let mut raw = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    pmr_shared::link::handshake::hex(&raw)
}

/// The CSRF token of a session (derived, so never stored).
pub fn csrf(id: &str) -> String {
    hex_sha256(&[b"pmr-csrf-v1:", id.as_bytes()])
}

/// Whether `given` is the session's CSRF token (constant time).
pub fn csrf_ok(id: &str, given: &str) -> bool {
    subtle::ConstantTimeEq::ct_eq(csrf(id).as_bytes(), given.as_bytes()).into()
}

/// The `Set-Cookie` value for a session (`max_age` 0 ends it).
pub fn cookie(id: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{secure}")
}

/// The session id a request's cookies carry.
pub fn from_cookies(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sign-in attempts allowed: per address and per account, so neither one
/// address nor many can guess a password fast.
pub struct LoginLimits {
    per_address: RateLimit<AddrKey>,
    per_account: RateLimit<String>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            // 10 at once, then one every 6 s.
            per_address: RateLimit::new(1.0 / 6.0, 10.0),
            per_account: RateLimit::new(1.0 / 6.0, 10.0),
        }
    }
}

impl LoginLimits {
    /// Takes an attempt for this address and account; false when over.
    pub fn allow(&self, address: AddrKey, account: &str) -> bool {
        // Both budgets are spent, so a refusal by one still costs the other.
        let a = self.per_address.allow(&address);
        let b = self.per_account.allow(&account.to_ascii_lowercase());
        a && b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_csrf_and_limits() {
        let id = new_id();
        assert_eq!(id.len(), 64);
        let c = cookie(&id, 60, true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.ends_with("Secure"));
        let mut h = HeaderMap::new();
        h.insert(
            "cookie",
            format!("a=b; {COOKIE}={id}; c=d").parse().unwrap(),
        );
        assert_eq!(from_cookies(&h), Some(id.as_str()));
        assert!(csrf_ok(&id, &csrf(&id)) && !csrf_ok(&id, &csrf(&new_id())));
        assert_ne!(secret_hash(&id), id);
        let l = LoginLimits::default();
        let a = AddrKey::V4(1);
        assert!((0..10).all(|_| l.allow(a, "x@example.com")));
        assert!(!l.allow(a, "x@example.com"));
        assert!(!l.allow(a, "y@example.com"), "the address is out of tries");
        assert!(
            !l.allow(AddrKey::V4(2), "X@example.com"),
            "so is the account"
        );
    }
}
