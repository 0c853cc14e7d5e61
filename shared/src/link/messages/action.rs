//! Actions the hub asks an agent to run, and what they did.

use serde::{Deserialize, Serialize};

/// Remote actions the hub may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RemoteAction {
    /// Restart.
    Restart,
    /// Zero-downtime reload (a restart in fork mode).
    Reload,
    /// Stop.
    Stop,
    /// Start.
    Start,
    /// Delete.
    Delete,
    /// Set the number of instances.
    Scale,
    /// Empty the log files.
    Flush,
    /// Run an app-defined action.
    Trigger,
    /// Zero the counters.
    Reset,
}

/// An action request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionRequest {
    /// Id the result refers to.
    pub id: String,
    /// What to do.
    pub action: RemoteAction,
    /// Names, ids, namespaces, `/regex/` or `all`.
    pub targets: Vec<String>,
    /// Action parameters (instances for scale, name and argument for trigger).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub params: serde_json::Value,
    /// The hub user who asked (their name, as in the audit log), so the
    /// agent's restart event says who restarted the app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// An action's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionResult {
    /// The request's id.
    pub id: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, or the error.
    pub message: String,
    /// The instances the action touched, as they are after it (none for
    /// a failure, a trigger, or an agent older than this field): the hub
    /// words the outcome from them ("api restarted on web-1: 1 instance,
    /// new pid 2841").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Touched>,
}

/// One instance an action touched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touched {
    /// Instance id.
    pub pm_id: u32,
    /// App name.
    pub name: String,
    /// Its pid now, 0 when not running.
    pub pid: u32,
    /// Its status now (pm2's words).
    pub status: String,
}
