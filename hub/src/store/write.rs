//! What the store's single writer applies: one [`Write`] per change, many
//! per transaction, each answered with a [`Written`].

use pmr_shared::link::messages::{Event, Rollup};

use super::ActionRow;
use super::AuditRow;
use super::alert_rows::{AlertRow, DeliveryRow, NotifiedRow};

/// One write. The hub's single writer ([`super::writer`]) is the only caller
/// of [`super::Store::write`], and puts many writes into one transaction.
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
    /// A bucket key ([`Written::Id`]); the bucket is created if needed.
    CreateKey {
        /// Bucket name.
        bucket: String,
        /// Public key, text form.
        public_key: String,
        /// Unix ms.
        now: i64,
    },
    /// Revokes a key by its text or row id ([`Written::Rows`]: 0 if unknown
    /// or revoked already).
    RevokeKey {
        /// Public key text or row id.
        which: String,
        /// Unix ms.
        now: i64,
    },
    /// An API token by its hash ([`Written::Id`]), owned by a user (id) with
    /// a role, or by nobody (full access, the pre-user kind).
    CreateToken {
        /// Its name.
        name: String,
        /// SHA-256 of the token, hex.
        token_hash: String,
        /// User id and role.
        owner: Option<(i64, String)>,
        /// Unix ms.
        now: i64,
    },
    /// Deletes a token by row id ([`Written::Rows`]).
    DeleteToken {
        /// Row id.
        id: i64,
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
    /// A new alert rule ([`Written::Id`]); an existing name is a conflict.
    CreateRule {
        /// Its name.
        name: String,
        /// The rule as JSON.
        spec: String,
        /// Unix ms.
        now: i64,
    },
    /// Removes a rule ([`Written::Rows`]).
    DeleteRule {
        /// Row id.
        id: i64,
    },
    /// Mutes a rule until a time, or unmutes it ([`Written::Rows`]).
    MuteRule {
        /// Row id.
        id: i64,
        /// Unix ms; none unmutes.
        until: Option<i64>,
    },
    /// A new receiver ([`Written::Id`]); an existing name is a conflict.
    CreateReceiver {
        /// Its name.
        name: String,
        /// `webhook`, `slack` or `discord`.
        kind: String,
        /// Its settings as JSON.
        spec: String,
        /// Its sealed URL and secret.
        sealed: String,
        /// Scheme and host, for lists.
        host: String,
        /// Unix ms.
        now: i64,
    },
    /// Removes a receiver ([`Written::Rows`]).
    DeleteReceiver {
        /// Row id.
        id: i64,
    },
    /// An alert fired (once per fingerprint and start).
    AlertFired(AlertRow),
    /// An alert resolved.
    AlertResolved {
        /// Hash of its labels.
        fingerprint: String,
        /// When it fired, Unix ms.
        starts_at: i64,
        /// Unix ms.
        ends_at: i64,
    },
    /// A group was notified: its entry in the notification log.
    Notified(NotifiedRow),
    /// One delivery attempt.
    Delivery(DeliveryRow),
    /// One occurrence of an exception, into its group ([`Written::Rows`]:
    /// 1 when the group is new, 0 when it grew).
    Exception {
        /// The group's key.
        key: String,
        /// The app.
        app: String,
        /// The message.
        message: String,
        /// The top frame.
        frame: String,
        /// When, Unix ms.
        at: i64,
        /// The server's name.
        server: String,
        /// Its bucket.
        bucket: String,
        /// The revision the app ran, if known.
        revision: Option<String>,
        /// The occurrence's detail.
        sample: String,
    },
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

/// Which part of a backend applies a write: each backend has one module
/// per family, and this is the one place that sorts the writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Agents' rows, servers, actions, history and bookkeeping.
    Core,
    /// Keys, tokens, users, sessions and the audit log.
    Access,
    /// Rules, receivers, alerts, deliveries and exception groups.
    Alerting,
}

impl Write {
    /// The family whose module applies this write.
    pub fn family(&self) -> Family {
        match self {
            Write::CreateKey { .. }
            | Write::RevokeKey { .. }
            | Write::CreateToken { .. }
            | Write::DeleteToken { .. }
            | Write::CreateUser { .. }
            | Write::CreateFirstOwner { .. }
            | Write::DeleteUser { .. }
            | Write::SetPassword { .. }
            | Write::CreateSession { .. }
            | Write::DeleteSession { .. }
            | Write::Audit(_) => Family::Access,
            Write::CreateRule { .. }
            | Write::DeleteRule { .. }
            | Write::MuteRule { .. }
            | Write::CreateReceiver { .. }
            | Write::DeleteReceiver { .. }
            | Write::AlertFired(_)
            | Write::AlertResolved { .. }
            | Write::Notified(_)
            | Write::Delivery(_)
            | Write::Exception { .. } => Family::Alerting,
            _ => Family::Core,
        }
    }
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
