//! Several replicas on one PostgreSQL, with nothing else to run: the
//! database is the store and the only way replicas reach each other.
//! Each replica holds its own agents' sessions; what the others must see
//! (live views, changes) and what must reach another replica's agent
//! (actions and their results, sign-in failures) crosses as rows, woken by NOTIFY
//! ([`db`]). Work that must happen once runs under a lease ([`lease`]).
//! On SQLite the hub runs alone: every part here is then a no-op and the
//! lease is always held.

pub mod db;
mod lease;
mod logs;
mod mirror;
pub mod relay;
pub mod run;
pub mod status;

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::store::postgres::connect::Target;

/// This replica's place among the others.
pub struct Cluster {
    /// This replica's id, new at every start (`r-` and 8 hex digits).
    pub id: Arc<str>,
    /// True while this replica holds the once-only lease (always, alone).
    pub lease: watch::Receiver<bool>,
    /// True while the cluster's database connection is up (always, alone).
    pub up: watch::Receiver<bool>,
    /// When this replica started, Unix ms.
    pub started_at: i64,
    /// Alone: the senders of `lease` and `up`, kept so both stay as they are.
    _alone: Option<(watch::Sender<bool>, watch::Sender<bool>)>,
    pg: Option<Pg>,
}

/// What a replica on PostgreSQL adds.
struct Pg {
    db: Arc<db::Db>,
    /// The listening connection is up (the heartbeat alone may fail).
    listening: Arc<std::sync::atomic::AtomicBool>,
    wake: Arc<Notify>,
    lease: watch::Sender<bool>,
    up: watch::Sender<bool>,
    /// Other replicas alive now: samples are published only for them.
    peers: watch::Sender<usize>,
}

impl Cluster {
    /// A hub alone (SQLite): it holds the lease, and nobody else exists.
    pub fn single() -> Self {
        let (lease_tx, lease) = watch::channel(true);
        let (up_tx, up) = watch::channel(true);
        Self {
            id: new_id().into(),
            started_at: crate::clock::now_ms(),
            lease,
            up,
            _alone: Some((lease_tx, up_tx)),
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
            started_at: crate::clock::now_ms(),
            lease,
            up,
            _alone: None,
            pg: Some(Pg {
                db: Arc::new(db::Db::new(target)),
                listening: Default::default(),
                wake: Arc::new(Notify::new()),
                lease: lease_tx,
                up: up_tx,
                peers: watch::channel(0).0,
            }),
        })
    }

    /// Whether other replicas may exist (the hub is on PostgreSQL).
    pub fn shared(&self) -> bool {
        self.pg.is_some()
    }

    /// Whether this replica can serve: the database answers (always, alone).
    pub fn ready(&self) -> bool {
        *self.up.borrow()
    }

    /// Whether this replica holds the once-only lease now.
    pub fn holds_lease(&self) -> bool {
        *self.lease.borrow()
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
