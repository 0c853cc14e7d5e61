//! The embedded SQLite backend: one file beside the hub, WAL journal.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use pmr_shared::link::messages::Resume;
use rusqlite::{Connection, OptionalExtension, params};

mod migrate;
mod write;

use super::{
    ActionRow, AuditRow, EventQuery, EventRow, KeyRow, RollupRow, ServerRow, Store, StoreError,
    StoreResult, TokenRow, UserRow, Write, Written,
};

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
        let mut write = open(path)?;
        // Acks promise the rows are stored: the writer's commits are
        // synced (one sync per group, not per row).
        write.pragma_update(None, "synchronous", "FULL")?;
        migrate::migrate(&mut write)?;
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

/// A token's name and role, its user id and that user's e-mail (if they exist).
type TokenJoin = (String, Option<String>, Option<i64>, Option<String>);

const USER_SELECT: &str = "SELECT id, email, role, buckets, created_at, password_hash FROM users";

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    let buckets: Option<String> = r.get(3)?;
    Ok(UserRow {
        id: r.get(0)?,
        email: r.get(1)?,
        role: r.get(2)?,
        buckets: buckets.map(|b| b.split(',').map(String::from).collect()),
        created_at: r.get(4)?,
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Applies `batch` in one transaction, each write under its own savepoint
/// so that one failing write takes back only its own rows.
fn write_batch(c: &mut Connection, batch: &[&Write]) -> Vec<StoreResult<Written>> {
    // IMMEDIATE: the write lock is taken (or waited for) once, at BEGIN,
    // not by each statement of the batch.
    let tx = match c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let msg = e.to_string();
            return batch
                .iter()
                .map(|_| Err(StoreError::Other(anyhow::anyhow!("{msg}"))))
                .collect();
        }
    };
    let mut tx = tx;
    let mut out = Vec::with_capacity(batch.len());
    for w in batch {
        if tx.is_autocommit() {
            // SQLite rolled the whole transaction back by itself (full disk,
            // I/O error): nothing of this batch may claim to be stored.
            out.push(Err(StoreError::Other(anyhow::anyhow!(
                "the transaction was rolled back"
            ))));
            continue;
        }
        let r = tx.savepoint().and_then(|sp| {
            let written = write::apply(&sp, w)?;
            sp.commit()?;
            Ok(written)
        });
        out.push(r.map_err(other));
    }
    if tx.is_autocommit() {
        return batch
            .iter()
            .map(|_| {
                Err(StoreError::Other(anyhow::anyhow!(
                    "the transaction was rolled back"
                )))
            })
            .collect();
    }
    if let Err(e) = tx.commit() {
        let msg = e.to_string();
        return batch
            .iter()
            .map(|_| Err(StoreError::Other(anyhow::anyhow!("commit failed: {msg}"))))
            .collect();
    }
    out
}

impl Store for SqliteStore {
    fn write(&self, batch: &[&Write]) -> Vec<StoreResult<Written>> {
        let mut c = self.w();
        write_batch(&mut c, batch)
    }

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

    fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRow>> {
        let c = self.r();
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

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.r()
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(other)
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

    fn create_token(
        &self,
        name: &str,
        token_hash: &str,
        owner: Option<(i64, &str)>,
    ) -> StoreResult<()> {
        let (user_id, role) = (owner.map(|o| o.0), owner.map(|o| o.1));
        self.w()
            .execute(
                "INSERT INTO api_tokens (name, token_hash, created_at, user_id, role) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![name, token_hash, now_ms(), user_id, role],
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

    fn users(&self) -> StoreResult<Vec<UserRow>> {
        let c = self.r();
        let mut st = c
            .prepare(&format!("{USER_SELECT} ORDER BY email"))
            .map_err(other)?;
        let rows = st.query_map([], user_row).map_err(other)?;
        rows.collect::<Result<_, _>>().map_err(other)
    }

    fn user_login(&self, email: &str) -> StoreResult<Option<(UserRow, String)>> {
        self.r()
            .query_row(
                &format!("{USER_SELECT} WHERE email = ?1"),
                params![email],
                |r| Ok((user_row(r)?, r.get(5)?)),
            )
            .optional()
            .map_err(other)
    }

    fn session_user(&self, id_hash: &str, now: i64) -> StoreResult<Option<UserRow>> {
        self.r()
            .query_row(
                "SELECT u.id, u.email, u.role, u.buckets, u.created_at FROM sessions s
                 JOIN users u ON u.id = s.user_id WHERE s.id_hash = ?1 AND s.expires_at > ?2",
                params![id_hash, now],
                user_row,
            )
            .optional()
            .map_err(other)
    }

    fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>> {
        let c = self.r();
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

    fn audit(&self, limit: i64) -> StoreResult<Vec<AuditRow>> {
        let c = self.r();
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
}

#[cfg(test)]
mod tests;
