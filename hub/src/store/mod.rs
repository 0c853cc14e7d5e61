//! Persistence behind one trait, so the SQLite backend (embedded default) and
//! a PostgreSQL backend share callers and tests. The store knows no HTTP and
//! no websocket; its methods are synchronous and run on blocking threads.

pub mod sqlite;

use pmr_shared::link::messages::{Event, Resume, Rollup, Stream};
use serde::Serialize;

/// A stored bucket key (public half only).
#[derive(Debug, Clone, Serialize)]
pub struct KeyRow {
    /// Row id.
    pub id: i64,
    /// Bucket name.
    pub bucket: String,
    /// Bucket id.
    pub bucket_id: i64,
    /// Public key, text form.
    pub public_key: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
}

/// A server as stored.
#[derive(Debug, Clone, Serialize)]
pub struct ServerRow {
    /// Row id.
    pub id: i64,
    /// Bucket name.
    pub bucket: String,
    /// The agent's machine id.
    pub machine_id: String,
    /// Display name.
    pub name: String,
    /// Agent release version.
    pub agent_version: String,
    /// First connection, Unix ms.
    pub first_seen: i64,
    /// Last connection or data, Unix ms.
    pub last_seen: i64,
}

/// An event as stored and served.
#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    /// Row id, also the paging cursor.
    pub id: i64,
    /// Server id.
    pub server_id: i64,
    /// Server name.
    pub server: String,
    /// Agent sequence number.
    pub seq: i64,
    /// Agent clock, Unix ms.
    pub at: i64,
    /// Kind.
    pub kind: String,
    /// Instance id.
    pub pm_id: i64,
    /// App name.
    pub app: String,
    /// Exit code.
    pub code: Option<i64>,
    /// Signal.
    pub signal: Option<String>,
    /// Detail text.
    pub detail: Option<String>,
}

/// Filters for listing events.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Only this server.
    pub server_id: Option<i64>,
    /// Only this app.
    pub app: Option<String>,
    /// Only events with an id below this (paging backwards).
    pub before: Option<i64>,
    /// Page size.
    pub limit: i64,
    /// Only servers of these buckets; none: every bucket.
    pub buckets: Option<Vec<String>>,
}

/// A recorded remote action.
#[derive(Debug, Clone, Serialize)]
pub struct ActionRow {
    /// Action id.
    pub id: String,
    /// Server id.
    pub server_id: i64,
    /// Verb.
    pub action: String,
    /// Targets, comma-separated.
    pub targets: String,
    /// Who asked (token name).
    pub requested_by: String,
    /// When, Unix ms.
    pub requested_at: i64,
    /// When the result came, Unix ms.
    pub finished_at: Option<i64>,
    /// Outcome.
    pub ok: Option<bool>,
    /// Result message.
    pub message: Option<String>,
}

/// A user (never the password hash, which only [`Store::user_login`] gives).
#[derive(Debug, Clone, Serialize)]
pub struct UserRow {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub email: String,
    /// Role name (`owner`, `admin`, `operator`, `viewer`).
    pub role: String,
    /// The buckets the user may see; none: every bucket.
    pub buckets: Option<Vec<String>>,
    /// Creation time, Unix ms.
    pub created_at: i64,
}

/// One line of the audit log: who did what, when, from where, and how it went.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    /// Unix ms.
    pub at: i64,
    /// The user's e-mail, or `token:NAME`.
    pub actor: String,
    /// The client's address.
    pub address: String,
    /// What was done (`login`, `action:restart`, ...).
    pub action: String,
    /// What it was done to.
    pub target: String,
    /// `ok`, or what went wrong.
    pub result: String,
}

/// An API token as the hub knows it (never the token itself).
#[derive(Debug, Clone)]
pub struct TokenRow {
    /// Its name.
    pub name: String,
    /// Its role; none for a token made before users existed (full access).
    pub role: Option<String>,
    /// Its user, if it has one.
    pub user: Option<UserRow>,
}

/// One 10-second (or coarser) aggregate row.
#[derive(Debug, Clone, Serialize)]
pub struct RollupRow {
    /// Window start, Unix ms.
    pub start: i64,
    /// Window length, ms.
    pub span_ms: i64,
    /// CPU min/max/avg/last.
    pub cpu: [f64; 4],
    /// Memory min/max/avg/last.
    pub memory: [f64; 4],
}

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

/// One write. The hub's single writer (`ingest::writer`) is the only caller
/// of [`Store::write`], and puts many writes into one transaction.
#[derive(Debug, Clone)]
pub enum Write {
    /// Records a connection ([`Written::Id`]: the server's id).
    UpsertServer {
        /// The key's bucket.
        bucket_id: i64,
        /// The agent's machine id.
        machine_id: String,
        /// Display name.
        name: String,
        /// Agent release.
        version: String,
        /// Unix ms.
        now: i64,
    },
    /// Last-seen times, `(server, Unix ms)`.
    TouchServers(Vec<(i64, i64)>),
    /// Events, once each by seq ([`Written::Rows`]: how many were new).
    Events {
        /// Server id.
        server_id: i64,
        /// The events.
        events: Vec<Event>,
    },
    /// Rollups, once each ([`Written::Rows`]: how many rows were new).
    Rollups {
        /// Server id.
        server_id: i64,
        /// The rollups.
        rollups: Vec<Rollup>,
    },
    /// A requested action.
    InsertAction(ActionRow),
    /// An action's outcome, once, and only from the server it was sent to
    /// ([`Written::Rows`]: 1 the first time, else 0).
    FinishAction {
        /// The server that answered.
        server_id: i64,
        /// Action id.
        id: String,
        /// Outcome.
        ok: bool,
        /// Result text.
        message: String,
        /// Unix ms.
        now: i64,
    },
    /// Folds into 5-minute rows every finished window (a minute of slack
    /// for late rows) not folded yet, and those a late row reopened
    /// ([`Written::Rows`]); the marks move in the same transaction.
    Downsample {
        /// Unix ms.
        now: i64,
    },
    /// Folds the 10-second rows of `[from, to)` into 5-minute rows
    /// ([`Written::Rows`]), marks untouched.
    Fold {
        /// Window start, Unix ms.
        from: i64,
        /// Window end, Unix ms.
        to: i64,
    },
    /// A bookkeeping value.
    SetMeta {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// A new user ([`Written::Id`]); an existing e-mail is a conflict.
    CreateUser {
        /// Login name.
        email: String,
        /// argon2id PHC string.
        password_hash: String,
        /// Role name.
        role: String,
        /// Bucket names, or none for every bucket.
        buckets: Option<Vec<String>>,
        /// Unix ms.
        now: i64,
    },
    /// The first owner, made with the one-time setup token, all checked in
    /// the same transaction: no user exists, the token's hash matches and
    /// it has not expired; the token is spent ([`Written::Id`], or
    /// [`Written::Refused`] `"exists"` or `"token"`).
    CreateFirstOwner {
        /// SHA-256 of the token given, hex.
        token_hash: String,
        /// Login name.
        email: String,
        /// argon2id PHC string.
        password_hash: String,
        /// Unix ms.
        now: i64,
    },
    /// Removes a user, their sessions and tokens ([`Written::Rows`]: 0 if unknown).
    DeleteUser {
        /// Login name.
        email: String,
    },
    /// A new password; every session of the user ends ([`Written::Rows`]: 0 if unknown).
    SetPassword {
        /// Login name.
        email: String,
        /// argon2id PHC string.
        password_hash: String,
    },
    /// A signed-in session, by the hash of its id.
    CreateSession {
        /// SHA-256 of the session id, hex.
        id_hash: String,
        /// The user.
        user_id: i64,
        /// Unix ms.
        now: i64,
        /// Unix ms.
        expires_at: i64,
        /// Where it signed in from.
        address: String,
    },
    /// Ends a session ([`Written::Rows`]).
    DeleteSession {
        /// SHA-256 of the session id, hex.
        id_hash: String,
    },
    /// One line of the audit log.
    Audit(AuditRow),
    /// Deletes events, 10-second and 5-minute rollups older than these, at
    /// most a few thousand of each per write ([`Written::Rows`]: repeat
    /// while it deletes any).
    Prune {
        /// Unix ms.
        events_before: i64,
        /// Unix ms.
        rollups_before: i64,
        /// Unix ms.
        coarse_before: i64,
    },
}

/// What a [`Write`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Nothing to report.
    Done,
    /// A row id.
    Id(i64),
    /// A stream's high mark.
    Seq(u64),
    /// Rows written or deleted.
    Rows(u64),
    /// Not done, and why (a check the write makes in its transaction).
    Refused(&'static str),
}

/// Everything the hub keeps on disk.
pub trait Store: Send + Sync + 'static {
    /// Applies writes in one transaction; one result per write, in order.
    fn write(&self, batch: &[&Write]) -> Vec<StoreResult<Written>>;
    /// The hub's stable id, created on first use.
    fn hub_id(&self) -> StoreResult<String>;
    /// Stores a new bucket key; the bucket is created if needed.
    fn create_key(&self, bucket: &str, public_key: &str) -> StoreResult<KeyRow>;
    /// All keys.
    fn list_keys(&self) -> StoreResult<Vec<KeyRow>>;
    /// Revokes a key by its text or row id; returns it.
    fn revoke_key(&self, which: &str) -> StoreResult<KeyRow>;
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
    /// Stores an API token's hash, optionally owned by a user (id) with a role.
    fn create_token(
        &self,
        name: &str,
        token_hash: &str,
        owner: Option<(i64, &str)>,
    ) -> StoreResult<()>;
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
}

/// One write outside a batch: for start-up (before the writer runs) and tests.
pub fn write_one(store: &dyn Store, w: Write) -> StoreResult<Written> {
    store
        .write(&[&w])
        .pop()
        .unwrap_or_else(|| Err(StoreError::Other(anyhow::anyhow!("no result"))))
}

/// Width of the coarse rollups.
pub const COARSE_SPAN_MS: i64 = 300_000;

/// The stream a row belongs to, as stored in `stream_seq`.
pub fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Events => "events",
        Stream::Rollups => "rollups",
    }
}
