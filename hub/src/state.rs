//! The state one hub process shares between its parts: settings, store,
//! live state and metrics, built once by [`Hub::new`].

use std::sync::Arc;

use crate::config::Config;
use crate::store::{self, Store};
use crate::{ingest, live, metrics};

/// Shared state of one hub process.
pub struct Hub {
    /// Settings.
    pub config: Config,
    /// Persistence.
    pub store: Arc<dyn Store>,
    /// Live state (written by ingest only).
    pub live: Arc<live::Live>,
    /// The way in for everything agents send.
    pub ingest: ingest::Ingest,
    /// The API's writes (accounts, keys, rules, actions, audit), through
    /// the store's single writer.
    pub admin: store::writer::Admin,
    /// Housekeeping's and alerting's writes, through the same single writer.
    pub writer: store::writer::Writer,
    /// Sign-in attempts per address and per account.
    pub logins: crate::access::session::LoginLimits,
    /// This hub's id, signed by agents.
    pub hub_id: String,
    /// Self metrics and the process series.
    pub metrics: metrics::Metrics,
    /// Alerts: the engine's state, rule reloads, sealed receiver secrets.
    pub alerts: crate::alerts::Handle,
    /// The fleet's figures every 5 s, shared by every fleet-wide page.
    pub figures: ingest::digest::Digests,
    /// This replica among the others on one database (alone on SQLite).
    pub cluster: crate::cluster::Cluster,
}

impl Hub {
    /// Whether the hub serves TLS itself (cookies are then `Secure`).
    pub fn tls(&self) -> bool {
        self.config.tls_cert.is_some() || self.config.self_signed
    }

    /// Builds the hub over an opened store.
    pub fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<Self>> {
        let hub_id = store.hub_id()?;
        let metrics = metrics::Metrics::new()?;
        let writer = store::writer::Writer::spawn(store.clone(), metrics.writer.clone())?;
        let live = Arc::new(live::Live::default());
        let alerts = crate::alerts::Handle::new(&config)?;
        let cluster = match config.store()? {
            crate::config::Database::Postgres(url) => {
                alerts.check_shared_key(store.as_ref())?;
                crate::cluster::Cluster::postgres(&url)?
            }
            crate::config::Database::Sqlite(_) => crate::cluster::Cluster::single(),
        };
        Ok(Arc::new(Self {
            cluster,
            alerts,
            figures: Default::default(),
            ingest: ingest::Ingest::new(live.clone(), writer.clone(), metrics.log_viewers.clone()),
            admin: store::writer::Admin::new(writer.clone()),
            writer,
            logins: Default::default(),
            config,
            store,
            live,
            hub_id,
            metrics,
        }))
    }
}
