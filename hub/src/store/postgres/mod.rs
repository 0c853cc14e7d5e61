//! The PostgreSQL backend, for production and for several replicas on one
//! database. The store trait is synchronous and runs on blocking threads,
//! so this backend uses the synchronous `postgres` client: one connection
//! owned by the single writer (group commit, as on SQLite) and an r2d2
//! pool for reads. Connections lost with the database are made again on
//! the next call.

use std::sync::Mutex;

use anyhow::Context;
use pmr_shared::link::messages::Resume;
use pmr_shared::sync::Locked;
use postgres::Client;
use r2d2_postgres::PostgresConnectionManager;
use tokio_postgres_rustls::MakeRustlsConnect;

mod access;
mod alerts;
pub mod connect;
mod meta;
mod migrate;
mod read;
mod write;

use super::{
    ActionRow, AuditRow, EventQuery, EventRow, KeyRow, RollupRow, ServerRow, Store, StoreError,
    StoreResult, TokenInfo, TokenRow, UserRow, Write, Written,
};

type Pool = r2d2_postgres::r2d2::Pool<PostgresConnectionManager<MakeRustlsConnect>>;
type Pooled = r2d2_postgres::r2d2::PooledConnection<PostgresConnectionManager<MakeRustlsConnect>>;

/// Most read connections one replica holds.
const READERS: u32 = 8;

/// PostgreSQL store: the writer's connection and a pool of readers.
pub struct PgStore {
    target: connect::Target,
    /// Taken apart in `drop`, where closing them may block.
    conns: Option<Conns>,
}

struct Conns {
    write: Mutex<Option<Client>>,
    read: Pool,
}

/// A driver error as a store error: a broken rule (unique, foreign key,
/// check) is a conflict the API answers 409, the rest is the database's.
fn other(e: postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error()
        && db.code().code().starts_with("23")
    {
        return StoreError::Conflict(db.message().to_string());
    }
    StoreError::Other(anyhow::anyhow!(
        "database: {}",
        crate::config::mask_passwords(&connect::error_text(&e))
    ))
}

impl PgStore {
    /// Connects to the database at `url` and brings its schema up to date.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        let target = connect::target(url)?;
        let mut write = blocking(|| target.connect())?;
        blocking(|| migrate::migrate(&mut write))
            .with_context(|| format!("database {}", connect::describe(&target.config)))?;
        let manager = PostgresConnectionManager::new(target.sync_config(), target.tls.clone());
        let read = r2d2_postgres::r2d2::Pool::builder()
            .max_size(READERS)
            .min_idle(Some(1))
            .connection_timeout(std::time::Duration::from_secs(10))
            .build_unchecked(manager);
        Ok(Self {
            target,
            conns: Some(Conns {
                write: Mutex::new(Some(write)),
                read,
            }),
        })
    }

    fn conns(&self) -> &Conns {
        self.conns.as_ref().expect("taken only in drop")
    }

    /// Runs `f` on the writer's connection, connecting again first if the
    /// last one was lost.
    fn with_writer<T>(&self, f: impl FnOnce(&mut Client) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| {
            let mut guard = self.conns().write.locked();
            if guard.as_ref().is_none_or(Client::is_closed) {
                *guard = Some(self.target.connect()?);
            }
            let client = guard.as_mut().expect("connected above");
            f(client)
        })
    }

    /// Runs `f` on a reader from the pool.
    fn read<T>(&self, f: impl FnOnce(&mut Client) -> StoreResult<T>) -> StoreResult<T> {
        blocking(|| {
            let mut c: Pooled = self
                .conns()
                .read
                .get()
                .map_err(|e| StoreError::Other(anyhow::anyhow!("database: {e}")))?;
            f(&mut c)
        })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        let conns = self.conns.take();
        blocking(|| drop(conns));
    }
}

/// Runs `f`, which blocks on the database, where blocking is allowed: the
/// synchronous client drives its own small runtime, which may not start on
/// a thread that drives the hub's tasks. On such a thread `f` runs after
/// its tasks are handed to another (`block_in_place`); on a blocking or
/// plain thread it just runs.
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// Applies `batch` in one transaction, each write under its own savepoint
/// so that one failing write takes back only its own rows.
fn write_batch(c: &mut Client, batch: &[&Write]) -> Vec<StoreResult<Written>> {
    let failed = |msg: String| -> Vec<StoreResult<Written>> {
        batch
            .iter()
            .map(|_| Err(StoreError::Other(anyhow::anyhow!("{msg}"))))
            .collect()
    };
    let mut tx = match c.transaction() {
        Ok(tx) => tx,
        Err(e) => return failed(format!("database: {}", connect::error_text(&e))),
    };
    let mut out = Vec::with_capacity(batch.len());
    for w in batch {
        let r = tx.transaction().and_then(|mut sp| {
            let written = write::apply(&mut sp, w)?;
            sp.commit()?;
            Ok(written)
        });
        out.push(r.map_err(other));
    }
    if let Err(e) = tx.commit() {
        return failed(format!("commit failed: {}", connect::error_text(&e)));
    }
    out
}

impl Store for PgStore {
    fn write(&self, batch: &[&Write]) -> Vec<StoreResult<Written>> {
        match self.with_writer(|c| Ok(write_batch(c, batch))) {
            Ok(out) => out,
            Err(e) => {
                let msg = e.to_string();
                batch
                    .iter()
                    .map(|_| Err(StoreError::Other(anyhow::anyhow!("{msg}"))))
                    .collect()
            }
        }
    }

    fn hub_id(&self) -> StoreResult<String> {
        let mut bytes = [0u8; 8];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        let fresh = format!("hub-{}", pmr_shared::link::handshake::hex(&bytes));
        // The first replica's id stays: every other one reads it back.
        self.with_writer(|c| {
            c.execute(
                "INSERT INTO meta (key, value) VALUES ('hub_id', $1) ON CONFLICT (key) DO NOTHING",
                &[&fresh],
            )
            .map_err(other)?;
            Ok(
                c.query_one("SELECT value FROM meta WHERE key = 'hub_id'", &[])
                    .map_err(other)?
                    .get(0),
            )
        })
    }

    fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        self.read(read::list_keys)
    }

    fn key(&self, public_key: &str) -> StoreResult<Option<KeyRow>> {
        self.read(|c| read::key(c, public_key))
    }

    fn servers(&self) -> StoreResult<Vec<ServerRow>> {
        self.read(read::servers)
    }

    fn resume(&self, server_id: i64) -> StoreResult<Resume> {
        self.read(|c| read::resume(c, server_id))
    }

    fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRow>> {
        self.read(|c| read::events(c, q))
    }

    fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        self.read(|c| read::meta(c, key))
    }

    fn history(
        &self,
        server_id: i64,
        pm_id: i64,
        span_ms: i64,
        since: i64,
    ) -> StoreResult<Vec<RollupRow>> {
        self.read(|c| read::history(c, server_id, pm_id, span_ms, since))
    }

    fn token_name(&self, token_hash: &str) -> StoreResult<Option<String>> {
        self.read(|c| read::token_name(c, token_hash))
    }

    fn tokens(&self) -> StoreResult<Vec<TokenInfo>> {
        self.read(read::tokens)
    }

    fn alert_rules(&self) -> StoreResult<Vec<super::RuleRow>> {
        self.read(alerts::rules)
    }

    fn receivers(&self) -> StoreResult<Vec<super::ReceiverRow>> {
        self.read(alerts::receivers)
    }

    fn alert_history(&self, limit: i64) -> StoreResult<Vec<super::AlertRow>> {
        self.read(|c| alerts::history(c, limit))
    }

    fn open_alerts(&self) -> StoreResult<Vec<super::AlertRow>> {
        self.read(alerts::open)
    }

    fn notification_log(&self) -> StoreResult<Vec<super::NotifiedRow>> {
        self.read(alerts::notification_log)
    }

    fn restarts_since(&self, since: i64) -> StoreResult<Vec<(i64, String, i64)>> {
        self.read(|c| alerts::restarts_since(c, since))
    }

    fn deliveries(&self, limit: i64) -> StoreResult<Vec<super::DeliveryRow>> {
        self.read(|c| alerts::deliveries(c, limit))
    }

    fn exception_groups(&self, limit: i64) -> StoreResult<Vec<super::ExceptionRow>> {
        self.read(|c| alerts::exception_groups(c, limit))
    }

    fn exception_keys(&self) -> StoreResult<Vec<String>> {
        self.read(alerts::exception_keys)
    }

    fn users(&self) -> StoreResult<Vec<UserRow>> {
        self.read(read::users)
    }

    fn user_login(&self, email: &str) -> StoreResult<Option<(UserRow, String)>> {
        self.read(|c| read::user_login(c, email))
    }

    fn session_user(&self, id_hash: &str, now: i64) -> StoreResult<Option<UserRow>> {
        self.read(|c| read::session_user(c, id_hash, now))
    }

    fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>> {
        self.read(|c| read::token(c, token_hash))
    }

    fn audit(&self, limit: i64) -> StoreResult<Vec<AuditRow>> {
        self.read(|c| read::audit(c, limit))
    }

    fn action(&self, id: &str) -> StoreResult<ActionRow> {
        self.read(|c| read::action(c, id))
    }
}
