//! The reads of the SQLite backend, each a function over the read
//! connection (WAL lets them run beside the writer's transaction).

use rusqlite::{Connection, OptionalExtension, params};

use super::*;

pub(super) fn list_keys(c: &Connection) -> StoreResult<Vec<KeyRow>> {
    let mut st = c
        .prepare(&format!("{KEY_SELECT} ORDER BY k.id"))
        .map_err(other)?;
    let rows = st.query_map([], key_row).map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn key(c: &Connection, public_key: &str) -> StoreResult<Option<KeyRow>> {
    c.query_row(
        &format!("{KEY_SELECT} WHERE k.public_key = ?1"),
        params![public_key],
        key_row,
    )
    .optional()
    .map_err(other)
}

pub(super) fn servers(c: &Connection) -> StoreResult<Vec<ServerRow>> {
    let mut st = c
        .prepare(
            "SELECT s.id, b.name, s.machine_id, s.name, s.agent_version, s.first_seen, s.last_seen
                 FROM servers s JOIN buckets b ON b.id = s.bucket_id ORDER BY s.name, s.id",
        )
        .map_err(other)?;
    let rows = st
        .query_map([], |r| {
            Ok(ServerRow {
                id: r.get(0)?,
                bucket: r.get(1)?,
                machine_id: r.get(2)?,
                name: r.get(3)?,
                agent_version: r.get(4)?,
                first_seen: r.get(5)?,
                last_seen: r.get(6)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn resume(c: &Connection, server_id: i64) -> StoreResult<Resume> {
    let get = |stream: &str| -> StoreResult<u64> {
        let v: Option<i64> = c
            .query_row(
                "SELECT seq FROM stream_seq WHERE server_id = ?1 AND stream = ?2",
                params![server_id, stream],
                |r| r.get(0),
            )
            .optional()
            .map_err(other)?;
        Ok(v.unwrap_or(0) as u64)
    };
    Ok(Resume {
        events: get("events")?,
        rollups: get("rollups")?,
    })
}

pub(super) fn events(c: &Connection, q: &EventQuery) -> StoreResult<Vec<EventRow>> {
    let mut st = c
            .prepare_cached(
                "SELECT e.id, e.server_id, s.name, e.seq, e.at, e.kind, e.pm_id, e.app, e.code, e.signal, e.detail
                 FROM events e JOIN servers s ON s.id = e.server_id JOIN buckets b ON b.id = s.bucket_id
                 WHERE (?1 IS NULL OR e.server_id = ?1) AND (?2 IS NULL OR e.app = ?2) AND (?3 IS NULL OR e.id < ?3)
                   AND (?5 IS NULL OR instr(',' || ?5 || ',', ',' || b.name || ',') > 0)
                 ORDER BY e.id DESC LIMIT ?4",
            )
            .map_err(other)?;
    let rows = st
        .query_map(
            params![
                q.server_id,
                q.app,
                q.before,
                q.limit,
                q.buckets.as_ref().map(|b| b.join(","))
            ],
            |r| {
                Ok(EventRow {
                    id: r.get(0)?,
                    server_id: r.get(1)?,
                    server: r.get(2)?,
                    seq: r.get(3)?,
                    at: r.get(4)?,
                    kind: r.get(5)?,
                    pm_id: r.get(6)?,
                    app: r.get(7)?,
                    code: r.get(8)?,
                    signal: r.get(9)?,
                    detail: r.get(10)?,
                })
            },
        )
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn meta(c: &Connection, key: &str) -> StoreResult<Option<String>> {
    c.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
        r.get(0)
    })
    .optional()
    .map_err(other)
}

pub(super) fn history(
    c: &Connection,
    server_id: i64,
    pm_id: i64,
    span_ms: i64,
    since: i64,
) -> StoreResult<Vec<RollupRow>> {
    let mut st = c
            .prepare_cached(
                "SELECT start, span_ms, cpu_min, cpu_max, cpu_avg, cpu_last, mem_min, mem_max, mem_avg, mem_last
                 FROM rollups WHERE server_id = ?1 AND pm_id = ?2 AND span_ms = ?4 AND start >= ?3
                 ORDER BY start LIMIT 10000",
            )
            .map_err(other)?;
    let rows = st
        .query_map(params![server_id, pm_id, since, span_ms], |r| {
            Ok(RollupRow {
                start: r.get(0)?,
                span_ms: r.get(1)?,
                cpu: [r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?],
                memory: [r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?],
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn token_name(c: &Connection, token_hash: &str) -> StoreResult<Option<String>> {
    c.query_row(
        "SELECT name FROM api_tokens WHERE token_hash = ?1",
        params![token_hash],
        |r| r.get(0),
    )
    .optional()
    .map_err(other)
}

pub(super) fn tokens(c: &Connection) -> StoreResult<Vec<TokenInfo>> {
    let mut st = c
        .prepare(
            "SELECT t.id, t.name, t.role, u.email, t.created_at FROM api_tokens t
             LEFT JOIN users u ON u.id = t.user_id ORDER BY t.id",
        )
        .map_err(other)?;
    let rows = st
        .query_map([], |r| {
            Ok(TokenInfo {
                id: r.get(0)?,
                name: r.get(1)?,
                role: r.get(2)?,
                user: r.get(3)?,
                created_at: r.get(4)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn users(c: &Connection) -> StoreResult<Vec<UserRow>> {
    let mut st = c
        .prepare(&format!("{USER_SELECT} ORDER BY email"))
        .map_err(other)?;
    let rows = st.query_map([], user_row).map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn user_login(c: &Connection, email: &str) -> StoreResult<Option<(UserRow, String)>> {
    c.query_row(
        &format!("{USER_SELECT} WHERE email = ?1"),
        params![email],
        |r| Ok((user_row(r)?, r.get(5)?)),
    )
    .optional()
    .map_err(other)
}

pub(super) fn session_user(
    c: &Connection,
    id_hash: &str,
    now: i64,
) -> StoreResult<Option<UserRow>> {
    c.query_row(
        "SELECT u.id, u.email, u.role, u.buckets, u.created_at FROM sessions s
                 JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?1 AND s.expires_at > ?2",
        params![id_hash, now],
        user_row,
    )
    .optional()
    .map_err(other)
}

pub(super) fn token(c: &Connection, token_hash: &str) -> StoreResult<Option<TokenRow>> {
    let row: Option<TokenJoin> = c
            .query_row(
                "SELECT t.name, t.role, t.user_id, u.email FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = ?1",
                params![token_hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()
            .map_err(other)?;
    let Some((name, role, user_id, email)) = row else {
        return Ok(None);
    };
    // A token of a user who is gone is no token (never a user-less one).
    if user_id.is_some() && email.is_none() {
        return Ok(None);
    }
    let user = match email {
        Some(e) => c
            .query_row(
                &format!("{USER_SELECT} WHERE email = ?1"),
                params![e],
                user_row,
            )
            .optional()
            .map_err(other)?,
        None => None,
    };
    Ok(Some(TokenRow { name, role, user }))
}

pub(super) fn audit(c: &Connection, limit: i64) -> StoreResult<Vec<AuditRow>> {
    let mut st = c
            .prepare_cached(
                "SELECT at, actor, address, action, target, result FROM audit ORDER BY id DESC LIMIT ?1",
            )
            .map_err(other)?;
    let rows = st
        .query_map(params![limit], |r| {
            Ok(AuditRow {
                at: r.get(0)?,
                actor: r.get(1)?,
                address: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                result: r.get(5)?,
            })
        })
        .map_err(other)?;
    rows.collect::<Result<_, _>>().map_err(other)
}

pub(super) fn action(c: &Connection, id: &str) -> StoreResult<ActionRow> {
    c
            .query_row(
                "SELECT id, server_id, action, targets, requested_by, requested_at, finished_at, ok, message FROM actions WHERE id = ?1",
                params![id],
                |r| {
                    Ok(ActionRow {
                        id: r.get(0)?,
                        server_id: r.get(1)?,
                        action: r.get(2)?,
                        targets: r.get(3)?,
                        requested_by: r.get(4)?,
                        requested_at: r.get(5)?,
                        finished_at: r.get(6)?,
                        ok: r.get(7)?,
                        message: r.get(8)?,
                    })
                },
            )
            .optional()
            .map_err(other)?
            .ok_or(StoreError::NotFound)
}
