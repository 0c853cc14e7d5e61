//! Who the replicas are: each one's address, when it started and last
//! spoke, how many agents it holds and whether it holds the lease; for the
//! dashboard's Hub page and `GET /api/v1/cluster`.

use serde::Serialize;
use utoipa::ToSchema;

use crate::live::Live;

/// One replica.
#[derive(Debug, Serialize, ToSchema)]
pub struct Replica {
    /// Its id, new at each start.
    pub id: String,
    /// Where it listens (its `public_url` when set).
    pub address: String,
    /// When it started, Unix ms.
    pub started_at: i64,
    /// When it last said it was alive, Unix ms.
    pub seen_at: i64,
    /// It spoke within the last 10 s.
    pub alive: bool,
    /// Agents whose session it holds.
    pub agents: i64,
    /// It holds the once-only lease (alerting, folding, pruning).
    pub lease: bool,
    /// It is the replica that answered.
    pub this: bool,
}

/// The hub's replicas.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `sqlite` (one hub) or `postgres` (any number of replicas).
    pub store: &'static str,
    /// The replica that answered.
    pub replica: String,
    /// Every replica seen within the hour, the oldest first.
    pub replicas: Vec<Replica>,
}

impl super::Cluster {
    /// The replicas now; a hub alone is the one replica there is.
    pub async fn status(&self, live: &Live) -> anyhow::Result<Status> {
        let Some(db) = self.db() else {
            return Ok(Status {
                store: "sqlite",
                replica: self.id.to_string(),
                replicas: vec![Replica {
                    id: self.id.to_string(),
                    address: String::new(),
                    started_at: self.started_at,
                    seen_at: crate::clock::now_ms(),
                    alive: true,
                    agents: live.connected() as i64,
                    lease: true,
                    this: true,
                }],
            });
        };
        let c = db.client().await?;
        let me: &str = &self.id;
        let rows = c
            .query(
                "SELECT r.id, r.address,
                   (extract(epoch FROM r.started_at) * 1000)::BIGINT,
                   (extract(epoch FROM r.seen_at) * 1000)::BIGINT,
                   r.seen_at > now() - interval '10 seconds',
                   (SELECT count(*) FROM cluster_views v WHERE v.replica = r.id AND v.online),
                   EXISTS (SELECT 1 FROM cluster_leases l WHERE l.name = 'once' AND l.holder = r.id AND l.expires_at > now())
                 FROM cluster_replicas r WHERE r.seen_at > now() - interval '1 hour' ORDER BY r.started_at",
                &[],
            )
            .await?;
        Ok(Status {
            store: "postgres",
            replica: me.to_string(),
            replicas: rows
                .iter()
                .map(|r| Replica {
                    id: r.get(0),
                    address: r.get(1),
                    started_at: r.get(2),
                    seen_at: r.get(3),
                    alive: r.get(4),
                    agents: r.get(5),
                    lease: r.get(6),
                    this: r.get::<_, String>(0) == me,
                })
                .collect(),
        })
    }
}
