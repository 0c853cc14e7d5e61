//! The heartbeat and the once-only lease. Every 2 s a replica says it is
//! alive and takes or renews the lease `once`, which lasts 6 s: when its
//! holder dies, another replica holds it within 8 s. A holder that cannot
//! renew stops counting itself the holder before its lease can expire.
//! The holder also tidies the shared tables and marks the agents of a
//! replica silent for 10 s offline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::state::Hub;

/// How often a replica renews.
const EVERY: Duration = Duration::from_secs(2);
/// How long a lease lasts without renewal, seconds.
const LASTS_S: f64 = 6.0;
/// A replica silent this long is taken for dead, seconds.
const DEAD_AFTER_S: f64 = 10.0;

/// Heartbeat and lease, for as long as the hub runs.
pub(super) async fn run(hub: Arc<Hub>, address: String) {
    let Some(pg) = &hub.cluster.pg else {
        return;
    };
    let mut tick = tokio::time::interval(EVERY);
    let mut renewed: Option<Instant> = None;
    loop {
        tick.tick().await;
        match beat(&hub, &address).await {
            Ok(held) => {
                let listening = pg.listening.load(std::sync::atomic::Ordering::Relaxed);
                pg.up
                    .send_if_modified(|u| std::mem::replace(u, listening) != listening);
                renewed = held.then(Instant::now);
                pg.lease
                    .send_if_modified(|h| std::mem::replace(h, held) != held);
                if held && let Err(e) = tidy(&hub).await {
                    tracing::warn!("cluster: {e:#}");
                }
            }
            Err(e) => {
                tracing::warn!("cluster heartbeat: {e:#}");
                pg.up.send_if_modified(|u| std::mem::replace(u, false));
                // Held until our own lease could have run out, not after.
                let lapsed = renewed.is_none_or(|at| at.elapsed().as_secs_f64() > LASTS_S - 2.0);
                if lapsed {
                    pg.lease.send_if_modified(|h| std::mem::replace(h, false));
                }
            }
        }
    }
}

/// Says this replica is alive; takes or renews the lease; counts the other
/// replicas alive. Whether it holds the lease.
async fn beat(hub: &Hub, address: &str) -> anyhow::Result<bool> {
    let db = hub.cluster.db().expect("on PostgreSQL");
    let c = db.client().await?;
    let id: &str = &hub.cluster.id;
    c.execute(
        "INSERT INTO cluster_replicas (id, address) VALUES ($1, $2)
         ON CONFLICT (id) DO UPDATE SET seen_at = now(), address = excluded.address",
        &[&id, &address],
    )
    .await?;
    let held = c
        .query_opt(
            "INSERT INTO cluster_leases (name, holder, expires_at)
             VALUES ('once', $1, now() + make_interval(secs => $2))
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
             WHERE cluster_leases.holder = excluded.holder OR cluster_leases.expires_at < now()
             RETURNING holder",
            &[&id, &LASTS_S],
        )
        .await?;
    let peers: i64 = c
        .query_one(
            "SELECT count(*) FROM cluster_replicas WHERE id <> $1
             AND seen_at > now() - make_interval(secs => $2)",
            &[&id, &DEAD_AFTER_S],
        )
        .await?
        .get(0);
    let pg = hub.cluster.pg.as_ref().expect("on PostgreSQL");
    let peers = peers as usize;
    pg.peers
        .send_if_modified(|p| std::mem::replace(p, peers) != peers);
    Ok(held.is_some())
}

/// The holder's chores: the agents of dead replicas go offline for
/// everyone, old messages and long-dead replicas go.
async fn tidy(hub: &Hub) -> anyhow::Result<()> {
    let db = hub.cluster.db().expect("on PostgreSQL");
    let c = db.client().await?;
    let dead = c
        .execute(
            "WITH l AS (SELECT pg_advisory_xact_lock($2))
             UPDATE cluster_views SET rev = nextval('cluster_rev'), online = false,
               view = jsonb_set(view::jsonb, '{online}', 'false')::text
             FROM l WHERE online AND replica NOT IN
               (SELECT id FROM cluster_replicas WHERE seen_at > now() - make_interval(secs => $1))",
            &[&DEAD_AFTER_S, &super::db::ORDER_LOCK],
        )
        .await?;
    if dead > 0 {
        tracing::info!("{dead} agent(s) of a silent replica marked offline");
        c.execute("SELECT pg_notify($1, '')", &[&super::db::CHANNEL])
            .await?;
    }
    c.batch_execute(
        "DELETE FROM cluster_messages WHERE at < now() - interval '1 minute';
         DELETE FROM cluster_replicas WHERE seen_at < now() - interval '1 day';",
    )
    .await?;
    Ok(())
}
