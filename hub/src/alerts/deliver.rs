//! Delivery: one HTTPS (or HTTP) POST per attempt, through one shared
//! client (connections reused, proxies from the environment), each under a time
//! limit; network errors and 5xx answers are retried with exponential
//! backoff, 4xx answers are not. Webhook bodies are signed: `X-Pmr-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

use std::time::{Duration, Instant};

use bytes::Bytes;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// 1 for the first.
    pub attempt: u32,
    /// `delivered`, `retrying` or `failed`.
    pub outcome: &'static str,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<u16>,
    /// From connect to answer (or error), ms.
    pub latency_ms: i64,
    /// What went wrong.
    pub error: Option<String>,
}

/// Why an attempt got no answer; the delivery log shows it. Never holds
/// the URL (a Slack or Discord URL is itself a secret) nor the answer.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The receiver did not answer within the attempt's time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// No connection (DNS, TCP, TLS, or the proxy refused the tunnel).
    #[error("connect: {0}")]
    Connect(String),
    /// Connected, but the exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
}

impl From<reqwest::Error> for SendError {
    fn from(e: reqwest::Error) -> SendError {
        let connect = e.is_connect();
        // The chain of causes, without the URL reqwest puts first.
        let e = e.without_url();
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        let text = text.escape_default().to_string();
        if connect {
            SendError::Connect(text)
        } else {
            SendError::Http(text)
        }
    }
}

/// Most bytes of a receiver's answer read (the rest is not needed).
const ANSWER_LIMIT: usize = 64 * 1024;

/// The HTTP client every delivery shares, so connections to a receiver
/// are reused and proxies come from the environment (`HTTPS_PROXY`,
/// `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY`, lower case too). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Client(reqwest::Client);

impl Client {
    /// A client trusting the system's roots (`SSL_CERT_FILE` and
    /// `SSL_CERT_DIR` name others), following no redirects: a receiver
    /// that moves answers 3xx, which is retried like a 5xx.
    pub fn new() -> anyhow::Result<Client> {
        warn_of_socks();
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("pmr-hub/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client(client))
    }

    /// One POST; the answer's status, or why there was none.
    async fn post(
        &self,
        url: &str,
        body: Bytes,
        headers: &[(&'static str, String)],
    ) -> Result<u16, SendError> {
        let mut req = self
            .0
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let mut res = req.send().await?;
        let status = res.status().as_u16();
        // Read (a bounded part of) the answer so the connection ends
        // cleanly; it is never kept nor logged.
        let mut read = 0;
        while read < ANSWER_LIMIT {
            match res.chunk().await {
                Ok(Some(c)) => read += c.len(),
                _ => break,
            }
        }
        Ok(status)
    }
}

/// Says at start that a SOCKS proxy in the environment cannot carry
/// webhooks (reqwest is built without SOCKS), naming the variable only: a
/// proxy address may hold a password.
fn warn_of_socks() {
    const VARS: [&str; 6] = [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
    ];
    for var in VARS {
        let socks =
            std::env::var(var).is_ok_and(|v| v.trim().to_ascii_lowercase().starts_with("socks"));
        if socks {
            tracing::warn!(
                variable = var,
                "a SOCKS proxy cannot carry webhooks: deliveries through it fail to connect; \
                 name an HTTP proxy or unset the variable"
            );
        }
    }
}

/// The `X-Pmr-Signature` value for `body` sent at `ts` (Unix seconds).
pub fn signature(secret: &[u8], ts: i64, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(ts.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    let tag = ctx.sign();
    format!(
        "t={ts},v1={}",
        pmr_shared::link::handshake::hex(tag.as_ref())
    )
}

/// The wait after attempt `attempt` (1 for the first) before the next.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(500u64 << (attempt - 1).min(6)).min(Duration::from_secs(30))
}

/// Sends `body` until it is delivered, refused (4xx), out of attempts or
/// (with a `deadline`) out of time: no attempt or wait runs past it.
/// `record` sees every attempt. Returns whether it was delivered.
#[allow(clippy::too_many_arguments)]
pub async fn deliver(
    url: &str,
    body: Vec<u8>,
    secret: Option<&[u8]>,
    timeout: Duration,
    max_attempts: u32,
    deadline: Option<Instant>,
    client: &Client,
    mut record: impl FnMut(Attempt),
) -> bool {
    let body = Bytes::from(body);
    for attempt in 1..=max_attempts.max(1) {
        let mut headers = Vec::new();
        if let Some(s) = secret {
            let ts = chrono::Utc::now().timestamp();
            headers.push(("x-pmr-signature", signature(s, ts, &body)));
        }
        let t = Instant::now();
        let timeout = deadline.map_or(timeout, |d| timeout.min(d.saturating_duration_since(t)));
        let r = tokio::time::timeout(timeout, client.post(url, body.clone(), &headers))
            .await
            .unwrap_or(Err(SendError::Timeout(timeout)));
        let latency_ms = t.elapsed().as_millis() as i64;
        let (status, error) = match r {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let final_no = status.is_some_and(|s| (400..500).contains(&s));
        // Another attempt needs its wait and a second at least.
        let out_of_time = deadline
            .is_some_and(|d| Instant::now() + backoff(attempt) + Duration::from_secs(1) > d);
        let last = attempt == max_attempts.max(1) || out_of_time;
        let outcome = if ok {
            "delivered"
        } else if final_no || last {
            "failed"
        } else {
            "retrying"
        };
        let error = error.or_else(|| (!ok).then(|| format!("HTTP {}", status.unwrap_or(0))));
        record(Attempt {
            attempt,
            outcome,
            http_status: status,
            latency_ms,
            error,
        });
        if outcome != "retrying" {
            return ok;
        }
        tokio::time::sleep(backoff(attempt)).await;
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // A known answer, from Python:
        // hmac.new(b"key", b"1700000000.{}", hashlib.sha256).hexdigest()
        let sig = super::signature(b"key", 1_700_000_000, b"{}");
        assert_eq!(
            sig,
            "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
        );
    }
}
