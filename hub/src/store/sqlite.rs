//! The embedded SQLite backend: one file beside the hub, WAL journal.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use pmr_shared::link::messages::{Event, Resume, Rollup};
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    ActionRow, EventQuery, EventRow, KeyRow, RollupRow, ServerRow, Store, StoreError, StoreResult,
};

const SCHEMA: &str = include_str!("../../migrations/sqlite/001_init.sql");

/// SQLite store. One connection for writes and one for reads, so that API
/// reads never wait behind an ingest transaction (WAL allows both).
pub struct SqliteStore {
    write: Mutex<Connection>,
    read: Mutex<Connection>,
}

fn other(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(f, msg) = &e
        && f.code == rusqlite::ErrorCode::ConstraintViolation
    {
        return StoreError::Conflict(msg.clone().unwrap_or_default());
    }
    StoreError::Other(e.into())
}

fn open(path: &Path) -> anyhow::Result<Connection> {
    let c = Connection::open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    c.pragma_update(None, "journal_mode", "WAL")?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "foreign_keys", "ON")?;
    c.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(c)
}

/// Creates the database's directory (0700) and file (0600) when missing,
/// and takes group and other access off an existing file: it holds public
/// keys, token hashes and every server's history. SQLite gives its `-wal`
/// and `-shm` files the database file's mode.
fn private_file(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot open database {}", path.display()))?;
    let mode = file.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(mode & 0o700))
            .with_context(|| format!("cannot make {} private", path.display()))?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating and migrating) the database file.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        private_file(path)?;
        let write = open(path)?;
        write
            .execute_batch(SCHEMA)
            .context("cannot apply the schema")?;
        let read = open(path)?;
        Ok(Self {
            write: Mutex::new(write),
            read: Mutex::new(read),
        })
    }

    fn w(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.write.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn r(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.read.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn key_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<KeyRow> {
    Ok(KeyRow {
        id: r.get(0)?,
        bucket: r.get(1)?,
        bucket_id: r.get(2)?,
        public_key: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
    })
}

const KEY_SELECT: &str = "SELECT k.id, b.name, b.id, k.public_key, k.created_at, k.revoked_at FROM keys k JOIN buckets b ON b.id = k.bucket_id";

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn bump_seq(
    tx: &rusqlite::Transaction<'_>,
    server_id: i64,
    stream: &str,
    seq: u64,
) -> rusqlite::Result<u64> {
    tx.execute(
        "INSERT INTO stream_seq (server_id, stream, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (server_id, stream) DO UPDATE SET seq = MAX(seq, excluded.seq)",
        params![server_id, stream, seq as i64],
    )?;
    let s: i64 = tx.query_row(
        "SELECT seq FROM stream_seq WHERE server_id = ?1 AND stream = ?2",
        params![server_id, stream],
        |r| r.get(0),
    )?;
    Ok(s as u64)
}

impl Store for SqliteStore {
    fn hub_id(&self) -> StoreResult<String> {
        let c = self.w();
        let id: Option<String> = c
            .query_row("SELECT value FROM meta WHERE key = 'hub_id'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(other)?;
        if let Some(id) = id {
            return Ok(id);
        }
        let mut bytes = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let id = format!("hub-{}", pmr_shared::link::handshake::hex(&bytes));
        c.execute(
            "INSERT INTO meta (key, value) VALUES ('hub_id', ?1)",
            params![id],
        )
        .map_err(other)?;
        Ok(id)
    }

    fn create_key(&self, bucket: &str, public_key: &str) -> StoreResult<KeyRow> {
        let mut c = self.w();
        let tx = c.transaction().map_err(other)?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO buckets (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
            params![bucket, now],
        )
        .map_err(other)?;
        let bucket_id: i64 = tx
            .query_row(
                "SELECT id FROM buckets WHERE name = ?1",
                params![bucket],
                |r| r.get(0),
            )
            .map_err(other)?;
        tx.execute(
            "INSERT INTO keys (bucket_id, public_key, created_at) VALUES (?1, ?2, ?3)",
            params![bucket_id, public_key, now],
        )
        .map_err(other)?;
        let row = tx
            .query_row(
                &format!("{KEY_SELECT} WHERE k.public_key = ?1"),
                params![public_key],
                key_row,
            )
            .map_err(other)?;
        tx.commit().map_err(other)?;
        Ok(row)
    }

    fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        let c = self.r();
        let mut st = c
            .prepare(&format!("{KEY_SELECT} ORDER BY k.id"))
            .map_err(other)?;
        let rows = st.query_map([], key_row).map_err(other)?;
        rows.collect::<Result<_, _>>().map_err(other)
    }

    fn revoke_key(&self, which: &str) -> StoreResult<KeyRow> {
        let c = self.w();
        let now = now_ms();
        let changed = c
            .execute(
                "UPDATE keys SET revoked_at = ?1 WHERE (public_key = ?2 OR CAST(id AS TEXT) = ?2) AND revoked_at IS NULL",
                params![now, which],
            )
            .map_err(other)?;
        let row = c
            .query_row(
                &format!("{KEY_SELECT} WHERE k.public_key = ?1 OR CAST(k.id AS TEXT) = ?1"),
                params![which],
                key_row,
            )
            .optional()
            .map_err(other)?
            .ok_or(StoreError::NotFound)?;
        if changed == 0 && row.revoked_at.is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(row)
    }

    fn key(&self, public_key: &str) -> StoreResult<Option<KeyRow>> {
        let c = self.r();
        c.query_row(
            &format!("{KEY_SELECT} WHERE k.public_key = ?1"),
            params![public_key],
            key_row,
        )
        .optional()
        .map_err(other)
    }

    fn upsert_server(
        &self,
        bucket_id: i64,
        machine_id: &str,
        name: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<i64> {
        let c = self.w();
        c.execute(
            "INSERT INTO servers (bucket_id, machine_id, name, agent_version, first_seen, last_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?5)
             ON CONFLICT (bucket_id, machine_id) DO UPDATE SET name = excluded.name,
               agent_version = excluded.agent_version, last_seen = excluded.last_seen",
            params![bucket_id, machine_id, name, version, now],
        )
        .map_err(other)?;
        c.query_row(
            "SELECT id FROM servers WHERE bucket_id = ?1 AND machine_id = ?2",
            params![bucket_id, machine_id],
            |r| r.get(0),
        )
        .map_err(other)
    }

    fn touch_servers(&self, seen: &[(i64, i64)]) -> StoreResult<()> {
        let mut c = self.w();
        let tx = c.transaction().map_err(other)?;
        {
            let mut st = tx
                .prepare_cached("UPDATE servers SET last_seen = MAX(last_seen, ?2) WHERE id = ?1")
                .map_err(other)?;
            for (id, at) in seen {
                st.execute(params![id, at]).map_err(other)?;
            }
        }
        tx.commit().map_err(other)
    }

    fn servers(&self) -> StoreResult<Vec<ServerRow>> {
        let c = self.r();
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

    fn resume(&self, server_id: i64) -> StoreResult<Resume> {
        let c = self.r();
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

    fn insert_events(&self, server_id: i64, events: &[Event]) -> StoreResult<u64> {
        let mut c = self.w();
        let tx = c.transaction().map_err(other)?;
        let mut high = 0;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO events (server_id, seq, at, kind, pm_id, app, code, signal, detail)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (server_id, seq) DO NOTHING",
                )
                .map_err(other)?;
            for e in events {
                let kind = serde_json::to_value(e.kind)
                    .ok()
                    .and_then(|v| v.as_str().map(String::from))
                    .unwrap_or_default();
                st.execute(params![
                    server_id,
                    e.seq as i64,
                    e.at,
                    kind,
                    e.pm_id,
                    e.name,
                    e.code,
                    e.signal,
                    e.detail
                ])
                .map_err(other)?;
                high = high.max(e.seq);
            }
        }
        let mark = bump_seq(&tx, server_id, "events", high).map_err(other)?;
        tx.commit().map_err(other)?;
        Ok(mark)
    }

    fn insert_rollups(&self, server_id: i64, rollups: &[Rollup]) -> StoreResult<u64> {
        let mut c = self.w();
        let tx = c.transaction().map_err(other)?;
        let mut high = 0;
        {
            let mut st = tx
                .prepare_cached(
                    "INSERT INTO rollups (server_id, pm_id, app, span_ms, start, cpu_min, cpu_max, cpu_avg, cpu_last,
                       mem_min, mem_max, mem_avg, mem_last)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                     ON CONFLICT (server_id, pm_id, span_ms, start) DO NOTHING",
                )
                .map_err(other)?;
            for r in rollups {
                for p in &r.processes {
                    st.execute(params![
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
                    ])
                    .map_err(other)?;
                }
                high = high.max(r.seq);
            }
        }
        let mark = bump_seq(&tx, server_id, "rollups", high).map_err(other)?;
        // Rows replayed after an outage may land in windows already folded:
        // remember the earliest, so the next fold redoes them.
        if let Some(low) = rollups.iter().map(|r| r.start).min() {
            let get = |key: &str| -> rusqlite::Result<Option<i64>> {
                Ok(tx
                    .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                        r.get::<_, String>(0)
                    })
                    .optional()?
                    .and_then(|v| v.parse().ok()))
            };
            let folded = get("downsampled_until").map_err(other)?;
            if folded.is_some_and(|f| low < f) {
                let dirty = get("downsample_dirty_from")
                    .map_err(other)?
                    .map_or(low, |d| d.min(low));
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES ('downsample_dirty_from', ?1)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    params![dirty.to_string()],
                )
                .map_err(other)?;
            }
        }
        tx.commit().map_err(other)?;
        Ok(mark)
    }

    fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRow>> {
        let c = self.r();
        let mut st = c
            .prepare_cached(
                "SELECT e.id, e.server_id, s.name, e.seq, e.at, e.kind, e.pm_id, e.app, e.code, e.signal, e.detail
                 FROM events e JOIN servers s ON s.id = e.server_id
                 WHERE (?1 IS NULL OR e.server_id = ?1) AND (?2 IS NULL OR e.app = ?2) AND (?3 IS NULL OR e.id < ?3)
                 ORDER BY e.id DESC LIMIT ?4",
            )
            .map_err(other)?;
        let rows = st
            .query_map(params![q.server_id, q.app, q.before, q.limit], |r| {
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
            })
            .map_err(other)?;
        rows.collect::<Result<_, _>>().map_err(other)
    }

    fn downsample(&self, from: i64, to: i64) -> StoreResult<u64> {
        let mut c = self.w();
        let tx = c.transaction().map_err(other)?;
        // Portable SQL: min/max/avg in one pass, then "last" from the latest
        // 10-second row of each window.
        let n = tx
            .execute(
                "INSERT INTO rollups (server_id, pm_id, app, span_ms, start, cpu_min, cpu_max, cpu_avg, cpu_last,
                   mem_min, mem_max, mem_avg, mem_last)
                 SELECT server_id, pm_id, MAX(app), ?3, (start / ?3) * ?3, MIN(cpu_min), MAX(cpu_max), AVG(cpu_avg), 0,
                   MIN(mem_min), MAX(mem_max), AVG(mem_avg), 0
                 FROM rollups WHERE span_ms = 10000 AND start >= ?1 AND start < ?2
                 GROUP BY server_id, pm_id, (start / ?3)
                 ON CONFLICT (server_id, pm_id, span_ms, start) DO UPDATE SET
                   cpu_min = excluded.cpu_min, cpu_max = excluded.cpu_max, cpu_avg = excluded.cpu_avg,
                   mem_min = excluded.mem_min, mem_max = excluded.mem_max, mem_avg = excluded.mem_avg",
                params![from, to, super::COARSE_SPAN_MS],
            )
            .map_err(other)?;
        tx.execute(
            "UPDATE rollups SET
               cpu_last = (SELECT t.cpu_last FROM rollups t WHERE t.server_id = rollups.server_id AND t.pm_id = rollups.pm_id
                  AND t.span_ms = 10000 AND t.start >= rollups.start AND t.start < rollups.start + ?3 ORDER BY t.start DESC LIMIT 1),
               mem_last = (SELECT t.mem_last FROM rollups t WHERE t.server_id = rollups.server_id AND t.pm_id = rollups.pm_id
                  AND t.span_ms = 10000 AND t.start >= rollups.start AND t.start < rollups.start + ?3 ORDER BY t.start DESC LIMIT 1)
             WHERE span_ms = ?3 AND start >= ?1 AND start < ?2",
            params![from, to, super::COARSE_SPAN_MS],
        )
        .map_err(other)?;
        tx.commit().map_err(other)?;
        Ok(n as u64)
    }

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.r()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(other)
    }

    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()> {
        self.w()
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(other)?;
        Ok(())
    }

    fn history(
        &self,
        server_id: i64,
        pm_id: i64,
        span_ms: i64,
        since: i64,
    ) -> StoreResult<Vec<RollupRow>> {
        let c = self.r();
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

    fn create_token(&self, name: &str, token_hash: &str) -> StoreResult<()> {
        self.w()
            .execute(
                "INSERT INTO api_tokens (name, token_hash, created_at) VALUES (?1, ?2, ?3)",
                params![name, token_hash, now_ms()],
            )
            .map_err(other)?;
        Ok(())
    }

    fn token_name(&self, token_hash: &str) -> StoreResult<Option<String>> {
        self.r()
            .query_row(
                "SELECT name FROM api_tokens WHERE token_hash = ?1",
                params![token_hash],
                |r| r.get(0),
            )
            .optional()
            .map_err(other)
    }

    fn insert_action(&self, a: &ActionRow) -> StoreResult<()> {
        self.w()
            .execute(
                "INSERT INTO actions (id, server_id, action, targets, requested_by, requested_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![a.id, a.server_id, a.action, a.targets, a.requested_by, a.requested_at],
            )
            .map_err(other)?;
        Ok(())
    }

    fn finish_action(
        &self,
        server_id: i64,
        id: &str,
        ok: bool,
        message: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.w()
            .execute(
                "UPDATE actions SET finished_at = ?2, ok = ?3, message = ?4
                 WHERE id = ?1 AND server_id = ?5 AND finished_at IS NULL",
                params![id, now, ok, message, server_id],
            )
            .map_err(other)?;
        Ok(())
    }

    fn action(&self, id: &str) -> StoreResult<ActionRow> {
        self.r()
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

    fn prune(
        &self,
        events_before: i64,
        rollups_before: i64,
        coarse_before: i64,
    ) -> StoreResult<u64> {
        let c = self.w();
        let a = c
            .execute("DELETE FROM events WHERE at < ?1", params![events_before])
            .map_err(other)?;
        let b = c
            .execute(
                "DELETE FROM rollups WHERE span_ms = 10000 AND start < ?1",
                params![rollups_before],
            )
            .map_err(other)?;
        let d = c
            .execute(
                "DELETE FROM rollups WHERE span_ms <> 10000 AND start < ?1",
                params![coarse_before],
            )
            .map_err(other)?;
        Ok((a + b + d) as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pmr_shared::link::messages::EventKind;

    fn event(seq: u64) -> Event {
        Event {
            seq,
            at: 1,
            kind: EventKind::Exit,
            pm_id: 0,
            name: "api".into(),
            code: Some(1),
            signal: None,
            detail: None,
        }
    }

    #[test]
    fn events_are_stored_once_and_resume_tracks_them() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("hub.db")).unwrap();
        let key = s.create_key("prod", "PKEY").unwrap();
        let server = s
            .upsert_server(key.bucket_id, "m1", "web", "0.1.0", 5)
            .unwrap();
        assert_eq!(s.resume(server).unwrap(), Resume::default());
        assert_eq!(s.insert_events(server, &[event(1), event(2)]).unwrap(), 2);
        // A replay of the same sequence numbers adds nothing.
        assert_eq!(s.insert_events(server, &[event(2), event(3)]).unwrap(), 3);
        let all = s
            .events(&EventQuery {
                limit: 100,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(s.resume(server).unwrap().events, 3);
        assert!(matches!(
            s.create_key("prod", "PKEY"),
            Err(StoreError::Conflict(_))
        ));
        let revoked = s.revoke_key("PKEY").unwrap();
        assert!(revoked.revoked_at.is_some());
        assert!(matches!(s.revoke_key("nope"), Err(StoreError::NotFound)));
        assert_eq!(s.hub_id().unwrap(), s.hub_id().unwrap());
    }

    #[test]
    fn the_data_dir_and_database_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let db = data.join("hub.db");
        let s = SqliteStore::open(&db).unwrap();
        s.hub_id().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&db), 0o600);
        assert_eq!(mode(&data.join("hub.db-wal")), 0o600);
        // An older database left readable by others is tightened.
        drop(s);
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        SqliteStore::open(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
    }

    #[test]
    fn ten_second_rows_fold_into_five_minute_rows() {
        use pmr_shared::link::messages::{Agg, ProcRollup};
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("hub.db")).unwrap();
        let key = s.create_key("prod", "PKEY").unwrap();
        let server = s
            .upsert_server(key.bucket_id, "m1", "web", "0.1.0", 5)
            .unwrap();
        let a = |v: f64| Agg {
            min: v,
            max: v * 2.0,
            avg: v,
            last: v,
        };
        let rollups: Vec<Rollup> = (0..30)
            .map(|i| Rollup {
                seq: i + 1,
                start: 600_000 + i as i64 * 10_000,
                span_ms: 10_000,
                processes: vec![ProcRollup {
                    pm_id: 0,
                    name: "api".into(),
                    cpu: a(i as f64),
                    memory: a(100.0),
                }],
            })
            .collect();
        s.insert_rollups(server, &rollups).unwrap();
        assert_eq!(s.downsample(600_000, 900_000).unwrap(), 1);
        let coarse = s
            .history(server, 0, super::super::COARSE_SPAN_MS, 0)
            .unwrap();
        assert_eq!(coarse.len(), 1);
        assert_eq!(coarse[0].start, 600_000);
        assert_eq!(coarse[0].cpu, [0.0, 58.0, 14.5, 29.0]);
        assert_eq!(s.history(server, 0, 10_000, 0).unwrap().len(), 30);
        // Folding again recomputes, never duplicates.
        s.downsample(600_000, 900_000).unwrap();
        assert_eq!(
            s.history(server, 0, super::super::COARSE_SPAN_MS, 0)
                .unwrap()
                .len(),
            1
        );
        // A late row behind the folded mark is noted for the next fold.
        s.set_meta("downsampled_until", "900000").unwrap();
        let late = Rollup {
            seq: 99,
            start: 610_000,
            span_ms: 10_000,
            processes: vec![ProcRollup {
                pm_id: 1,
                name: "w".into(),
                cpu: a(1.0),
                memory: a(1.0),
            }],
        };
        s.insert_rollups(server, &[late]).unwrap();
        assert_eq!(
            s.meta("downsample_dirty_from").unwrap().as_deref(),
            Some("610000")
        );
    }
}
