//! pmr-hub: aggregates what every linked pmr agent reports, serves it as a
//! JSON API and Prometheus metrics.
//!
//! Agents come in through [`agents`] (`/agent/v1`), their data lands in
//! [`live`] and the [`store`]; [`api`] reads both. [`http`] holds the
//! connection loop, its limits and the one JSON error shape.

pub mod agents;
pub mod api;
pub mod bench;
pub mod config;
pub mod housekeeping;
pub mod http;
pub mod live;
pub mod metrics;
pub mod ratelimit;
pub mod store;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

use config::Config;
use store::Store;

/// Shared state of one hub process.
pub struct Hub {
    /// Settings.
    pub config: Config,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Live state.
    pub live: live::Live,
    /// This hub's id, signed by agents.
    pub hub_id: String,
    /// Self metrics and the process series.
    pub metrics: metrics::Metrics,
    /// Handshakes per client address.
    pub ip_limit: ratelimit::RateLimit<http::addr::AddrKey>,
    /// Handshakes per bucket key.
    pub key_limit: ratelimit::RateLimit<i64>,
    /// Upgrades waiting for `auth`, shared fairly between addresses.
    pub pending: Arc<agents::pending::Pending>,
    /// The rate-limited log of refused handshakes.
    pub refusals: agents::refusals::Refusals,
}

/// The client's address, for per-address limits and logs.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// One descriptor per agent: lift the soft limit to the hard one.
pub fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
    {
        let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Hub {
    /// Builds the hub over an opened store.
    pub fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<Self>> {
        let hub_id = store.hub_id()?;
        Ok(Arc::new(Self {
            ip_limit: ratelimit::RateLimit::new(
                config.handshakes_per_ip,
                config.handshakes_per_ip * 10.0,
            ),
            key_limit: ratelimit::RateLimit::new(
                config.handshakes_per_key,
                config.handshakes_per_key * 10.0,
            ),
            pending: agents::pending::Pending::new(
                config.max_pending_handshakes,
                config.pending_handshakes_per_ip,
            ),
            refusals: agents::refusals::Refusals::default(),
            config,
            store,
            live: live::Live::default(),
            hub_id,
            metrics: metrics::Metrics::new()?,
        }))
    }
}

/// Every route on the hub's main port (each described in the OpenAPI
/// document, see [`api`]); errors of every kind are JSON.
pub fn router(hub: Arc<Hub>) -> Router {
    finish(api::router(hub.clone()), &hub)
}

/// The routes of a separate `/metrics` listener.
pub fn metrics_router(hub: Arc<Hub>) -> Router {
    finish(
        Router::new().route("/metrics", get(api::ops::metrics_here)),
        &hub,
    )
}

fn finish(r: Router<Arc<Hub>>, hub: &Arc<Hub>) -> Router {
    let limit = Duration::from_secs(hub.config.request_timeout_secs.max(1));
    r.fallback(http::limits::not_found)
        .method_not_allowed_fallback(http::limits::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            limit,
            http::limits::guard,
        ))
        .with_state(hub.clone())
}

/// Serves on `listener` (TLS when `tls` is given) until `shutdown` resolves;
/// also `/metrics` on its own address when `metrics_listen` is set.
pub async fn serve(
    hub: Arc<Hub>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::spawn(housekeeping::run(hub.clone()));
    let cfg = hub.config.clone();
    let refused = hub.metrics.connections_refused.clone();
    if let Some(addr) = &cfg.metrics_listen {
        use anyhow::Context;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("metrics_listen: cannot listen on {addr}"))?;
        let s = http::serve::Serving {
            app: metrics_router(hub.clone()),
            tls: None,
            conns: http::conns::Connections::new(64, 16),
            refused: refused.clone(),
        };
        let cfg = cfg.clone();
        tokio::spawn(async move {
            let _ = http::serve::run(s, &cfg, l, std::future::pending()).await;
        });
    }
    let s = http::serve::Serving {
        app: router(hub),
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
        conns: http::conns::Connections::new(
            http::serve::connection_cap(&cfg),
            cfg.max_connections_per_ip,
        ),
        refused,
    };
    http::serve::run(s, &cfg, listener, shutdown).await
}
