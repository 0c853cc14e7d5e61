//! Several replicas on one PostgreSQL, with nothing else to run: the
//! database is the store and the only way replicas reach each other.
//! Each replica holds its own agents' sessions; what the others must see
//! (live views, changes) and what must reach another replica's agent
//! (actions and their results) crosses as rows, woken by NOTIFY
//! ([`db`]). Work that must happen once runs under a lease ([`lease`]).
//! On SQLite the hub runs alone: every part here is then a no-op and the
//! lease is always held.

pub mod db;
mod lease;
mod mirror;
mod relay;

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::state::Hub;
use crate::store::postgres::connect::Target;

pub use relay::relay_action;

/// This replica's place among the others.
pub struct Cluster {
    /// This replica's id, new at every start (`r-` and 8 hex digits).
    pub id: Arc<str>,
    /// True while this replica holds the once-only lease (always, alone).
    pub lease: watch::Receiver<bool>,
    /// True while the cluster's database connection is up (always, alone).
    pub up: watch::Receiver<bool>,
    pg: Option<Pg>,
}

/// What a replica on PostgreSQL adds.
struct Pg {
    db: Arc<db::Db>,
    wake: Arc<Notify>,
    lease: watch::Sender<bool>,
    up: watch::Sender<bool>,
}

impl Cluster {
    /// A hub alone (SQLite): it holds the lease, and nobody else exists.
    pub fn single() -> Self {
        Self {
            id: new_id().into(),
            lease: watch::channel(true).1,
            up: watch::channel(true).1,
            pg: None,
        }
    }

    /// A replica on the PostgreSQL database at `url` (nothing connects
    /// before [`Cluster::spawn`]).
    pub fn postgres(url: &str) -> anyhow::Result<Self> {
        let target: Target = crate::store::postgres::connect::target(url)?;
        let (lease_tx, lease) = watch::channel(false);
        let (up_tx, up) = watch::channel(false);
        Ok(Self {
            id: new_id().into(),
            lease,
            up,
            pg: Some(Pg {
                db: Arc::new(db::Db::new(target)),
                wake: Arc::new(Notify::new()),
                lease: lease_tx,
                up: up_tx,
            }),
        })
    }

    /// Whether other replicas may exist (the hub is on PostgreSQL).
    pub fn shared(&self) -> bool {
        self.pg.is_some()
    }

    /// Whether this replica holds the once-only lease now.
    pub fn holds_lease(&self) -> bool {
        *self.lease.borrow()
    }

    /// Starts the replica's tasks: listening, the lease and heartbeat,
    /// publishing this replica's agents and reading the others'.
    pub fn spawn(hub: &Arc<Hub>, address: String) {
        let Some(pg) = &hub.cluster.pg else {
            return;
        };
        tokio::spawn(pg.db.clone().listen(pg.wake.clone(), pg.up.clone()));
        tokio::spawn(lease::run(hub.clone(), address));
        tokio::spawn(mirror::publish(hub.clone()));
        tokio::spawn(mirror::read(hub.clone()));
    }

    /// The statement connection (PostgreSQL only).
    fn db(&self) -> Option<&Arc<db::Db>> {
        self.pg.as_ref().map(|p| &p.db)
    }

    /// Sends a message to one replica (`Some`) or all others, then wakes
    /// them; the body is stored, the notification carries nothing.
    async fn send(&self, to: Option<&str>, kind: &str, body: &str) -> anyhow::Result<()> {
        let Some(db) = self.db() else {
            return Ok(());
        };
        let c = db.client().await?;
        c.execute(
            "WITH l AS (SELECT pg_advisory_xact_lock($6)),
               m AS (INSERT INTO cluster_messages (sender, recipient, kind, body)
                 SELECT $1, $2, $3, $4 FROM l RETURNING id)
             SELECT pg_notify($5, '') FROM m",
            &[&&*self.id, &to, &kind, &body, &db::CHANNEL, &db::ORDER_LOCK],
        )
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cluster: {}",
                crate::store::postgres::connect::error_text(&e)
            )
        })?;
        Ok(())
    }
}

fn new_id() -> String {
    let mut raw = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut raw);
    format!("r-{}", pmr_shared::link::handshake::hex(&raw))
}
