//! The writes of the SQLite backend, each a function over one connection
//! (in practice the single writer's transaction, one savepoint per write).

use pmr_shared::link::messages::{Event, Rollup};
use rusqlite::{Connection, params};

use super::super::{ActionRow, COARSE_SPAN_MS, Family, PRUNE_CHUNK, Write, Written};
use super::meta::{meta_i64, set_meta};

/// Applies one write.
pub(super) fn apply(c: &Connection, w: &Write) -> rusqlite::Result<Written> {
    match w.family() {
        Family::Access => return super::access::apply(c, w),
        Family::Alerting => return super::alerts::apply(c, w),
        Family::Core => {}
    }
    Ok(match w {
        Write::UpsertServer {
            bucket_id,
            machine_id,
            name,
            version,
            now,
        } => Written::Id(upsert_server(
            c, *bucket_id, machine_id, name, version, *now,
        )?),
        Write::TouchServers(seen) => {
            let mut st = c.prepare_cached(
                "UPDATE servers SET last_seen = MAX(last_seen, ?2) WHERE id = ?1",
            )?;
            for (id, at) in seen {
                st.execute(params![id, at])?;
            }
            Written::Done
        }
        Write::Events { server_id, events } => Written::Rows(events_rows(c, *server_id, events)?),
        Write::Rollups { server_id, rollups } => {
            Written::Rows(rollup_rows(c, *server_id, rollups)?)
        }
        Write::InsertAction(a) => {
            insert_action(c, a)?;
            Written::Done
        }
        Write::FinishAction {
            server_id,
            id,
            ok,
            message,
            now,
        } => Written::Rows(c.execute(
            "UPDATE actions SET finished_at = ?2, ok = ?3, message = ?4
             WHERE id = ?1 AND server_id = ?5 AND finished_at IS NULL",
            params![id, now, ok, message, server_id],
        )? as u64),
        Write::Downsample { now } => Written::Rows(fold_due(c, *now)?),
        Write::Fold { from, to } => Written::Rows(downsample(c, *from, *to)?),
        Write::SetMeta { key, value } => {
            set_meta(c, key, value)?;
            Written::Done
        }
        Write::Prune {
            events_before,
            rollups_before,
            coarse_before,
        } => {
            // A bounded chunk per table: a big prune is many small writes,
            // never one that holds back every agent's ack.
            let a = c.execute(
                "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE at < ?1 LIMIT ?2)",
                params![events_before, PRUNE_CHUNK],
            )?;
            let b = c.execute(
                "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE span_ms = 10000 AND start < ?1 LIMIT ?2)",
                params![rollups_before, PRUNE_CHUNK],
            )?;
            let d = c.execute(
                "DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE span_ms <> 10000 AND start < ?1 LIMIT ?2)",
                params![coarse_before, PRUNE_CHUNK],
            )?;
            Written::Rows((a + b + d) as u64)
        }
        other => unreachable!("not a core write: {other:?}"),
    })
}

fn upsert_server(
    c: &Connection,
    bucket_id: i64,
    machine_id: &str,
    name: &str,
    version: &str,
    now: i64,
) -> rusqlite::Result<i64> {
    c.execute(
        "INSERT INTO servers (bucket_id, machine_id, name, agent_version, first_seen, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (bucket_id, machine_id) DO UPDATE SET name = excluded.name,
           agent_version = excluded.agent_version, last_seen = excluded.last_seen",
        params![bucket_id, machine_id, name, version, now],
    )?;
    c.query_row(
        "SELECT id FROM servers WHERE bucket_id = ?1 AND machine_id = ?2",
        params![bucket_id, machine_id],
        |r| r.get(0),
    )
}

/// Raises a stream's high mark to `seq` (never lowers it); returns the mark.
fn bump_seq(c: &Connection, server_id: i64, stream: &str, seq: u64) -> rusqlite::Result<u64> {
    c.execute(
        "INSERT INTO stream_seq (server_id, stream, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (server_id, stream) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        params![server_id, stream, seq as i64],
    )?;
    let s: i64 = c.query_row(
        "SELECT seq FROM stream_seq WHERE server_id = ?1 AND stream = ?2",
        params![server_id, stream],
        |r| r.get(0),
    )?;
    Ok(s as u64)
}

/// Stores events once each by seq and raises the mark; returns how many were new.
fn events_rows(c: &Connection, server_id: i64, events: &[Event]) -> rusqlite::Result<u64> {
    let (mut high, mut new) = (0, 0);
    let mut st = c.prepare_cached(
        "INSERT INTO events (server_id, seq, at, kind, pm_id, app, code, signal, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (server_id, seq) DO NOTHING",
    )?;
    for e in events {
        let kind = serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        new += st.execute(params![
            server_id,
            e.seq as i64,
            e.at,
            kind,
            e.pm_id,
            e.name,
            e.code,
            e.signal,
            e.detail
        ])?;
        high = high.max(e.seq);
    }
    bump_seq(c, server_id, "events", high)?;
    Ok(new as u64)
}

/// Stores rollups once each and raises the mark; returns how many rows were new.
fn rollup_rows(c: &Connection, server_id: i64, rollups: &[Rollup]) -> rusqlite::Result<u64> {
    let (mut high, mut new) = (0, 0);
    let mut st = c.prepare_cached(
        "INSERT INTO rollups (server_id, pm_id, app, span_ms, start, cpu_min, cpu_max, cpu_avg, cpu_last,
           mem_min, mem_max, mem_avg, mem_last)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (server_id, pm_id, span_ms, start) DO NOTHING",
    )?;
    for r in rollups {
        for p in &r.processes {
            new += st.execute(params![
                server_id,
                p.pm_id,
                p.name,
                r.span_ms,
                r.start,
                p.cpu.min,
                p.cpu.max,
                p.cpu.avg,
                p.cpu.last,
                p.memory.min,
                p.memory.max,
                p.memory.avg,
                p.memory.last
            ])?;
        }
        high = high.max(r.seq);
    }
    bump_seq(c, server_id, "rollups", high)?;
    // Rows replayed after an outage may land in windows already folded:
    // remember the earliest, so the next fold redoes them.
    if let Some(low) = rollups.iter().map(|r| r.start).min()
        && meta_i64(c, "downsampled_until")?.is_some_and(|f| low < f)
    {
        let dirty = meta_i64(c, "downsample_dirty_from")?.map_or(low, |d| d.min(low));
        set_meta(c, "downsample_dirty_from", &dirty.to_string())?;
    }
    Ok(new as u64)
}

fn insert_action(c: &Connection, a: &ActionRow) -> rusqlite::Result<()> {
    c.execute(
        "INSERT INTO actions (id, server_id, action, targets, requested_by, requested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![a.id, a.server_id, a.action, a.targets, a.requested_by, a.requested_at],
    )?;
    Ok(())
}

/// Folds the finished windows not folded yet (from the mark, or from where
/// a late row reopened one), then moves the marks.
fn fold_due(c: &Connection, now: i64) -> rusqlite::Result<u64> {
    let span = COARSE_SPAN_MS;
    let to = (now - 60_000) / span * span;
    let mark = meta_i64(c, "downsampled_until")?.unwrap_or(to - 12 * span);
    let dirty = meta_i64(c, "downsample_dirty_from")?;
    let from = dirty.map_or(mark, |d| d.min(mark) / span * span);
    if to <= from {
        return Ok(0);
    }
    let n = downsample(c, from, to)?;
    set_meta(c, "downsampled_until", &to.to_string())?;
    if dirty.is_some() {
        set_meta(c, "downsample_dirty_from", "")?;
    }
    Ok(n)
}

/// Folds the 10-second rows of `[from, to)` into 5-minute rows: min, max
/// and avg in one pass, then "last" from each window's latest row.
fn downsample(c: &Connection, from: i64, to: i64) -> rusqlite::Result<u64> {
    let n = c.execute(
        "INSERT INTO rollups (server_id, pm_id, app, span_ms, start, cpu_min, cpu_max, cpu_avg, cpu_last,
           mem_min, mem_max, mem_avg, mem_last)
         SELECT server_id, pm_id, MAX(app), ?3, (start / ?3) * ?3, MIN(cpu_min), MAX(cpu_max), AVG(cpu_avg), 0,
           MIN(mem_min), MAX(mem_max), AVG(mem_avg), 0
         FROM rollups WHERE span_ms = 10000 AND start >= ?1 AND start < ?2
         GROUP BY server_id, pm_id, (start / ?3)
         ON CONFLICT (server_id, pm_id, span_ms, start) DO UPDATE SET
           cpu_min = excluded.cpu_min, cpu_max = excluded.cpu_max, cpu_avg = excluded.cpu_avg,
           mem_min = excluded.mem_min, mem_max = excluded.mem_max, mem_avg = excluded.mem_avg",
        params![from, to, COARSE_SPAN_MS],
    )?;
    c.execute(
        "UPDATE rollups SET
           cpu_last = (SELECT t.cpu_last FROM rollups t WHERE t.server_id = rollups.server_id AND t.pm_id = rollups.pm_id
              AND t.span_ms = 10000 AND t.start >= rollups.start AND t.start < rollups.start + ?3 ORDER BY t.start DESC LIMIT 1),
           mem_last = (SELECT t.mem_last FROM rollups t WHERE t.server_id = rollups.server_id AND t.pm_id = rollups.pm_id
              AND t.span_ms = 10000 AND t.start >= rollups.start AND t.start < rollups.start + ?3 ORDER BY t.start DESC LIMIT 1)
         WHERE span_ms = ?3 AND start >= ?1 AND start < ?2",
        params![from, to, COARSE_SPAN_MS],
    )?;
    Ok(n as u64)
}
