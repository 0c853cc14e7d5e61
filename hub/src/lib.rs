//! pmr-hub: aggregates what every linked pmr agent reports, serves it as a
//! JSON API and Prometheus metrics.
//!
//! The websocket gateway and the API both write through [`live::Live`]; the
//! store knows no HTTP and no websocket.

pub mod api;
pub mod bench;
pub mod config;
pub mod gateway;
pub mod http;
pub mod live;
pub mod metrics;
pub mod ratelimit;
pub mod store;
pub mod tls;

use std::net::{IpAddr, SocketAddr};
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
    pub ip_limit: ratelimit::RateLimit<IpAddr>,
    /// Handshakes per bucket key.
    pub key_limit: ratelimit::RateLimit<i64>,
    /// Connections not yet authenticated, at most [`MAX_PENDING_HANDSHAKES`].
    pub pending_handshakes: Arc<tokio::sync::Semaphore>,
}

/// Most connections in the handshake at once.
pub const MAX_PENDING_HANDSHAKES: usize = 512;

/// The client's address, for per-address limits; one type for plain and
/// TLS listeners.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TcpListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TcpListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tls::TlsListener>>
    for PeerAddr
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tls::TlsListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}

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
            config,
            store,
            live: live::Live::default(),
            hub_id,
            metrics: metrics::Metrics::new()?,
            pending_handshakes: Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES)),
        }))
    }
}

/// Every route on the hub's one port.
pub fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route("/agent/v1", get(gateway::upgrade))
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .merge(api::router(hub.clone()))
        .with_state(hub)
}

async fn metrics_text(
    axum::extract::State(hub): axum::extract::State<Arc<Hub>>,
) -> impl axum::response::IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        hub.metrics.render(&hub.live, hub.config.max_series),
    )
}

async fn ready(
    axum::extract::State(hub): axum::extract::State<Arc<Hub>>,
) -> axum::http::StatusCode {
    let store = hub.store.clone();
    match tokio::task::spawn_blocking(move || store.hub_id()).await {
        Ok(Ok(_)) => axum::http::StatusCode::OK,
        _ => axum::http::StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// Serves on `listener` (TLS when `tls` is given) until `shutdown` resolves.
pub async fn serve(
    hub: Arc<Hub>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    tokio::spawn(housekeeping(hub.clone()));
    let app = router(hub).into_make_service_with_connect_info::<PeerAddr>();
    match tls {
        Some(cfg) => {
            let l = tls::TlsListener::new(listener, cfg)?;
            axum::serve(l, app).with_graceful_shutdown(shutdown).await?;
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await?
        }
    }
    Ok(())
}

/// Folds finished 5-minute windows (a minute of slack for late rows) that
/// were not folded yet.
fn downsample(store: &dyn Store) -> store::StoreResult<()> {
    let span = store::COARSE_SPAN_MS;
    let to = (now_ms() - 60_000) / span * span;
    let mark = store
        .meta("downsampled_until")?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(to - 12 * span);
    let dirty = store
        .meta("downsample_dirty_from")?
        .and_then(|v| v.parse::<i64>().ok());
    let from = dirty.map_or(mark, |d| d.min(mark) / span * span);
    if to > from {
        store.downsample(from, to)?;
        store.set_meta("downsampled_until", &to.to_string())?;
        if dirty.is_some() {
            store.set_meta("downsample_dirty_from", "")?;
        }
    }
    Ok(())
}

/// Closes sessions of keys revoked by `pmr-hub keys revoke` (another
/// process, so the store is the only channel), keeps last-seen times and
/// prunes old rows.
async fn housekeeping(hub: Arc<Hub>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        n += 1;
        let store = hub.store.clone();
        if let Ok(Ok(keys)) = tokio::task::spawn_blocking(move || store.list_keys()).await {
            let revoked: std::collections::HashSet<i64> = keys
                .iter()
                .filter(|k| k.revoked_at.is_some())
                .map(|k| k.id)
                .collect();
            if !revoked.is_empty() {
                let closed = hub
                    .live
                    .close_keys(&revoked, pmr_shared::link::messages::close::REVOKED);
                if closed > 0 {
                    tracing::info!("closed {closed} session(s) of revoked keys");
                }
            }
        }
        if n.is_multiple_of(10) {
            let mut seen = Vec::new();
            hub.live.each(|s| {
                if s.online {
                    seen.push((s.id, s.last_seen));
                }
            });
            let store = hub.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.touch_servers(&seen)).await;
        }
        if n % 10 == 5 {
            hub.ip_limit.sweep();
            hub.key_limit.sweep();
        }
        if n % 600 == 300 {
            // Servers gone for a day leave memory; their history stays stored.
            hub.live.evict_offline(now_ms(), 86_400_000);
        }
        if n % 60 == 30 {
            let store = hub.store.clone();
            if let Ok(Err(e)) =
                tokio::task::spawn_blocking(move || downsample(store.as_ref())).await
            {
                tracing::warn!("downsampling failed: {e}");
            }
        }
        if n % 3600 == 1 {
            let day = 86_400_000i64;
            let now = now_ms();
            let ev = now - i64::from(hub.config.retention_events_days) * day;
            let ro = now - i64::from(hub.config.retention_rollups_days) * day;
            let co = now - i64::from(hub.config.retention_coarse_days) * day;
            let store = hub.store.clone();
            if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || store.prune(ev, ro, co)).await
                && n > 0
            {
                tracing::info!("pruned {n} old rows");
            }
        }
    }
}
