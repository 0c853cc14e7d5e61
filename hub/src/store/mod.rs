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

/// Everything the hub keeps on disk.
pub trait Store: Send + Sync + 'static {
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
    /// Records a connection; returns the server's id.
    fn upsert_server(
        &self,
        bucket_id: i64,
        machine_id: &str,
        name: &str,
        version: &str,
        now: i64,
    ) -> StoreResult<i64>;
    /// Updates last-seen times in one go.
    fn touch_servers(&self, seen: &[(i64, i64)]) -> StoreResult<()>;
    /// All servers.
    fn servers(&self) -> StoreResult<Vec<ServerRow>>;
    /// Highest stored sequence number per stream.
    fn resume(&self, server_id: i64) -> StoreResult<Resume>;
    /// Stores events (once each, by sequence number); returns the new high mark.
    fn insert_events(&self, server_id: i64, events: &[Event]) -> StoreResult<u64>;
    /// Stores rollups (once each); returns the new high mark.
    fn insert_rollups(&self, server_id: i64, rollups: &[Rollup]) -> StoreResult<u64>;
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
    /// Folds the 10-second rows of `[from, to)` into 5-minute rows; returns rows written.
    fn downsample(&self, from: i64, to: i64) -> StoreResult<u64>;
    /// A value of the hub's own bookkeeping.
    fn meta(&self, key: &str) -> StoreResult<Option<String>>;
    /// Sets a bookkeeping value.
    fn set_meta(&self, key: &str, value: &str) -> StoreResult<()>;
    /// Stores an API token's hash.
    fn create_token(&self, name: &str, token_hash: &str) -> StoreResult<()>;
    /// The token's name, if the hash is known.
    fn token_name(&self, token_hash: &str) -> StoreResult<Option<String>>;
    /// Records a requested action.
    fn insert_action(&self, row: &ActionRow) -> StoreResult<()>;
    /// Records an action's outcome, once, and only from the server it was sent to.
    fn finish_action(
        &self,
        server_id: i64,
        id: &str,
        ok: bool,
        message: &str,
        now: i64,
    ) -> StoreResult<()>;
    /// One action.
    fn action(&self, id: &str) -> StoreResult<ActionRow>;
    /// Deletes events, 10-second and 5-minute rollups older than the given times.
    fn prune(
        &self,
        events_before: i64,
        rollups_before: i64,
        coarse_before: i64,
    ) -> StoreResult<u64>;
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
