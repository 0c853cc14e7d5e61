//! Alerts: rules evaluated as the change feed delivers data ([`engine`]),
//! alerts grouped per receiver with Alertmanager's semantics ([`group`]),
//! and notifications delivered to webhooks, Slack and Discord ([`deliver`],
//! [`receiver`]), each receiver on its own queue and task, so a slow or
//! dead one never slows ingest or the others. Evaluation and sending sit
//! behind one seam, [`Lease`]: with several hub replicas, only the holder
//! of the lease sends.

pub mod cli;
pub mod deliver;
pub mod engine;
pub mod group;
pub mod invalid;
pub mod receiver;
pub mod record;
pub mod rule;
pub mod seal;
mod send;
pub mod url;

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::store::ReceiverRow;
use engine::Engine;
use pmr_shared::sync::Locked;
use receiver::ReceiverSpec;

/// Whether this hub may send notifications now: a hub alone always; of
/// several replicas, the one holding the cluster's lease.
pub trait Lease: Send + Sync {
    /// True while this hub is the one that sends.
    fn held(&self) -> bool;
}

/// The cluster's once-only lease (always held by a hub alone).
impl Lease for tokio::sync::watch::Receiver<bool> {
    fn held(&self) -> bool {
        *self.borrow()
    }
}

/// What a sealed receiver target holds.
#[derive(Debug, Serialize, Deserialize)]
pub struct Target {
    /// Where to POST.
    pub url: String,
    /// The webhook's signing secret, hex (none for Slack and Discord).
    pub secret: Option<String>,
}

/// The API's way to the alerting task.
pub struct Handle {
    engine: Arc<Mutex<Engine>>,
    /// Alerting rows on their way to the store.
    pub recorder: record::Recorder,
    reload: mpsc::Sender<()>,
    /// Taken by the alerting task while it runs (one at a time).
    reload_rx: tokio::sync::Mutex<mpsc::Receiver<()>>,
    sealer: seal::Sealer,
    /// The one HTTP client every delivery (and every test send) uses.
    pub client: deliver::Client,
}

impl Handle {
    /// A handle whose secrets are sealed with the key the settings name.
    pub fn new(config: &crate::config::Config) -> anyhow::Result<Handle> {
        let (tx, rx) = mpsc::channel(4);
        Ok(Handle {
            engine: Arc::new(Mutex::new(Engine::default())),
            recorder: record::Recorder::default(),
            reload: tx,
            reload_rx: tokio::sync::Mutex::new(rx),
            sealer: seal::Sealer::load(config)?,
            client: deliver::Client::new()?,
        })
    }

    /// Alerts pending or firing now.
    pub fn alerts(&self) -> Vec<engine::Alert> {
        self.engine.locked().alerts()
    }

    /// Rules or receivers changed in the store: the task reloads them.
    pub fn reload(&self) {
        let _ = self.reload.try_send(());
    }

    /// Refuses a key other replicas of the database do not share.
    pub fn check_shared_key(&self, store: &dyn crate::store::Store) -> anyhow::Result<()> {
        seal::check_shared(&self.sealer, store)
    }

    /// Seals a receiver's target.
    pub fn seal(&self, t: &Target) -> anyhow::Result<String> {
        self.sealer.seal(serde_json::to_string(t)?.as_bytes())
    }

    fn open(&self, sealed: &str) -> anyhow::Result<Target> {
        Ok(serde_json::from_slice(&self.sealer.open_sealed(sealed)?)?)
    }
}

/// A stored receiver with its settings parsed.
pub fn receiver_spec(row: &ReceiverRow) -> anyhow::Result<ReceiverSpec> {
    Ok(serde_json::from_str(&row.spec)?)
}

/// The names of the stored receivers, for rules that name them.
pub fn receiver_names(store: &dyn crate::store::Store) -> crate::store::StoreResult<Vec<String>> {
    Ok(store
        .receivers()?
        .iter()
        .filter_map(|r| receiver_spec(r).ok().map(|s| s.name))
        .collect())
}

/// The rules (stored ones and, with `file`, the rules file's) that send
/// to receiver `name`: a receiver in use is not deleted.
pub fn rules_using(
    store: &dyn crate::store::Store,
    file: Option<&std::path::Path>,
    name: &str,
) -> anyhow::Result<Vec<String>> {
    let mut specs: Vec<rule::RuleSpec> = match file {
        Some(p) => file_rules(p, None)?.into_iter().map(|r| r.spec).collect(),
        None => Vec::new(),
    };
    for r in store.alert_rules()? {
        let parsed = serde_json::from_str(&r.spec).ok();
        if let Some(s) = parsed.and_then(|v| rule::RuleSpec::parse(v).ok()) {
            specs.push(s);
        }
    }
    Ok(specs
        .into_iter()
        .filter(|s| s.receivers.iter().any(|r| r == name))
        .map(|s| s.name)
        .collect())
}

/// A test notification for receiver `id`, sent by `who`.
pub fn test_notification(
    id: i64,
    receiver: &str,
    hub_url: &str,
    who: &str,
) -> receiver::Notification {
    use std::collections::BTreeMap;
    let labels = BTreeMap::from([
        ("alertname".to_string(), "pmr-hub test".to_string()),
        ("severity".to_string(), "info".to_string()),
    ]);
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    receiver::Notification {
        receiver_id: id,
        receiver: receiver.into(),
        group_key: format!("{receiver}:{{alertname=\"pmr-hub test\"}}"),
        group_labels: labels.clone(),
        alerts: vec![receiver::AlertOut {
            status: "firing".into(),
            labels,
            annotations: BTreeMap::from([(
                "summary".to_string(),
                format!("a test notification sent by {who}"),
            )]),
            starts_at: now,
            ends_at: "0001-01-01T00:00:00Z".into(),
            generator_url: hub_url.into(),
            fingerprint: "0000000000000000".into(),
        }],
        external_url: hub_url.into(),
    }
}

mod load;
mod task;

pub use load::{all_rules, file_rules, listed_rules, stored_rules};
pub use send::send_now;
pub use task::{run, under_lease};
pub use url::host_of;
