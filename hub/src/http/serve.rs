//! The connection loop under the router, in place of `axum::serve`, which
//! has no timeouts: every connection takes a place in a [`FairPool`], its
//! socket is [`Guarded`] (a write that stalls for
//! [`Config::write_timeout_secs`] ends it), TLS has
//! [`Config::tls_handshake_timeout_secs`], a request head has
//! [`Config::header_timeout_secs`] (which also ends idle keep-alive
//! connections and slowloris clients), its plaintext is [`Plain`] (reads
//! counted, hyper's bare refusals answered as JSON), and shutdown is
//! graceful.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use super::addr::AddrKey;
use super::conn::{Conn, Guarded};
use super::fair::{Eviction, FairPool, Full};
use super::plain::Plain;
use crate::config::Config;
use crate::http::addr::PeerAddr;

/// Largest request head hyper buffers: a little over the 65534-byte target
/// `http::Uri` holds, so that a longer one is hyper's 414 rather than 431
/// however the bytes arrive. Heads within [`super::limits`]'s caps get
/// their 414/431 from the router; hyper's own refusals of larger ones are
/// rewritten to the same JSON by [`Plain`].
const MAX_HEAD_BUF: usize = 72 * 1024;
/// Header lines hyper parses; the router answers more than 100 with 431.
const MAX_HEADER_LINES: usize = 256;

/// What one listener serves.
pub struct Serving {
    /// The routes.
    pub app: Router,
    /// TLS, if any.
    pub tls: Option<TlsAcceptor>,
    /// Connection places, shared fairly between addresses.
    pub conns: Arc<FairPool>,
    /// Refused connections by reason.
    pub refused: prometheus::IntCounterVec,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub proxies: Arc<Vec<std::net::IpAddr>>,
}

/// The client behind `peer`: `peer` itself, or, when it is a trusted proxy,
/// the last `X-Forwarded-For` address that is not one.
fn client(
    peer: SocketAddr,
    headers: &axum::http::HeaderMap,
    proxies: &[std::net::IpAddr],
) -> SocketAddr {
    if !proxies.contains(&peer.ip()) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .into_iter()
        .rev()
        .find(|ip| !proxies.contains(ip))
        .map_or(peer, |ip| SocketAddr::new(ip, 0))
}

/// One descriptor per connection: lift the soft open-file limit to the hard one.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// The slot cap in all: the configured one, but never within 256
/// descriptors of the open-file limit (the store and logs need some).
pub fn connection_cap(cfg: &Config) -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    let fd_room = getrlimit(Resource::RLIMIT_NOFILE)
        .map(|(soft, _)| soft.saturating_sub(256) as usize)
        .unwrap_or(cfg.max_connections);
    cfg.max_connections.min(fd_room).max(16)
}

/// Accepts on `listener` until `shutdown`, then lets open requests finish
/// (at most 10 s).
pub async fn run(
    s: Serving,
    cfg: &Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(cfg.header_timeout_secs.max(1)))
        .max_buf_size(MAX_HEAD_BUF)
        .max_headers(MAX_HEADER_LINES);
    let http = Arc::new(http);
    let tls_timeout = Duration::from_secs(cfg.tls_handshake_timeout_secs.max(1));
    let write_limit = Duration::from_secs(cfg.write_timeout_secs.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors (EMFILE) or a connection reset before
                    // accept: wait a moment rather than spin.
                    tracing::debug!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let (place, eviction) = match s.conns.admit(AddrKey::from(peer.ip())) {
            Ok(p) => p,
            Err(full) => {
                let reason = match full {
                    Full::Pool => "hub_full",
                    Full::Address => "address_full",
                };
                s.refused.with_label_values(&[reason]).inc();
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let conn = Conn::new(place);
        let tcp = Guarded::new(tcp, write_limit);
        let (app, http, stop) = (s.app.clone(), http.clone(), stop_rx.clone());
        let proxies = s.proxies.clone();
        let tls = s.tls.clone();
        tokio::spawn(async move {
            let peer = Peer {
                addr: peer,
                conn,
                eviction,
                proxies,
            };
            match tls {
                None => connection(tcp, peer, app, &http, stop).await,
                Some(acceptor) => {
                    if let Ok(Ok(io)) =
                        tokio::time::timeout(tls_timeout, acceptor.accept(tcp)).await
                    {
                        connection(io, peer, app, &http, stop).await;
                    }
                }
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    // Every connection holds a receiver until it ends.
    let _ = tokio::time::timeout(Duration::from_secs(10), stop_tx.closed()).await;
    Ok(())
}

/// Who is on the other end of one connection.
struct Peer {
    addr: SocketAddr,
    conn: Arc<Conn>,
    eviction: Eviction,
    proxies: Arc<Vec<std::net::IpAddr>>,
}

/// The length of a request's body on the wire; `None` when chunked.
fn wire_body_len(headers: &axum::http::HeaderMap) -> Option<u64> {
    if headers.contains_key(axum::http::header::TRANSFER_ENCODING) {
        return None;
    }
    match headers.get(axum::http::header::CONTENT_LENGTH) {
        None => Some(0),
        Some(v) => v.to_str().ok()?.trim().parse().ok(),
    }
}

async fn connection<I>(
    io: I,
    mut peer: Peer,
    app: Router,
    http: &hyper::server::conn::http1::Builder,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (addr, conn, proxies) = (peer.addr, peer.conn.clone(), peer.proxies.clone());
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let who = client(addr, req.headers(), &proxies);
        let https = req
            .headers()
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"));
        if https && proxies.contains(&addr.ip()) {
            req.extensions_mut().insert(super::ForwardedTls);
        }
        req.extensions_mut().insert(ConnectInfo(PeerAddr(who)));
        conn.request(wire_body_len(req.headers()));
        req.extensions_mut().insert(conn.clone());
        tower::ServiceExt::oneshot(app.clone(), req)
    });
    let io = Plain::new(io, peer.conn.clone());
    let served = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(served);
    tokio::select! {
        _ = served.as_mut() => {}
        // A fairer newcomer took the place: the connection goes at once.
        () = peer.eviction.wait() => {}
        () = async { let _ = stop.wait_for(|s| *s).await; } => {
            served.as_mut().graceful_shutdown();
            let _ = served.await;
        }
    }
}
