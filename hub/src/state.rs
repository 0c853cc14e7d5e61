//! The state one hub process shares between its parts: settings, store,
//! live state and metrics, built once by [`Hub::new`].

use std::sync::Arc;

use crate::config::Config;
use crate::store::Store;
use crate::{live, metrics};

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
}

impl Hub {
    /// Builds the hub over an opened store.
    pub fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Arc<Self>> {
        let hub_id = store.hub_id()?;
        Ok(Arc::new(Self {
            config,
            store,
            live: live::Live::default(),
            hub_id,
            metrics: metrics::Metrics::new()?,
        }))
    }
}
