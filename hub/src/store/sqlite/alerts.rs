//! The alerting tables of the SQLite backend: rules, receivers, alert
//! history, delivery attempts and exception groups.

use rusqlite::{Connection, OptionalExtension, params};

use super::super::{
    AlertRow, DeliveryRow, ExceptionRow, NotifiedRow, ReceiverRow, RuleRow, StoreResult, Write,
    Written,
};
use super::other;

/// Applies one alerting write; `write::apply` hands over only these.
pub(super) fn apply(c: &Connection, w: &Write) -> rusqlite::Result<Written> {
    Ok(match w {
        Write::CreateRule { name, spec, now } => {
            c.execute(
                "INSERT INTO alert_rules (name, spec, created_at) VALUES (?1, ?2, ?3)",
                params![name, spec, now],
            )?;
            Written::Id(c.last_insert_rowid())
        }
        Write::DeleteRule { id } => Written::Rows(
            c.execute("DELETE FROM alert_rules WHERE id = ?1", params![id])? as u64,
        ),
        Write::MuteRule { id, until } => Written::Rows(c.execute(
            "UPDATE alert_rules SET muted_until = ?2 WHERE id = ?1",
            params![id, until],
        )? as u64),
        Write::CreateReceiver {
            name,
            kind,
            spec,
            sealed,
            host,
            now,
        } => {
            c.execute(
                "INSERT INTO receivers (name, kind, spec, sealed, host, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, kind, spec, sealed, host, now],
            )?;
            Written::Id(c.last_insert_rowid())
        }
        Write::DeleteReceiver { id } => Written::Rows(
            c.execute("DELETE FROM receivers WHERE id = ?1", params![id])? as u64,
        ),
        Write::AlertFired(a) => Written::Rows(c.execute(
            "INSERT INTO alerts (fingerprint, rule, labels, annotations, starts_at, server_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (fingerprint, starts_at) DO NOTHING",
            params![a.fingerprint, a.rule, a.labels.to_string(), a.annotations.to_string(), a.starts_at, a.server_id],
        )? as u64),
        // Closed once: a second resolution of the same row changes nothing.
        Write::AlertResolved {
            fingerprint,
            starts_at,
            ends_at,
        } => Written::Rows(c.execute(
            "UPDATE alerts SET ends_at = ?3 WHERE fingerprint = ?1 AND starts_at = ?2 AND ends_at IS NULL",
            params![fingerprint, starts_at, ends_at],
        )? as u64),
        Write::Notified(n) => {
            let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
            c.execute(
                "INSERT INTO alert_notifications (receiver_id, group_key, sent_at, firing, resolved)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (receiver_id, group_key) DO UPDATE SET
                   sent_at = excluded.sent_at, firing = excluded.firing, resolved = excluded.resolved",
                params![n.receiver_id, n.group_key, n.sent_at, list(&n.firing), list(&n.resolved)],
            )?;
            // Entries of groups quiet for a week are of no more use.
            c.execute(
                "DELETE FROM alert_notifications WHERE sent_at < ?1",
                params![n.sent_at - 7 * 86_400_000],
            )?;
            Written::Done
        }
        Write::Delivery(d) => {
            c.execute(
                "INSERT INTO deliveries (receiver_id, group_key, alerts, attempt, outcome, http_status, latency_ms, error, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![d.receiver_id, d.group_key, d.alerts, d.attempt, d.outcome, d.http_status, d.latency_ms, d.error, d.at],
            )?;
            // The log keeps the newest 10,000 attempts.
            c.execute(
                "DELETE FROM deliveries WHERE id <= (SELECT MAX(id) - 10000 FROM deliveries)",
                [],
            )?;
            Written::Done
        }
        Write::Exception {
            key,
            app,
            message,
            frame,
            at,
            server,
            bucket,
            revision,
            sample,
        } => exception(c, key, app, message, frame, *at, [server, bucket, revision.as_deref().unwrap_or("")], sample)?,
        other => unreachable!("not an alerting write: {other:?}"),
    })
}

pub(super) fn rules(c: &Connection) -> StoreResult<Vec<RuleRow>> {
    let mut st = c
        .prepare("SELECT id, spec, muted_until FROM alert_rules ORDER BY id")
        .map_err(other)?;
    let rows = st
        .query_map([], |r| {
            Ok(RuleRow {
                id: r.get(0)?,
                spec: r.get(1)?,
                muted_until: r.get(2)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn receivers(c: &Connection) -> StoreResult<Vec<ReceiverRow>> {
    let mut st = c
        .prepare("SELECT id, spec, sealed, host, created_at FROM receivers ORDER BY id")
        .map_err(other)?;
    let rows = st
        .query_map([], |r| {
            Ok(ReceiverRow {
                id: r.get(0)?,
                spec: r.get(1)?,
                sealed: r.get(2)?,
                host: r.get(3)?,
                created_at: r.get(4)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

/// Alert rows as `sql` selects them (its columns in `AlertRow`'s order).
fn alert_rows(c: &Connection, sql: &str, p: impl rusqlite::Params) -> StoreResult<Vec<AlertRow>> {
    let mut st = c.prepare(sql).map_err(other)?;
    let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
    let rows = st
        .query_map(p, |r| {
            Ok(AlertRow {
                fingerprint: r.get(0)?,
                rule: r.get(1)?,
                labels: json(r.get(2)?),
                annotations: json(r.get(3)?),
                starts_at: r.get(4)?,
                ends_at: r.get(5)?,
                server_id: r.get(6)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn history(c: &Connection, limit: i64) -> StoreResult<Vec<AlertRow>> {
    alert_rows(
        c,
        "SELECT fingerprint, rule, labels, annotations, starts_at, ends_at, server_id FROM alerts
         ORDER BY starts_at DESC, id DESC LIMIT ?1",
        params![limit],
    )
}

pub(super) fn open(c: &Connection) -> StoreResult<Vec<AlertRow>> {
    alert_rows(
        c,
        "SELECT fingerprint, rule, labels, annotations, starts_at, ends_at, server_id FROM alerts
         WHERE ends_at IS NULL ORDER BY starts_at, id",
        [],
    )
}

pub(super) fn notification_log(c: &Connection) -> StoreResult<Vec<NotifiedRow>> {
    let mut st = c
        .prepare(
            "SELECT receiver_id, group_key, sent_at, firing, resolved FROM alert_notifications",
        )
        .map_err(other)?;
    let list = |s: String| serde_json::from_str(&s).unwrap_or_default();
    let rows = st
        .query_map([], |r| {
            Ok(NotifiedRow {
                receiver_id: r.get(0)?,
                group_key: r.get(1)?,
                sent_at: r.get(2)?,
                firing: list(r.get(3)?),
                resolved: list(r.get(4)?),
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn restarts_since(c: &Connection, since: i64) -> StoreResult<Vec<(i64, String, i64)>> {
    let mut st = c
        .prepare(
            "SELECT server_id, app, at FROM events WHERE kind = 'restart' AND at > ?1
             ORDER BY at LIMIT 100000",
        )
        .map_err(other)?;
    let rows = st
        .query_map(params![since], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn deliveries(c: &Connection, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
    let mut st = c
        .prepare(
            "SELECT receiver_id, group_key, alerts, attempt, outcome, http_status, latency_ms, error, at
             FROM deliveries ORDER BY id DESC LIMIT ?1",
        )
        .map_err(other)?;
    let rows = st
        .query_map(params![limit], |r| {
            Ok(DeliveryRow {
                receiver_id: r.get(0)?,
                group_key: r.get(1)?,
                alerts: r.get(2)?,
                attempt: r.get(3)?,
                outcome: r.get(4)?,
                http_status: r.get(5)?,
                latency_ms: r.get(6)?,
                error: r.get(7)?,
                at: r.get(8)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

/// Most entries of a group's servers, buckets and revisions lists.
const MAX_LIST: usize = 50;

fn with(list: &str, item: &str) -> String {
    let mut v: Vec<String> = serde_json::from_str(list).unwrap_or_default();
    if !item.is_empty() && !v.iter().any(|x| x == item) && v.len() < MAX_LIST {
        v.push(item.to_string());
    }
    serde_json::to_string(&v).unwrap_or_else(|_| "[]".into())
}

#[allow(clippy::too_many_arguments)]
fn exception(
    c: &Connection,
    key: &str,
    app: &str,
    message: &str,
    frame: &str,
    at: i64,
    [server, bucket, revision]: [&str; 3],
    sample: &str,
) -> rusqlite::Result<Written> {
    let lists: Option<(String, String, String)> = c
        .query_row(
            "SELECT servers, buckets, revisions FROM exception_groups WHERE key = ?1",
            params![key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((servers, buckets, revisions)) = lists else {
        c.execute(
            "INSERT INTO exception_groups (key, app, message, frame, count, first_seen, last_seen, servers, buckets, revisions, sample)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?5, ?6, ?7, ?8, ?9)",
            params![key, app, message, frame, at, with("[]", server), with("[]", bucket), with("[]", revision), sample],
        )?;
        return Ok(Written::Rows(1));
    };
    c.execute(
        "UPDATE exception_groups SET count = count + 1, last_seen = MAX(last_seen, ?2), servers = ?3,
         buckets = ?4, revisions = ?5, sample = ?6 WHERE key = ?1",
        params![key, at, with(&servers, server), with(&buckets, bucket), with(&revisions, revision), sample],
    )?;
    Ok(Written::Rows(0))
}

pub(super) fn exception_groups(c: &Connection, limit: i64) -> StoreResult<Vec<ExceptionRow>> {
    let mut st = c
        .prepare(
            "SELECT key, app, message, frame, count, first_seen, last_seen, servers, buckets, revisions, sample
             FROM exception_groups ORDER BY last_seen DESC LIMIT ?1",
        )
        .map_err(other)?;
    let list = |s: String| serde_json::from_str(&s).unwrap_or_default();
    let rows = st
        .query_map(params![limit], |r| {
            Ok(ExceptionRow {
                key: r.get(0)?,
                app: r.get(1)?,
                message: r.get(2)?,
                frame: r.get(3)?,
                count: r.get(4)?,
                first_seen: r.get(5)?,
                last_seen: r.get(6)?,
                servers: list(r.get(7)?),
                buckets: list(r.get(8)?),
                revisions: list(r.get(9)?),
                sample: r.get(10)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn exception_keys(c: &Connection) -> StoreResult<Vec<String>> {
    let mut st = c
        .prepare("SELECT key FROM exception_groups")
        .map_err(other)?;
    let rows = st.query_map([], |r| r.get(0)).map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}
