//! The rows the store hands out and takes: what the API serves and the
//! writer stores.

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
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
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

/// An API token as listed: never its hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// Row id; revoke with `DELETE /api/v1/tokens/{id}`.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// Its role; null for a token made before users existed (full access).
    pub role: Option<String>,
    /// The e-mail of the user it acts for; null for a user-less token.
    pub user: Option<String>,
    /// Creation time, Unix ms.
    pub created_at: i64,
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
