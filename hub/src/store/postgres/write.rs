//! The writes of the PostgreSQL backend, each a function over the single
//! writer's transaction (one savepoint per write). Rows of one write go in
//! one statement (`UNNEST` of arrays): a round trip per write, not per row.

use pmr_shared::link::messages::{Event, Rollup};
use postgres::Transaction;

use super::super::{ActionRow, COARSE_SPAN_MS, Family, PRUNE_CHUNK, Write, Written};
use super::meta::{meta_i64, set_meta};

type Tx<'a, 'b> = &'a mut Transaction<'b>;

/// Applies one write.
pub(super) fn apply(c: Tx<'_, '_>, w: &Write) -> Result<Written, postgres::Error> {
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
        } => Written::Id(
            c.query_one(
                "INSERT INTO servers (bucket_id, machine_id, name, agent_version, first_seen, last_seen)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (bucket_id, machine_id) DO UPDATE SET name = excluded.name,
                   agent_version = excluded.agent_version, last_seen = excluded.last_seen
                 RETURNING id",
                &[bucket_id, machine_id, name, version, now],
            )?
            .get(0),
        ),
        Write::TouchServers(seen) => {
            let (ids, ats): (Vec<i64>, Vec<i64>) = seen.iter().copied().unzip();
            c.execute(
                "UPDATE servers s SET last_seen = GREATEST(s.last_seen, t.at)
                 FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS t(id, at) WHERE s.id = t.id",
                &[&ids, &ats],
            )?;
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
            "UPDATE actions SET finished_at = $2, ok = $3, message = $4
             WHERE id = $1 AND server_id = $5 AND finished_at IS NULL",
            &[id, now, ok, message, server_id],
        )?),
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
                "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 LIMIT $2)",
                &[events_before, &PRUNE_CHUNK],
            )?;
            let b = c.execute(
                "DELETE FROM rollups WHERE ctid IN (SELECT ctid FROM rollups WHERE span_ms = 10000 AND start < $1 LIMIT $2)",
                &[rollups_before, &PRUNE_CHUNK],
            )?;
            let d = c.execute(
                "DELETE FROM rollups WHERE ctid IN (SELECT ctid FROM rollups WHERE span_ms <> 10000 AND start < $1 LIMIT $2)",
                &[coarse_before, &PRUNE_CHUNK],
            )?;
            Written::Rows(a + b + d)
        }
        other => unreachable!("not a core write: {other:?}"),
    })
}

/// Raises a stream's high mark to `seq` (never lowers it).
fn bump_seq(c: Tx<'_, '_>, server_id: i64, stream: &str, seq: u64) -> Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO stream_seq (server_id, stream, seq) VALUES ($1, $2, $3)
         ON CONFLICT (server_id, stream) DO UPDATE SET seq = GREATEST(stream_seq.seq, excluded.seq)",
        &[&server_id, &stream, &(seq as i64)],
    )?;
    Ok(())
}

/// Stores events once each by seq and raises the mark; returns how many were new.
fn events_rows(c: Tx<'_, '_>, server_id: i64, events: &[Event]) -> Result<u64, postgres::Error> {
    let kind = |e: &Event| {
        serde_json::to_value(e.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    };
    let seq: Vec<i64> = events.iter().map(|e| e.seq as i64).collect();
    let at: Vec<i64> = events.iter().map(|e| e.at).collect();
    let kinds: Vec<String> = events.iter().map(kind).collect();
    let pm_id: Vec<i64> = events.iter().map(|e| i64::from(e.pm_id)).collect();
    let app: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
    let code: Vec<Option<i64>> = events.iter().map(|e| e.code.map(i64::from)).collect();
    let signal: Vec<Option<&str>> = events.iter().map(|e| e.signal.as_deref()).collect();
    let detail: Vec<Option<&str>> = events.iter().map(|e| e.detail.as_deref()).collect();
    let new = c.execute(
        "INSERT INTO events (server_id, seq, at, kind, pm_id, app, code, signal, detail)
         SELECT $1, * FROM UNNEST($2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::TEXT[],
           $7::BIGINT[], $8::TEXT[], $9::TEXT[])
         ON CONFLICT (server_id, seq) DO NOTHING",
        &[
            &server_id, &seq, &at, &kinds, &pm_id, &app, &code, &signal, &detail,
        ],
    )?;
    let high = events.iter().map(|e| e.seq).max().unwrap_or(0);
    bump_seq(c, server_id, "events", high)?;
    Ok(new)
}

/// Stores rollups once each and raises the mark; returns how many rows were new.
fn rollup_rows(c: Tx<'_, '_>, server_id: i64, rollups: &[Rollup]) -> Result<u64, postgres::Error> {
    let rows: Vec<_> = rollups
        .iter()
        .flat_map(|r| r.processes.iter().map(move |p| (r, p)))
        .collect();
    let col = |f: &dyn Fn(&pmr_shared::link::messages::ProcRollup) -> f64| -> Vec<f64> {
        rows.iter().map(|(_, p)| f(p)).collect()
    };
    let pm_id: Vec<i64> = rows.iter().map(|(_, p)| i64::from(p.pm_id)).collect();
    let app: Vec<&str> = rows.iter().map(|(_, p)| p.name.as_str()).collect();
    let span: Vec<i64> = rows.iter().map(|(r, _)| i64::from(r.span_ms)).collect();
    let start: Vec<i64> = rows.iter().map(|(r, _)| r.start).collect();
    let new = c.execute(
        "INSERT INTO rollups (server_id, pm_id, app, span_ms, start, cpu_min, cpu_max, cpu_avg, cpu_last,
           mem_min, mem_max, mem_avg, mem_last)
         SELECT $1, * FROM UNNEST($2::BIGINT[], $3::TEXT[], $4::BIGINT[], $5::BIGINT[],
           $6::FLOAT8[], $7::FLOAT8[], $8::FLOAT8[], $9::FLOAT8[],
           $10::FLOAT8[], $11::FLOAT8[], $12::FLOAT8[], $13::FLOAT8[])
         ON CONFLICT (server_id, pm_id, span_ms, start) DO NOTHING",
        &[
            &server_id,
            &pm_id,
            &app,
            &span,
            &start,
            &col(&|p| p.cpu.min),
            &col(&|p| p.cpu.max),
            &col(&|p| p.cpu.avg),
            &col(&|p| p.cpu.last),
            &col(&|p| p.memory.min),
            &col(&|p| p.memory.max),
            &col(&|p| p.memory.avg),
            &col(&|p| p.memory.last),
        ],
    )?;
    let high = rollups.iter().map(|r| r.seq).max().unwrap_or(0);
    bump_seq(c, server_id, "rollups", high)?;
    // Rows replayed after an outage may land in windows already folded:
    // remember the earliest, so the next fold redoes them.
    if let Some(low) = rollups.iter().map(|r| r.start).min()
        && meta_i64(c, "downsampled_until")?.is_some_and(|f| low < f)
    {
        let dirty = meta_i64(c, "downsample_dirty_from")?.map_or(low, |d| d.min(low));
        set_meta(c, "downsample_dirty_from", &dirty.to_string())?;
    }
    Ok(new)
}

fn insert_action(c: Tx<'_, '_>, a: &ActionRow) -> Result<(), postgres::Error> {
    c.execute(
        "INSERT INTO actions (id, server_id, action, targets, requested_by, requested_at) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&a.id, &a.server_id, &a.action, &a.targets, &a.requested_by, &a.requested_at],
    )?;
    Ok(())
}

/// Folds the finished windows not folded yet (from the mark, or from where
/// a late row reopened one), then moves the marks.
fn fold_due(c: Tx<'_, '_>, now: i64) -> Result<u64, postgres::Error> {
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
/// and avg, and "last" from each window's latest row, in one statement.
fn downsample(c: Tx<'_, '_>, from: i64, to: i64) -> Result<u64, postgres::Error> {
    c.execute(
        "INSERT INTO rollups (server_id, pm_id, app, span_ms, start, cpu_min, cpu_max, cpu_avg, cpu_last,
           mem_min, mem_max, mem_avg, mem_last)
         SELECT server_id, pm_id, MAX(app), $3, (start / $3) * $3, MIN(cpu_min), MAX(cpu_max), AVG(cpu_avg),
           (ARRAY_AGG(cpu_last ORDER BY start DESC))[1],
           MIN(mem_min), MAX(mem_max), AVG(mem_avg), (ARRAY_AGG(mem_last ORDER BY start DESC))[1]
         FROM rollups WHERE span_ms = 10000 AND start >= $1 AND start < $2
         GROUP BY server_id, pm_id, (start / $3)
         ON CONFLICT (server_id, pm_id, span_ms, start) DO UPDATE SET
           cpu_min = excluded.cpu_min, cpu_max = excluded.cpu_max, cpu_avg = excluded.cpu_avg,
           cpu_last = excluded.cpu_last, mem_min = excluded.mem_min, mem_max = excluded.mem_max,
           mem_avg = excluded.mem_avg, mem_last = excluded.mem_last",
        &[&from, &to, &COARSE_SPAN_MS],
    )
}
