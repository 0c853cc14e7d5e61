//! The alerting tables of the PostgreSQL backend: rules, receivers, alert
//! history, delivery attempts and exception groups.

use postgres::{Client, Row, Transaction};

use super::super::{
    AlertRow, DeliveryRow, ExceptionRow, NotifiedRow, ReceiverRow, RuleRow, StoreResult, Write,
    Written,
};
use super::read::rows;

/// Applies one alerting write; `write::apply` hands over only these.
pub(super) fn apply(c: &mut Transaction<'_>, w: &Write) -> Result<Written, postgres::Error> {
    Ok(match w {
        Write::CreateRule { name, spec, now } => Written::Id(
            c.query_one(
                "INSERT INTO alert_rules (name, spec, created_at) VALUES ($1, $2, $3) RETURNING id",
                &[name, spec, now],
            )?
            .get(0),
        ),
        Write::DeleteRule { id } => {
            Written::Rows(c.execute("DELETE FROM alert_rules WHERE id = $1", &[id])?)
        }
        Write::MuteRule { id, until } => Written::Rows(c.execute(
            "UPDATE alert_rules SET muted_until = $2 WHERE id = $1",
            &[id, until],
        )?),
        Write::CreateReceiver {
            name,
            kind,
            spec,
            sealed,
            host,
            now,
        } => Written::Id(
            c.query_one(
                "INSERT INTO receivers (name, kind, spec, sealed, host, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[name, kind, spec, sealed, host, now],
            )?
            .get(0),
        ),
        Write::DeleteReceiver { id } => {
            Written::Rows(c.execute("DELETE FROM receivers WHERE id = $1", &[id])?)
        }
        Write::AlertFired(a) => Written::Rows(c.execute(
            "INSERT INTO alerts (fingerprint, rule, labels, annotations, starts_at, server_id)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (fingerprint, starts_at) DO NOTHING",
            &[
                &a.fingerprint,
                &a.rule,
                &a.labels.to_string(),
                &a.annotations.to_string(),
                &a.starts_at,
                &a.server_id,
            ],
        )?),
        // Closed once: a second resolution of the same row changes nothing.
        Write::AlertResolved {
            fingerprint,
            starts_at,
            ends_at,
        } => Written::Rows(c.execute(
            "UPDATE alerts SET ends_at = $3 WHERE fingerprint = $1 AND starts_at = $2 AND ends_at IS NULL",
            &[fingerprint, starts_at, ends_at],
        )?),
        Write::Notified(n) => {
            let list = |v: &Vec<String>| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
            c.execute(
                "INSERT INTO alert_notifications (receiver_id, group_key, sent_at, firing, resolved)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (receiver_id, group_key) DO UPDATE SET
                   sent_at = excluded.sent_at, firing = excluded.firing, resolved = excluded.resolved",
                &[&n.receiver_id, &n.group_key, &n.sent_at, &list(&n.firing), &list(&n.resolved)],
            )?;
            // Entries of groups quiet for a week are of no more use.
            c.execute(
                "DELETE FROM alert_notifications WHERE sent_at < $1",
                &[&(n.sent_at - 7 * 86_400_000)],
            )?;
            Written::Done
        }
        Write::Delivery(d) => {
            c.execute(
                "INSERT INTO deliveries (receiver_id, group_key, alerts, attempt, outcome, http_status, latency_ms, error, at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[&d.receiver_id, &d.group_key, &d.alerts, &d.attempt, &d.outcome, &d.http_status, &d.latency_ms, &d.error, &d.at],
            )?;
            // The log keeps the newest 10,000 attempts.
            c.execute(
                "DELETE FROM deliveries WHERE id <= (SELECT MAX(id) - 10000 FROM deliveries)",
                &[],
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
        } => {
            let revision = revision.as_deref().unwrap_or("");
            exception(c, [key, app, message, frame], *at, [server, bucket, revision], sample)?
        }
        other => unreachable!("not an alerting write: {other:?}"),
    })
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

/// One occurrence into its group: `[key, app, message, frame]`, where it
/// was seen `[server, bucket, revision]`, and its detail.
fn exception(
    c: &mut Transaction<'_>,
    [key, app, message, frame]: [&str; 4],
    at: i64,
    [server, bucket, revision]: [&str; 3],
    sample: &str,
) -> Result<Written, postgres::Error> {
    // FOR UPDATE: two replicas growing one group take turns.
    let lists = c.query_opt(
        "SELECT servers, buckets, revisions FROM exception_groups WHERE key = $1 FOR UPDATE",
        &[&key],
    )?;
    let Some(lists) = lists else {
        let n = c.execute(
            "INSERT INTO exception_groups (key, app, message, frame, count, first_seen, last_seen, servers, buckets, revisions, sample)
             VALUES ($1, $2, $3, $4, 1, $5, $5, $6, $7, $8, $9) ON CONFLICT (key) DO NOTHING",
            &[&key, &app, &message, &frame, &at, &with("[]", server), &with("[]", bucket), &with("[]", revision), &sample],
        )?;
        if n == 1 {
            return Ok(Written::Rows(1));
        }
        // Another replica made the group meanwhile: grow it instead.
        return exception(
            c,
            [key, app, message, frame],
            at,
            [server, bucket, revision],
            sample,
        );
    };
    let (servers, buckets, revisions): (String, String, String) =
        (lists.get(0), lists.get(1), lists.get(2));
    c.execute(
        "UPDATE exception_groups SET count = count + 1, last_seen = GREATEST(last_seen, $2), servers = $3,
         buckets = $4, revisions = $5, sample = $6 WHERE key = $1",
        &[&key, &at, &with(&servers, server), &with(&buckets, bucket), &with(&revisions, revision), &sample],
    )?;
    Ok(Written::Rows(0))
}

pub(super) fn rules(c: &mut Client) -> StoreResult<Vec<RuleRow>> {
    rows(
        c,
        "SELECT id, spec, muted_until FROM alert_rules ORDER BY id",
        &[],
        |r| RuleRow {
            id: r.get(0),
            spec: r.get(1),
            muted_until: r.get(2),
        },
    )
}

pub(super) fn receivers(c: &mut Client) -> StoreResult<Vec<ReceiverRow>> {
    rows(
        c,
        "SELECT id, spec, sealed, host, created_at FROM receivers ORDER BY id",
        &[],
        |r| ReceiverRow {
            id: r.get(0),
            spec: r.get(1),
            sealed: r.get(2),
            host: r.get(3),
            created_at: r.get(4),
        },
    )
}

fn alert_row(r: &Row) -> AlertRow {
    let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
    AlertRow {
        fingerprint: r.get(0),
        rule: r.get(1),
        labels: json(r.get(2)),
        annotations: json(r.get(3)),
        starts_at: r.get(4),
        ends_at: r.get(5),
        server_id: r.get(6),
    }
}

pub(super) fn history(c: &mut Client, limit: i64) -> StoreResult<Vec<AlertRow>> {
    rows(
        c,
        "SELECT fingerprint, rule, labels, annotations, starts_at, ends_at, server_id FROM alerts
         ORDER BY starts_at DESC, id DESC LIMIT $1",
        &[&limit],
        alert_row,
    )
}

pub(super) fn open(c: &mut Client) -> StoreResult<Vec<AlertRow>> {
    rows(
        c,
        "SELECT fingerprint, rule, labels, annotations, starts_at, ends_at, server_id FROM alerts
         WHERE ends_at IS NULL ORDER BY starts_at, id",
        &[],
        alert_row,
    )
}

pub(super) fn notification_log(c: &mut Client) -> StoreResult<Vec<NotifiedRow>> {
    let list = |s: String| serde_json::from_str(&s).unwrap_or_default();
    rows(
        c,
        "SELECT receiver_id, group_key, sent_at, firing, resolved FROM alert_notifications",
        &[],
        |r| NotifiedRow {
            receiver_id: r.get(0),
            group_key: r.get(1),
            sent_at: r.get(2),
            firing: list(r.get(3)),
            resolved: list(r.get(4)),
        },
    )
}

pub(super) fn restarts_since(c: &mut Client, since: i64) -> StoreResult<Vec<(i64, String, i64)>> {
    rows(
        c,
        "SELECT server_id, app, at FROM events WHERE kind = 'restart' AND at > $1
         ORDER BY at LIMIT 100000",
        &[&since],
        |r| (r.get(0), r.get(1), r.get(2)),
    )
}

pub(super) fn deliveries(c: &mut Client, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
    rows(
        c,
        "SELECT receiver_id, group_key, alerts, attempt, outcome, http_status, latency_ms, error, at
         FROM deliveries ORDER BY id DESC LIMIT $1",
        &[&limit],
        |r| DeliveryRow {
            receiver_id: r.get(0),
            group_key: r.get(1),
            alerts: r.get(2),
            attempt: r.get(3),
            outcome: r.get(4),
            http_status: r.get(5),
            latency_ms: r.get(6),
            error: r.get(7),
            at: r.get(8),
        },
    )
}

pub(super) fn exception_groups(c: &mut Client, limit: i64) -> StoreResult<Vec<ExceptionRow>> {
    let list = |s: String| serde_json::from_str(&s).unwrap_or_default();
    rows(
        c,
        "SELECT key, app, message, frame, count, first_seen, last_seen, servers, buckets, revisions, sample
         FROM exception_groups ORDER BY last_seen DESC LIMIT $1",
        &[&limit],
        |r| ExceptionRow {
            key: r.get(0),
            app: r.get(1),
            message: r.get(2),
            frame: r.get(3),
            count: r.get(4),
            first_seen: r.get(5),
            last_seen: r.get(6),
            servers: list(r.get(7)),
            buckets: list(r.get(8)),
            revisions: list(r.get(9)),
            sample: r.get(10),
        },
    )
}

pub(super) fn exception_keys(c: &mut Client) -> StoreResult<Vec<String>> {
    rows(c, "SELECT key FROM exception_groups", &[], |r| r.get(0))
}
