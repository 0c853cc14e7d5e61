//! Signed-in sessions: a random id in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` under TLS), stored only as its SHA-256; a CSRF token derived
//! from the id, which every state-changing request with the cookie must
//! repeat in `X-CSRF-Token`; and the limits on sign-in attempts.

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};

use crate::http::addr::AddrKey;
use crate::ratelimit::RateLimit;

/// The cookie's name over plain HTTP.
pub const COOKIE: &str = "pmr_session";
/// Its name under TLS: browsers accept `__Host-` cookies only from this
/// very host, with `Secure` and `Path=/`, so a sibling subdomain cannot
/// plant one (cookie tossing).
pub const COOKIE_TLS: &str = "__Host-pmr_session";

fn cookie_name(secure: bool) -> &'static str {
    if secure { COOKIE_TLS } else { COOKIE }
}
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
    let name = cookie_name(secure);
    let flag = if secure { "; Secure" } else { "" };
    format!("{name}={id}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_secs}{flag}")
}

/// The session id a request's cookies carry (under TLS only the
/// `__Host-` one counts).
pub fn from_cookies(headers: &HeaderMap, secure: bool) -> Option<&str> {
    let name = cookie_name(secure);
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('='))
        .filter(|id| id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Sign-in limits. Every attempt spends its address's budget; only a
/// *failed* one spends the account's, counted per (account, address), so a
/// stranger guessing a user's password cannot lock the user out from
/// elsewhere, and many addresses guessing one account meet a looser ceiling
/// for the account as a whole. Accounts are keyed by a hash of the
/// lower-cased address, so the memory per key is fixed.
pub struct LoginLimits {
    per_address: RateLimit<AddrKey>,
    failures: RateLimit<(String, AddrKey)>,
    account_failures: RateLimit<String>,
    /// Password hashing at once (each takes ~19 MiB and a core for a while).
    pub hashing: tokio::sync::Semaphore,
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self {
            // 10 at once, then one every 6 s.
            per_address: RateLimit::new(1.0 / 6.0, 10.0),
            failures: RateLimit::new(1.0 / 6.0, 10.0),
            // From every address together: 100 failures, then one a second.
            account_failures: RateLimit::new(1.0, 100.0),
            hashing: tokio::sync::Semaphore::new(4),
        }
    }
}

/// The key an account's failures count under (a hash: no address kept).
pub fn account_key(email: &str) -> String {
    secret_hash(&email.to_ascii_lowercase())
}

impl LoginLimits {
    /// Whether an attempt from `address` for `account` may go ahead.
    pub fn allow(&self, address: AddrKey, account: &str) -> bool {
        if !self.per_address.allow(&address) {
            return false;
        }
        // Only looks at the failure budgets: nothing is spent here.
        let key = account_key(account);
        self.failures.has(&(key.clone(), address)) && self.account_failures.has(&key)
    }

    /// Spends the account's failure budgets after a wrong password.
    pub fn failed(&self, address: AddrKey, account: &str) {
        self.failed_key(address, account_key(account));
    }

    /// Spends the budgets of the account keyed `key` ([`account_key`]):
    /// how a failure on another replica counts here too.
    pub fn failed_key(&self, address: AddrKey, key: String) {
        self.failures.allow(&(key.clone(), address));
        self.account_failures.allow(&key);
    }

    /// Forgets idle entries.
    pub fn sweep(&self) {
        self.per_address.sweep();
        self.failures.sweep();
        self.account_failures.sweep();
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
        assert_eq!(from_cookies(&h, false), Some(id.as_str()));
        assert_eq!(
            from_cookies(&h, true),
            None,
            "under TLS only __Host- counts"
        );
        assert!(cookie(&id, 1, true).starts_with("__Host-pmr_session="));
        assert!(csrf_ok(&id, &csrf(&id)) && !csrf_ok(&id, &csrf(&new_id())));
        assert_ne!(secret_hash(&id), id);
        let l = LoginLimits::default();
        let (a, b) = (AddrKey::V4(1), AddrKey::V4(2));
        // Ten wrong passwords from a...
        for _ in 0..10 {
            assert!(l.allow(a, "x@example.com"));
            l.failed(a, "x@example.com");
        }
        // ...lock a out of that account (and its address budget is spent)...
        assert!(!l.allow(a, "x@example.com"));
        assert!(!l.allow(a, "y@example.com"), "the address is out of tries");
        // ...but not the user, signing in from elsewhere.
        assert!(
            l.allow(b, "X@example.com"),
            "a stranger cannot lock the user out"
        );
    }
}
