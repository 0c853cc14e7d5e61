//! Starting a replica's tasks (nothing to start for a hub alone), and
//! what a replica does when the database comes and goes.

use std::sync::Arc;

use crate::state::Hub;

/// Starts the replica's tasks: listening, the lease and heartbeat,
/// publishing this replica's agents and reading the others', live logs.
pub fn spawn(hub: &Arc<Hub>, address: String) {
    let Some(pg) = &hub.cluster.pg else {
        hub.metrics.lease_held.set(1);
        hub.metrics.database_up.set(1);
        return;
    };
    let db = pg.db.clone();
    tokio::spawn(db.listen(pg.wake.clone(), pg.listening.clone(), pg.up.clone()));
    tokio::spawn(watch_database(hub.clone()));
    tokio::spawn(super::lease::run(hub.clone(), address));
    tokio::spawn(super::mirror::publish(hub.clone()));
    tokio::spawn(super::mirror::read(hub.clone()));
    tokio::spawn(super::logs::run(hub.clone()));
}

/// When the database is lost, this replica's agents are told to try
/// another replica (which may still reach it) rather than wait here.
async fn watch_database(hub: Arc<Hub>) {
    let mut up = hub.cluster.up.clone();
    let mut lease = hub.cluster.lease.clone();
    loop {
        tokio::select! {
            r = up.changed() => {
                if r.is_err() {
                    return;
                }
                let now = *up.borrow_and_update();
                hub.metrics.database_up.set(i64::from(now));
                if !now {
                    let n = hub.live.close_all(pmr_shared::link::messages::close::TRY_AGAIN);
                    tracing::warn!("the database does not answer: not ready, {n} agent session(s) sent to another replica");
                } else {
                    tracing::info!("the database answers again: ready");
                }
            }
            r = lease.changed() => {
                if r.is_err() {
                    return;
                }
                let held = *lease.borrow_and_update();
                hub.metrics.lease_held.set(i64::from(held));
                tracing::info!("{} the once-only lease", if held { "holds" } else { "no longer holds" });
            }
        }
    }
}

/// On a clean stop: gives the lease up and leaves the replicas' list, so
/// another replica takes the once-only work at its next heartbeat (2 s)
/// instead of after the lease runs out.
pub async fn leave(hub: &Hub) {
    let Some(db) = hub.cluster.db() else {
        return;
    };
    let id: &str = &hub.cluster.id;
    let left = async {
        let c = db.client().await?;
        c.execute("DELETE FROM cluster_leases WHERE holder = $1", &[&id])
            .await?;
        c.execute("DELETE FROM cluster_replicas WHERE id = $1", &[&id])
            .await?;
        anyhow::Ok(())
    };
    match tokio::time::timeout(std::time::Duration::from_secs(2), left).await {
        Ok(Ok(())) => tracing::info!("left the replicas: the lease is free"),
        Ok(Err(e)) => tracing::warn!("cluster: could not leave cleanly: {e:#}"),
        Err(_) => {
            tracing::warn!("cluster: could not leave cleanly: the database did not answer in 2 s")
        }
    }
}
