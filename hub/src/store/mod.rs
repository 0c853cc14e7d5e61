//! Persistence behind one trait, so the SQLite backend (embedded default) and
//! a PostgreSQL backend share callers and tests. The store knows no HTTP and
//! no websocket; its methods are synchronous and run on blocking threads.

mod alert_rows;
pub mod copy;
pub mod postgres;
mod rows;
pub mod sqlite;
#[cfg(test)]
pub(crate) mod tests;
mod write;
pub mod writer;

pub use alert_rows::{AlertRow, DeliveryRow, ExceptionRow, NotifiedRow, ReceiverRow, RuleRow};
pub use rows::{
    ActionRow, AuditRow, EventQuery, EventRow, KeyRow, RollupRow, ServerRow, TokenInfo, TokenRow,
    UserRow,
};
pub use write::{Family, Write, Written};

use pmr_shared::link::messages::{Resume, Stream};

/// Store errors; `NotFound` is told apart so the API can answer 404.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such row.
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write.
    #[error("already exists: {0}")]
    Conflict(String),
    /// Anything else.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Everything the hub keeps on disk.
pub trait Store: Send + Sync + 'static {
    /// Applies writes in one transaction; one result per write, in order.
    fn write(&self, batch: &[&Write]) -> Vec<StoreResult<Written>>;
    /// The hub's stable id, created on first use.
    fn hub_id(&self) -> StoreResult<String>;
    /// Stores a new bucket key (the bucket is created if needed), outside
    /// the writer: for the command line and tests.
    fn create_key(&self, bucket: &str, public_key: &str) -> StoreResult<KeyRow> {
        let w = Write::CreateKey {
            bucket: bucket.into(),
            public_key: public_key.into(),
            now: crate::clock::now_ms(),
        };
        write_one(self, w)?;
        self.key(public_key)?.ok_or(StoreError::NotFound)
    }
    /// All keys.
    fn list_keys(&self) -> StoreResult<Vec<KeyRow>>;
    /// Revokes a key by its text or row id, outside the writer; returns it.
    fn revoke_key(&self, which: &str) -> StoreResult<KeyRow> {
        let w = Write::RevokeKey {
            which: which.into(),
            now: crate::clock::now_ms(),
        };
        write_one(self, w)?;
        match self.find_key(which)? {
            Some(k) if k.revoked_at.is_some() => Ok(k),
            _ => Err(StoreError::NotFound),
        }
    }
    /// A key by its text or row id (keys are few: a scan).
    fn find_key(&self, which: &str) -> StoreResult<Option<KeyRow>> {
        let keys = self.list_keys()?;
        Ok(keys
            .into_iter()
            .find(|k| k.public_key == which || k.id.to_string() == which))
    }
    /// A key by its text form.
    fn key(&self, public_key: &str) -> StoreResult<Option<KeyRow>>;
    /// All servers.
    fn servers(&self) -> StoreResult<Vec<ServerRow>>;
    /// Highest stored sequence number per stream.
    fn resume(&self, server_id: i64) -> StoreResult<Resume>;
    /// Events, newest first.
    fn events(&self, q: &EventQuery) -> StoreResult<Vec<EventRow>>;
    /// History of one process at one resolution (10 s or 5 min rows).
    fn history(
        &self,
        server_id: i64,
        pm_id: i64,
        span_ms: i64,
        since: i64,
    ) -> StoreResult<Vec<RollupRow>>;
    /// A value of the hub's own bookkeeping.
    fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Stores an API token's hash, optionally owned by a user (id) with a
    /// role, outside the writer: for the command line and the bench.
    fn create_token(
        &self,
        name: &str,
        token_hash: &str,
        owner: Option<(i64, &str)>,
    ) -> StoreResult<()> {
        let w = Write::CreateToken {
            name: name.into(),
            token_hash: token_hash.into(),
            owner: owner.map(|(id, role)| (id, role.to_string())),
            now: crate::clock::now_ms(),
        };
        write_one(self, w).map(|_| ())
    }
    /// Every API token (never its hash), oldest first.
    fn tokens(&self) -> StoreResult<Vec<TokenInfo>>;
    /// The token's name, if the hash is known.
    fn token_name(&self, token_hash: &str) -> StoreResult<Option<String>>;
    /// One action.
    fn action(&self, id: &str) -> StoreResult<ActionRow>;
    /// Every user, by e-mail.
    fn users(&self) -> StoreResult<Vec<UserRow>>;
    /// A user and their password hash, for a login.
    fn user_login(&self, email: &str) -> StoreResult<Option<(UserRow, String)>>;
    /// The user of a session that has not expired at `now`.
    fn session_user(&self, id_hash: &str, now: i64) -> StoreResult<Option<UserRow>>;
    /// A token by its hash.
    fn token(&self, token_hash: &str) -> StoreResult<Option<TokenRow>>;
    /// The newest audit lines, newest first.
    fn audit(&self, limit: i64) -> StoreResult<Vec<AuditRow>>;
    /// Every alert rule, oldest first.
    fn alert_rules(&self) -> StoreResult<Vec<RuleRow>>;
    /// Every receiver, oldest first.
    fn receivers(&self) -> StoreResult<Vec<ReceiverRow>>;
    /// Alerts that fired, newest first.
    fn alert_history(&self, limit: i64) -> StoreResult<Vec<AlertRow>>;
    /// Alerts that fired and have not resolved, oldest first: restored at
    /// start.
    fn open_alerts(&self) -> StoreResult<Vec<AlertRow>>;
    /// The notification log.
    fn notification_log(&self) -> StoreResult<Vec<NotifiedRow>>;
    /// Restarts recorded since `since` (Unix ms), oldest first, at most
    /// 100,000: server id, app, when.
    fn restarts_since(&self, since: i64) -> StoreResult<Vec<(i64, String, i64)>>;
    /// Delivery attempts, newest first.
    fn deliveries(&self, limit: i64) -> StoreResult<Vec<DeliveryRow>>;
    /// Exception groups, the most recently seen first.
    fn exception_groups(&self, limit: i64) -> StoreResult<Vec<ExceptionRow>>;
    /// The keys of every exception group (no samples read).
    fn exception_keys(&self) -> StoreResult<Vec<String>>;
}

/// One write outside a batch: for start-up (before the writer runs) and tests.
pub fn write_one<S: Store + ?Sized>(store: &S, w: Write) -> StoreResult<Written> {
    store
        .write(&[&w])
        .pop()
        .unwrap_or_else(|| Err(StoreError::Other(anyhow::anyhow!("no result"))))
}

/// Most rows one prune deletes from each table.
pub const PRUNE_CHUNK: i64 = 5000;

/// Width of the coarse rollups.
pub const COARSE_SPAN_MS: i64 = 300_000;

/// The stream a row belongs to, as stored in `stream_seq`.
pub fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Events => "events",
        Stream::Rollups => "rollups",
    }
}
