//! Delivery: one HTTPS (or HTTP) POST per attempt, each under a time
//! limit; network errors and 5xx answers are retried with exponential
//! backoff, 4xx answers are not. Webhook bodies are signed: `X-Pmr-Signature:
//! t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio_rustls::TlsConnector;

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

/// Most bytes of a receiver's answer read (the rest is not needed).
const ANSWER_LIMIT: usize = 64 * 1024;

/// The client side of TLS for receivers: the system's roots.
pub fn tls() -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let cfg = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(cfg))
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

/// One POST; the answer's status, or what failed.
async fn post(
    url: &str,
    body: Bytes,
    headers: &[(&'static str, String)],
    tls: &TlsConnector,
) -> Result<u16, String> {
    let uri: hyper::Uri = url.parse().map_err(|e| format!("bad URL: {e}"))?;
    let https = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err("the URL must be http:// or https://".into()),
    };
    let host = uri.host().ok_or("the URL has no host")?.to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let tcp = tokio::net::TcpStream::connect((host.trim_matches(['[', ']']), port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut req = Request::post(path)
        .header(
            HOST,
            uri.authority().map_or(host.clone(), |a| a.to_string()),
        )
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("pmr-hub/", env!("CARGO_PKG_VERSION")));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
    let status = if https {
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| format!("bad host: {e}"))?;
        let io = tls
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))?;
        send(TokioIo::new(io), req).await?
    } else {
        send(TokioIo::new(tcp), req).await?
    };
    Ok(status)
}

async fn send<T>(io: T, req: Request<Full<Bytes>>) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut tx, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    tokio::spawn(conn);
    let res = tx
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let status = res.status().as_u16();
    // Read (a bounded part of) the answer so the connection ends cleanly.
    let _ = Limited::new(res.into_body(), ANSWER_LIMIT).collect().await;
    Ok(status)
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
    tls: &TlsConnector,
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
        let r = tokio::time::timeout(timeout, post(url, body.clone(), &headers, tls)).await;
        let latency_ms = t.elapsed().as_millis() as i64;
        let (status, error) = match r {
            Ok(Ok(s)) => (Some(s), None),
            Ok(Err(e)) => (None, Some(e)),
            Err(_) => (
                None,
                Some(format!("no answer within {} s", timeout.as_secs())),
            ),
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
