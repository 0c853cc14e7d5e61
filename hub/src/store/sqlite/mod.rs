//! The embedded SQLite backend: one file beside the hub, WAL journal.

use std::path::Path;
use std::sync::Mutex;

use anyhow::Context;
use pmr_shared::link::messages::Resume;
use rusqlite::{Connection, OptionalExtension, params};

mod access;
mod alerts;
mod meta;
mod migrate;
mod read;
mod write;

use super::{
    ActionRow, AuditRow, EventQuery, EventRow, KeyRow, RollupRow, ServerRow, Store, StoreError,
    StoreResult, TokenInfo, TokenRow, UserRow, Write, Written,
};
use pmr_shared::sync::Locked;

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
        self.write.locked()
    }

    fn r(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.read.locked()
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

    fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        read::list_keys(&self.r())
    }

    fn key(&self, public_key: &str) -> StoreResult<Option<KeyRow>> {
        read::key(&self.r(), public_key)
    }

    fn servers(&self) -> StoreResult<Vec<ServerRow>> {
        read::servers(&self.r())
    }

    fn resume(&self, server_id: i64) -> StoreResult<Resume> {
        read::resume(&self.r(), server_id)
    }

    fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRow>> {
        read::events(&self.r(), q)
    }

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        read::meta(&self.r(), key)
    }

    fn history(
        &self,
        server_id: i64,
        pm_id: i64,
        span_ms: i64,
        since: i64,
    ) -> StoreResult<Vec<RollupRow>> {
        read::history(&self.r(), server_id, pm_id, span_ms, since)
    }

    fn token_name(&self, token_hash: &str) -> StoreResult<Option<String>> {
        read::token_name(&self.r(), token_hash)
    }

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        read::tokens(&self.r())
    }

    fn alert_rules(&self) -> StoreResult<Vec<super::RuleRow>> {
        alerts::rules(&self.r())
    }

    fn receivers(&self) -> StoreResult<Vec<super::ReceiverRow>> {
        alerts::receivers(&self.r())
    }

    fn alert_history(&self, limit: i64) -> StoreResult<Vec<super::AlertRow>> {
        alerts::history(&self.r(), limit)
    }

    fn open_alerts(&self) -> StoreResult<Vec<super::AlertRow>> {
        alerts::open(&self.r())
    }

    fn notification_log(&self) -> StoreResult<Vec<super::NotifiedRow>> {
        alerts::notification_log(&self.r())
    }

    fn restarts_since(&self, since: i64) -> StoreResult<Vec<(i64, String, i64)>> {
        alerts::restarts_since(&self.r(), since)
    }

    fn deliveries(&self, limit: i64) -> StoreResult<Vec<super::DeliveryRow>> {
        alerts::deliveries(&self.r(), limit)
    }

    fn exception_groups(&self, limit: i64) -> StoreResult<Vec<super::ExceptionRow>> {
        alerts::exception_groups(&self.r(), limit)
    }

    fn exception_keys(&self) -> StoreResult<Vec<String>> {
        alerts::exception_keys(&self.r())
    }

    fn users(&self) -> StoreResult<Vec<UserRow>> {
        read::users(&self.r())
    }

    fn user_login(&self, email: &str) -> StoreResult<Option<(UserRow, String)>> {
        read::user_login(&self.r(), email)
    }

    fn session_user(&self, id_hash: &str, now: i64) -> StoreResult<Option<UserRow>> {
        read::session_user(&self.r(), id_hash, now)
    }

    fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>> {
        read::token(&self.r(), token_hash)
    }

    fn audit(&self, limit: i64) -> StoreResult<Vec<AuditRow>> {
        read::audit(&self.r(), limit)
    }

    fn action(&self, id: &str) -> StoreResult<ActionRow> {
        read::action(&self.r(), id)
    }
}

#[cfg(test)]
pub(crate) mod tests;
