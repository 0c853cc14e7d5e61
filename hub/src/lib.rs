//! pmr-hub: aggregates what every linked pmr agent reports, serves it as a
//! JSON API and Prometheus metrics.
//!
//! Agents come in through [`agents`] (`/agent/v1`), their data lands in
//! [`live`] and the [`store`]; [`api`] reads both. [`http`] holds the
//! connection loop, its limits and the one JSON error shape; [`web`] the
//! dashboard, a view of the API.

pub mod access;
pub mod agents;
pub mod alerts;
pub mod api;
pub mod bench;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod housekeeping;
pub mod http;
pub mod ingest;
pub mod link_line;
pub mod live;
pub mod metrics;
pub mod ratelimit;
pub mod state;
pub mod store;
pub mod tls;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use tokio::net::TcpListener;

pub use clock::now_ms;
pub use http::serve::raise_fd_limit;
pub use state::Hub;

/// Every route on the hub's main port (each described in the OpenAPI
/// document, see [`api`]); errors of every kind are JSON.
/// `door` is the agents' door's state, kept across connections.
pub fn router(hub: Arc<Hub>, door: Arc<agents::Door>) -> Router {
    let app = api::router(hub.clone())
        .layer(axum::Extension(door))
        .merge(web::router());
    let app = finish(app, &hub);
    if hub.tls() {
        app.layer(axum::middleware::map_response(web::hsts))
    } else {
        app
    }
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

/// The feed's first subscriber: counts changes by kind for `/metrics`.
async fn count_changes(hub: Arc<Hub>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut feed = hub.ingest.subscribe();
    loop {
        match feed.recv().await {
            Ok(c) => hub.metrics.changes.with_label_values(&[c.kind()]).inc(),
            Err(RecvError::Lagged(n)) => {
                hub.metrics.changes.with_label_values(&["missed"]).inc_by(n)
            }
            Err(RecvError::Closed) => return,
        }
    }
}

/// Serves on `listener` (TLS when `tls` is given) until `shutdown` resolves;
/// also `/metrics` on its own address when `metrics_listen` is set.
pub async fn serve(
    hub: Arc<Hub>,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    cluster::run::spawn(&hub, hub.config.public_url.clone().unwrap_or(address));
    tokio::spawn(housekeeping::run(hub.clone()));
    tokio::task::spawn_blocking(api::prepare_sign_in);
    tokio::spawn(count_changes(hub.clone()));
    tokio::spawn(alerts::under_lease(hub.clone()));
    let door = agents::Door::new(&hub.config, hub.metrics.pending_handshakes.clone());
    tokio::spawn(door.clone().sweep());
    let cfg = hub.config.clone();
    let refused = hub.metrics.connections_refused.clone();
    let open = hub.metrics.connections_open.clone();
    if let Some(addr) = &cfg.metrics_listen {
        use anyhow::Context;
        let l = TcpListener::bind(addr)
            .await
            .with_context(|| format!("metrics_listen: cannot listen on {addr}"))?;
        let s = http::serve::Serving {
            app: metrics_router(hub.clone()),
            tls: None,
            conns: http::fair::FairPool::new(64, 16, prometheus::IntGauge::new("m", "m")?),
            refused: refused.clone(),
            proxies: Arc::new(Vec::new()),
        };
        let cfg = cfg.clone();
        tokio::spawn(async move {
            let _ = http::serve::run(s, &cfg, l, std::future::pending()).await;
        });
    }
    let leaving = hub.clone();
    let s = http::serve::Serving {
        app: router(hub, door),
        tls: tls.map(tokio_rustls::TlsAcceptor::from),
        conns: http::fair::FairPool::new(
            http::serve::connection_cap(&cfg),
            cfg.max_connections_per_ip,
            open,
        ),
        refused,
        proxies: Arc::new(cfg.trusted_proxies.clone()),
    };
    let served = http::serve::run(s, &cfg, listener, shutdown).await;
    cluster::run::leave(&leaving).await;
    served
}
