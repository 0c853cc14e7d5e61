//! Every replica sees every agent: each publishes the live views of the
//! agents it holds (at once when their state changed, every 5 s for
//! samples alone) and the changes they made, and applies the others'.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;

use super::db::{CHANNEL, ORDER_LOCK};
use crate::ingest::feed::Change;
use crate::live::ServerView;
use crate::state::Hub;

/// How often views and changes go out.
const TICK: Duration = Duration::from_millis(250);
/// A view whose only news is its samples goes out at most this often.
const SAMPLES_EVERY: Duration = Duration::from_secs(5);
/// Most rows read per query.
const PAGE: i64 = 1000;

/// Publishes this replica's agents, for as long as the hub runs.
pub(super) async fn publish(hub: Arc<Hub>) {
    let mut feed = hub.ingest.subscribe();
    let mut tick = tokio::time::interval(TICK);
    let mut due: HashSet<i64> = HashSet::new();
    let mut sampled: HashSet<i64> = HashSet::new();
    let mut last: HashMap<i64, Instant> = HashMap::new();
    let mut changes: Vec<Change> = Vec::new();
    loop {
        tokio::select! {
            item = feed.recv() => match item {
                Ok(p) if !p.remote => match &p.change {
                    Change::Sample { server_id, .. } => {
                        sampled.insert(*server_id);
                    }
                    // Comings and goings travel as the view's `online`.
                    c @ (Change::ServerUp { .. } | Change::ServerDown { .. }) => {
                        due.insert(c.server_id());
                    }
                    c => {
                        due.insert(c.server_id());
                        changes.push(c.clone());
                    }
                },
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => hub.live.each(|s| {
                    if s.holder.is_none() {
                        due.insert(s.id);
                    }
                }),
                Err(RecvError::Closed) => return,
            },
            _ = tick.tick() => {
                let now = Instant::now();
                due.extend(sampled.iter().filter(|id| {
                    last.get(id).is_none_or(|at| now - *at >= SAMPLES_EVERY)
                }));
                sampled.retain(|id| !due.contains(id));
                let views: Vec<ServerView> = due
                    .drain()
                    .filter(|id| hub.live.holds(*id) || hub.live.get(*id).is_some_and(|v| v.holder.is_none()))
                    .filter_map(|id| hub.live.get(id))
                    .collect();
                for v in &views {
                    last.insert(v.id, now);
                }
                if let Err(e) = send_views(&hub, &views).await {
                    tracing::warn!("cluster: views not published: {e:#}");
                }
                if !changes.is_empty() {
                    let body = serde_json::to_string(&changes).unwrap_or_default();
                    changes.clear();
                    if let Err(e) = hub.cluster.send(None, "changes", &body).await {
                        tracing::warn!("cluster: changes not published: {e:#}");
                    }
                }
            }
        }
    }
}

/// Upserts views in one statement; an offline view never takes a row over
/// from the replica that holds the agent now.
async fn send_views(hub: &Hub, views: &[ServerView]) -> anyhow::Result<()> {
    if views.is_empty() {
        return Ok(());
    }
    let db = hub.cluster.db().expect("on PostgreSQL");
    let c = db.client().await?;
    let ids: Vec<i64> = views.iter().map(|v| v.id).collect();
    let online: Vec<bool> = views.iter().map(|v| v.online).collect();
    let bodies: Vec<String> = views
        .iter()
        .map(|v| serde_json::to_string(v).unwrap_or_default())
        .collect();
    let me: &str = &hub.cluster.id;
    c.execute(
        "WITH l AS (SELECT pg_advisory_xact_lock($5))
         INSERT INTO cluster_views (server_id, replica, online, rev, view)
         SELECT t.s, $1, t.o, nextval('cluster_rev'), t.v FROM l, UNNEST($2::BIGINT[], $3::BOOL[], $4::TEXT[]) AS t(s, o, v)
         ON CONFLICT (server_id) DO UPDATE SET replica = excluded.replica, online = excluded.online,
           rev = excluded.rev, view = excluded.view
         WHERE cluster_views.replica = excluded.replica OR excluded.online",
        &[&me, &ids, &online, &bodies, &ORDER_LOCK],
    )
    .await?;
    c.execute("SELECT pg_notify($1, '')", &[&CHANNEL]).await?;
    Ok(())
}

/// Applies the other replicas' views and messages at every wake-up.
pub(super) async fn read(hub: Arc<Hub>) {
    let Some(pg) = &hub.cluster.pg else {
        return;
    };
    // Views from the start (the fleet as it is); messages from now on.
    let (mut rev, mut id) = (0i64, None);
    loop {
        pg.wake.notified().await;
        if id.is_none() {
            id = match newest_message(&hub).await {
                Ok(n) => Some(n),
                Err(e) => {
                    tracing::warn!("cluster: {e:#}");
                    continue;
                }
            };
        }
        if let Err(e) = read_views(&hub, &mut rev).await {
            tracing::warn!("cluster: views not read: {e:#}");
        }
        if let Some(id) = id.as_mut()
            && let Err(e) = read_messages(&hub, id).await
        {
            tracing::warn!("cluster: messages not read: {e:#}");
        }
    }
}

async fn newest_message(hub: &Hub) -> anyhow::Result<i64> {
    let c = hub.cluster.db().expect("on PostgreSQL").client().await?;
    Ok(
        c.query_one("SELECT COALESCE(MAX(id), 0) FROM cluster_messages", &[])
            .await?
            .get(0),
    )
}

async fn read_views(hub: &Hub, mark: &mut i64) -> anyhow::Result<()> {
    let c = hub.cluster.db().expect("on PostgreSQL").client().await?;
    let me: &str = &hub.cluster.id;
    loop {
        let rows = c
            .query(
                "SELECT rev, replica, view FROM cluster_views WHERE rev > $1 AND replica <> $2
                 ORDER BY rev LIMIT $3",
                &[&*mark, &me, &PAGE],
            )
            .await?;
        for r in &rows {
            *mark = r.get(0);
            let holder: String = r.get(1);
            match serde_json::from_str::<ServerView>(r.get(2)) {
                Ok(mut v) => {
                    v.holder = Some(holder.into());
                    hub.ingest.mirror(v);
                }
                Err(e) => tracing::warn!("cluster: a view from {holder} unread: {e}"),
            }
        }
        if (rows.len() as i64) < PAGE {
            return Ok(());
        }
    }
}

async fn read_messages(hub: &Arc<Hub>, mark: &mut i64) -> anyhow::Result<()> {
    let c = hub.cluster.db().expect("on PostgreSQL").client().await?;
    let me: &str = &hub.cluster.id;
    loop {
        let rows = c
            .query(
                "SELECT id, sender, kind, body FROM cluster_messages
                 WHERE id > $1 AND sender <> $2 AND (recipient IS NULL OR recipient = $2)
                 ORDER BY id LIMIT $3",
                &[&*mark, &me, &PAGE],
            )
            .await?;
        for r in &rows {
            *mark = r.get(0);
            let (sender, kind, body): (String, String, String) = (r.get(1), r.get(2), r.get(3));
            match kind.as_str() {
                "changes" => match serde_json::from_str::<Vec<Change>>(&body) {
                    Ok(changes) => changes.into_iter().for_each(|c| hub.ingest.remote(c)),
                    Err(e) => tracing::warn!("cluster: changes from {sender} unread: {e}"),
                },
                "logs_want" | "log_lines" => super::logs::receive(hub, &sender, &kind, &body),
                _ => super::relay::receive(hub, &sender, &kind, &body).await,
            }
        }
        if (rows.len() as i64) < PAGE {
            return Ok(());
        }
    }
}
