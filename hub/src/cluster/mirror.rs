//! Every replica sees every agent: each publishes the live views of the
//! agents it holds (at once when their state changed, every 5 s for
//! samples alone while other replicas are alive to read them) and the
//! changes they made, and applies the others'.

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

/// A full publish after the feed outran the publisher comes at most this often.
const RESYNC_EVERY: Duration = Duration::from_secs(10);

/// What one tick publishes.
struct Batch {
    views: Vec<ServerView>,
    changes: Vec<Change>,
}

/// Publishes this replica's agents, for as long as the hub runs. The feed
/// is read without pause; the database writes go on in a task of their own
/// (one batch at a time: while one is written, the next accumulates).
pub(super) async fn publish(hub: Arc<Hub>) {
    let Some(pg) = &hub.cluster.pg else {
        return;
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Batch>(1);
    tokio::spawn(write_batches(hub.clone(), rx));
    let mut peers = pg.peers.subscribe();
    let mut feed = hub.ingest.subscribe();
    let mut tick = tokio::time::interval(TICK);
    let mut due: HashSet<i64> = HashSet::new();
    let mut sampled: HashSet<i64> = HashSet::new();
    let mut last: HashMap<i64, Instant> = HashMap::new();
    let mut changes: Vec<Change> = Vec::new();
    let mut resync: Option<Instant> = None;
    let all_local = |due: &mut HashSet<i64>| {
        hub.live.each(|s| {
            if s.holder.is_none() {
                due.insert(s.id);
            }
        })
    };
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
                Err(RecvError::Lagged(n)) => {
                    if resync.is_none_or(|at| at.elapsed() >= RESYNC_EVERY) {
                        tracing::warn!("cluster: {n} changes missed; every view goes out again");
                        resync = Some(Instant::now());
                        all_local(&mut due);
                    }
                }
                Err(RecvError::Closed) => return,
            },
            Ok(()) = peers.changed() => {
                // Replicas to read them now: every view goes out once.
                if *peers.borrow_and_update() > 0 {
                    all_local(&mut due);
                }
            }
            _ = tick.tick() => {
                if *peers.borrow() == 0 {
                    // Alone: samples are of no use to anyone.
                    sampled.clear();
                }
                let Ok(slot) = tx.try_reserve() else {
                    continue; // the last batch is still being written
                };
                let now = Instant::now();
                due.extend(sampled.iter().filter(|id| {
                    last.get(id).is_none_or(|at| now - *at >= SAMPLES_EVERY)
                }));
                sampled.retain(|id| !due.contains(id));
                let views: Vec<ServerView> = due
                    .drain()
                    .filter_map(|id| hub.live.get(id))
                    .filter(|v| v.holder.is_none())
                    .collect();
                for v in &views {
                    last.insert(v.id, now);
                }
                slot.send(Batch { views, changes: std::mem::take(&mut changes) });
            }
        }
    }
}

/// Writes each batch: its views, then its changes as one message.
async fn write_batches(hub: Arc<Hub>, mut rx: tokio::sync::mpsc::Receiver<Batch>) {
    while let Some(b) = rx.recv().await {
        if let Err(e) = send_views(&hub, &b.views).await {
            tracing::warn!("cluster: views not published: {e:#}");
        }
        if !b.changes.is_empty() {
            let body = serde_json::to_string(&b.changes).unwrap_or_default();
            if let Err(e) = hub.cluster.send(None, "changes", &body).await {
                tracing::warn!("cluster: changes not published: {e:#}");
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
                Err(e) => tracing::warn!("cluster: a view from {holder:?} unread: {e}"),
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
                    Err(e) => tracing::warn!("cluster: changes from {sender:?} unread: {e}"),
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
