//! The reads of the PostgreSQL backend, each a function over one pooled
//! connection.

use postgres::{Client, Row};

use super::*;

const KEY_SELECT: &str = "SELECT k.id, b.name, b.id, k.public_key, k.created_at, k.revoked_at FROM keys k JOIN buckets b ON b.id = k.bucket_id";

const USER_SELECT: &str = "SELECT id, email, role, buckets, created_at, password_hash FROM users";

fn key_row(r: &Row) -> KeyRow {
    KeyRow {
        id: r.get(0),
        bucket: r.get(1),
        bucket_id: r.get(2),
        public_key: r.get(3),
        created_at: r.get(4),
        revoked_at: r.get(5),
    }
}

fn user_row(r: &Row) -> UserRow {
    let buckets: Option<String> = r.get(3);
    UserRow {
        id: r.get(0),
        email: r.get(1),
        role: r.get(2),
        buckets: buckets.map(|b| b.split(',').map(String::from).collect()),
        created_at: r.get(4),
    }
}

/// Every row `sql` selects with `params`, each made by `f`.
pub(super) fn rows<T>(
    c: &mut Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    f: impl Fn(&Row) -> T,
) -> StoreResult<Vec<T>> {
    Ok(c.query(sql, params).map_err(other)?.iter().map(f).collect())
}

/// The row `sql` selects with `params`, if any, made by `f`.
pub(super) fn row<T>(
    c: &mut Client,
    sql: &str,
    params: &[&(dyn postgres::types::ToSql + Sync)],
    f: impl Fn(&Row) -> T,
) -> StoreResult<Option<T>> {
    Ok(c.query_opt(sql, params).map_err(other)?.as_ref().map(f))
}

pub(super) fn list_keys(c: &mut Client) -> StoreResult<Vec<KeyRow>> {
    rows(c, &format!("{KEY_SELECT} ORDER BY k.id"), &[], key_row)
}

pub(super) fn key(c: &mut Client, public_key: &str) -> StoreResult<Option<KeyRow>> {
    row(
        c,
        &format!("{KEY_SELECT} WHERE k.public_key = $1"),
        &[&public_key],
        key_row,
    )
}

pub(super) fn servers(c: &mut Client) -> StoreResult<Vec<ServerRow>> {
    rows(
        c,
        "SELECT s.id, b.name, s.machine_id, s.name, s.agent_version, s.first_seen, s.last_seen
         FROM servers s JOIN buckets b ON b.id = s.bucket_id ORDER BY s.name, s.id",
        &[],
        |r| ServerRow {
            id: r.get(0),
            bucket: r.get(1),
            machine_id: r.get(2),
            name: r.get(3),
            agent_version: r.get(4),
            first_seen: r.get(5),
            last_seen: r.get(6),
        },
    )
}

pub(super) fn resume(c: &mut Client, server_id: i64) -> StoreResult<Resume> {
    let mut marks = Resume::default();
    for (stream, seq) in rows(
        c,
        "SELECT stream, seq FROM stream_seq WHERE server_id = $1",
        &[&server_id],
        |r| (r.get::<_, String>(0), r.get::<_, i64>(1)),
    )? {
        match stream.as_str() {
            "events" => marks.events = seq as u64,
            "rollups" => marks.rollups = seq as u64,
            _ => {}
        }
    }
    Ok(marks)
}

pub(super) fn events(c: &mut Client, q: &EventQuery) -> StoreResult<Vec<EventRow>> {
    rows(
        c,
        "SELECT e.id, e.server_id, s.name, e.seq, e.at, e.kind, e.pm_id, e.app, e.code, e.signal, e.detail
         FROM events e JOIN servers s ON s.id = e.server_id JOIN buckets b ON b.id = s.bucket_id
         WHERE ($1::BIGINT IS NULL OR e.server_id = $1) AND ($2::TEXT IS NULL OR e.app = $2)
           AND ($3::BIGINT IS NULL OR e.id < $3) AND ($5::TEXT[] IS NULL OR b.name = ANY($5))
         ORDER BY e.id DESC LIMIT $4",
        &[&q.server_id, &q.app, &q.before, &q.limit, &q.buckets],
        |r| EventRow {
            id: r.get(0),
            server_id: r.get(1),
            server: r.get(2),
            seq: r.get(3),
            at: r.get(4),
            kind: r.get(5),
            pm_id: r.get(6),
            app: r.get(7),
            code: r.get(8),
            signal: r.get(9),
            detail: r.get(10),
        },
    )
}

pub(super) fn meta(c: &mut Client, key: &str) -> StoreResult<Option<String>> {
    row(c, "SELECT value FROM meta WHERE key = $1", &[&key], |r| {
        r.get(0)
    })
}

pub(super) fn history(
    c: &mut Client,
    server_id: i64,
    pm_id: i64,
    span_ms: i64,
    since: i64,
) -> StoreResult<Vec<RollupRow>> {
    rows(
        c,
        "SELECT start, span_ms, cpu_min, cpu_max, cpu_avg, cpu_last, mem_min, mem_max, mem_avg, mem_last
         FROM rollups WHERE server_id = $1 AND pm_id = $2 AND span_ms = $4 AND start >= $3
         ORDER BY start LIMIT 10000",
        &[&server_id, &pm_id, &since, &span_ms],
        |r| RollupRow {
            start: r.get(0),
            span_ms: r.get(1),
            cpu: [r.get(2), r.get(3), r.get(4), r.get(5)],
            memory: [r.get(6), r.get(7), r.get(8), r.get(9)],
        },
    )
}

pub(super) fn token_name(c: &mut Client, token_hash: &str) -> StoreResult<Option<String>> {
    row(
        c,
        "SELECT name FROM api_tokens WHERE token_hash = $1",
        &[&token_hash],
        |r| r.get(0),
    )
}

pub(super) fn tokens(c: &mut Client) -> StoreResult<Vec<TokenInfo>> {
    rows(
        c,
        "SELECT t.id, t.name, t.role, u.email, t.created_at FROM api_tokens t
         LEFT JOIN users u ON u.id = t.user_id ORDER BY t.id",
        &[],
        |r| TokenInfo {
            id: r.get(0),
            name: r.get(1),
            role: r.get(2),
            user: r.get(3),
            created_at: r.get(4),
        },
    )
}

pub(super) fn users(c: &mut Client) -> StoreResult<Vec<UserRow>> {
    rows(c, &format!("{USER_SELECT} ORDER BY email"), &[], user_row)
}

pub(super) fn user_login(c: &mut Client, email: &str) -> StoreResult<Option<(UserRow, String)>> {
    row(
        c,
        &format!("{USER_SELECT} WHERE email = $1"),
        &[&email],
        |r| (user_row(r), r.get(5)),
    )
}

pub(super) fn session_user(
    c: &mut Client,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<UserRow>> {
    row(
        c,
        "SELECT u.id, u.email, u.role, u.buckets, u.created_at FROM sessions s
         JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1 AND s.expires_at > $2",
        &[&id_hash, &now],
        user_row,
    )
}

pub(super) fn token(c: &mut Client, token_hash: &str) -> StoreResult<Option<TokenRow>> {
    // A token of a user who is gone is no token (never a user-less one).
    row(
        c,
        "SELECT t.name, t.role, u.id, u.email, u.role, u.buckets, u.created_at
         FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
         WHERE t.token_hash = $1 AND (t.user_id IS NULL OR u.id IS NOT NULL)",
        &[&token_hash],
        |r| {
            let buckets: Option<String> = r.get(5);
            TokenRow {
                name: r.get(0),
                role: r.get(1),
                user: r.get::<_, Option<i64>>(2).map(|id| UserRow {
                    id,
                    email: r.get(3),
                    role: r.get(4),
                    buckets: buckets.map(|b| b.split(',').map(String::from).collect()),
                    created_at: r.get(6),
                }),
            }
        },
    )
}

pub(super) fn audit(c: &mut Client, limit: i64) -> StoreResult<Vec<AuditRow>> {
    rows(
        c,
        "SELECT at, actor, address, action, target, result FROM audit ORDER BY id DESC LIMIT $1",
        &[&limit],
        |r| AuditRow {
            at: r.get(0),
            actor: r.get(1),
            address: r.get(2),
            action: r.get(3),
            target: r.get(4),
            result: r.get(5),
        },
    )
}

pub(super) fn action(c: &mut Client, id: &str) -> StoreResult<ActionRow> {
    row(
        c,
        "SELECT id, server_id, action, targets, requested_by, requested_at, finished_at, ok, message
         FROM actions WHERE id = $1",
        &[&id],
        |r| ActionRow {
            id: r.get(0),
            server_id: r.get(1),
            action: r.get(2),
            targets: r.get(3),
            requested_by: r.get(4),
            requested_at: r.get(5),
            finished_at: r.get(6),
            ok: r.get(7),
            message: r.get(8),
        },
    )?
    .ok_or(StoreError::NotFound)
}
