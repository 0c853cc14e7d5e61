//! Rows of the alerting tables.

use serde::Serialize;
use utoipa::ToSchema;

/// A stored rule: its JSON and mute.
#[derive(Debug, Clone)]
pub struct RuleRow {
    /// Row id.
    pub id: i64,
    /// The rule as JSON.
    pub spec: String,
    /// Muted until, Unix ms.
    pub muted_until: Option<i64>,
}

/// A stored receiver: its settings and its sealed target.
#[derive(Debug, Clone)]
pub struct ReceiverRow {
    /// Row id.
    pub id: i64,
    /// The settings as JSON (no secret).
    pub spec: String,
    /// The sealed URL and signing secret.
    pub sealed: String,
    /// Where it posts (scheme and host only).
    pub host: String,
    /// Unix ms.
    pub created_at: i64,
}

/// An alert that fired, and when it resolved.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AlertRow {
    /// Hash of its labels.
    pub fingerprint: String,
    /// The rule's name.
    pub rule: String,
    /// Labels, as a JSON object.
    #[schema(value_type = Object)]
    pub labels: serde_json::Value,
    /// Annotations, as a JSON object.
    #[schema(value_type = Object)]
    pub annotations: serde_json::Value,
    /// When it fired, Unix ms.
    pub starts_at: i64,
    /// When it resolved, Unix ms; null while firing.
    pub ends_at: Option<i64>,
    /// The server it is about (null in rows written before version 0.2).
    pub server_id: Option<i64>,
}

/// One entry of the notification log: what a receiver was last told
/// about a group, and when.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifiedRow {
    /// The receiver's id.
    pub receiver_id: i64,
    /// The group notified.
    pub group_key: String,
    /// When the notification was delivered, Unix ms.
    pub sent_at: i64,
    /// Fingerprints of the firing alerts it carried.
    pub firing: Vec<String>,
    /// Fingerprints of the resolved alerts it carried.
    pub resolved: Vec<String>,
}

/// One delivery attempt.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DeliveryRow {
    /// The receiver's id.
    pub receiver_id: i64,
    /// The group notified.
    pub group_key: String,
    /// Alerts in the notification.
    pub alerts: i64,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// `delivered`, `retrying`, `failed` or `dropped`.
    pub outcome: String,
    /// The receiver's HTTP status, if it answered.
    pub http_status: Option<i64>,
    /// How long the attempt took, ms.
    pub latency_ms: i64,
    /// What went wrong.
    pub error: Option<String>,
    /// Unix ms.
    pub at: i64,
}

/// A group of exceptions: one message at one place in one app.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExceptionRow {
    /// The group's key.
    pub key: String,
    /// The app.
    pub app: String,
    /// The message (the first line).
    pub message: String,
    /// The top frame; "" when none was found.
    pub frame: String,
    /// Occurrences.
    pub count: i64,
    /// Unix ms.
    pub first_seen: i64,
    /// Unix ms.
    pub last_seen: i64,
    /// Servers (names) it happened on.
    pub servers: Vec<String>,
    /// Their buckets.
    pub buckets: Vec<String>,
    /// Revisions it happened at.
    pub revisions: Vec<String>,
    /// The latest occurrence: message, stack, error lines.
    pub sample: String,
}
