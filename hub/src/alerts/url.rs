//! A receiver's URL: the grammar the API documents (scheme by kind, a
//! plain host, port, path and query), checked wherever a receiver is made
//! (API and command line), and the scheme and host kept to show it.

use super::invalid::Invalid;
use super::receiver::ReceiverKind;

/// Which part of a receiver's URL breaks the documented grammar; its text
/// says what that part must be (the API and the command line show it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Not `https://` (nor `http://` where a webhook allows it).
    #[error("starts with https:// or http://")]
    Scheme,
    /// `http://` for a receiver that must use TLS (Slack, Discord).
    #[error("starts with https:// (http:// only for a webhook)")]
    SchemeTls,
    /// An empty host, or one with other characters.
    #[error("a host of letters, digits, `.` and `-`")]
    Host,
    /// A port that is not a number up to 65535.
    #[error("a port from 0 to 65535")]
    Port,
    /// Characters outside the URL set in the path or query.
    #[error("a path and query of URL characters (letters, digits, `._~!$&'()*+,;=:@%/?-`)")]
    Path,
}

/// Checks a receiver's URL as the document describes it: `https://` (or
/// `http://` for a webhook), a host of letters, digits, `.` and `-`, an
/// optional port, then an optional path and query of URL characters.
pub fn receiver_url(url: &str, plain_http: bool) -> Result<(), UrlError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://").filter(|_| plain_http))
        .ok_or(if plain_http {
            UrlError::Scheme
        } else {
            UrlError::SchemeTls
        })?;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !host_ok {
        return Err(UrlError::Host);
    }
    if let Some(p) = port {
        let digits = !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit());
        if !digits || p.parse::<u32>().map_or(true, |n| n > 65535) {
            return Err(UrlError::Port);
        }
    }
    if !tail
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._~!$&'()*+,;=:@%/?-".contains(c))
    {
        return Err(UrlError::Path);
    }
    Ok(())
}

/// Scheme and host of a receiver's URL, which must be http(s) (http only
/// for a webhook: Slack and Discord are https).
pub fn host_of(url: &str, kind: ReceiverKind) -> Result<String, Invalid> {
    let bad = |m: &str| Invalid::new("url", m);
    receiver_url(url, kind == ReceiverKind::Webhook).map_err(|e| bad(&e.to_string()))?;
    let uri: axum::http::Uri = url.parse().map_err(|e| bad(&format!("{e}")))?;
    let scheme = uri.scheme_str().unwrap_or_default();
    let host = uri.authority().ok_or_else(|| bad("no host"))?;
    Ok(format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn receiver_urls_are_checked_as_documented() {
        for ok in [
            "https://hooks.slack.com/services/T0/B0/x",
            "https://a:443",
            "https://h?x=1",
        ] {
            assert!(super::receiver_url(ok, false).is_ok(), "{ok}");
        }
        assert!(super::receiver_url("http://127.0.0.1:9/x", true).is_ok());
        for bad in [
            "http://a",
            "https://",
            "https://a b",
            "https://a:70000",
            "ftp://a",
            "https://a#f",
            "https://[::1]/",
        ] {
            assert!(super::receiver_url(bad, false).is_err(), "{bad}");
        }
        use super::UrlError;
        assert_eq!(
            super::receiver_url("http://a", false),
            Err(UrlError::SchemeTls)
        );
        assert_eq!(super::receiver_url("ftp://a", true), Err(UrlError::Scheme));
        assert_eq!(
            super::receiver_url("https://a b", true),
            Err(UrlError::Host)
        );
        assert_eq!(
            super::receiver_url("https://a:x", true),
            Err(UrlError::Port)
        );
        assert_eq!(
            super::receiver_url("https://a/#", true),
            Err(UrlError::Path)
        );
    }
}
