//! The typed parts of an action request: the verb, kept equal to the
//! link's `RemoteAction`, and the server, named by id or name.

use pmr_shared::link::messages::RemoteAction;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The verbs of `action`; converted both ways to the link's `RemoteAction`
/// with exhaustive matches, so the two lists cannot differ.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RemoteAction)]
pub(crate) enum Verb {
    /// Restart.
    Restart,
    /// Zero-downtime reload (a restart in fork mode).
    Reload,
    /// Stop.
    Stop,
    /// Start.
    Start,
    /// Delete from the agent's list.
    Delete,
    /// Set the instance count (`params`: the count).
    Scale,
    /// Empty the log files (`targets` may be empty).
    Flush,
    /// Run an app-defined action (`params`: name and argument).
    Trigger,
    /// Zero the counters.
    Reset,
}

impl From<Verb> for RemoteAction {
    fn from(v: Verb) -> Self {
        match v {
            Verb::Restart => Self::Restart,
            Verb::Reload => Self::Reload,
            Verb::Stop => Self::Stop,
            Verb::Start => Self::Start,
            Verb::Delete => Self::Delete,
            Verb::Scale => Self::Scale,
            Verb::Flush => Self::Flush,
            Verb::Trigger => Self::Trigger,
            Verb::Reset => Self::Reset,
        }
    }
}

impl From<RemoteAction> for Verb {
    fn from(a: RemoteAction) -> Self {
        match a {
            RemoteAction::Restart => Self::Restart,
            RemoteAction::Reload => Self::Reload,
            RemoteAction::Stop => Self::Stop,
            RemoteAction::Start => Self::Start,
            RemoteAction::Delete => Self::Delete,
            RemoteAction::Scale => Self::Scale,
            RemoteAction::Flush => Self::Flush,
            RemoteAction::Trigger => Self::Trigger,
            RemoteAction::Reset => Self::Reset,
        }
    }
}

/// A server named by id (integer) or by name or id (string).
#[derive(Debug, ToSchema)]
#[serde(untagged)]
pub(crate) enum ServerRef {
    /// Server id.
    Id(i64),
    /// Server name, or id as a string.
    Name(String),
}

impl<'de> Deserialize<'de> for ServerRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ServerRef;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a server id (integer) or name (string)")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ServerRef, E> {
                Ok(ServerRef::Id(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ServerRef, E> {
                i64::try_from(v)
                    .map(ServerRef::Id)
                    .map_err(|_| E::custom("server id out of range"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ServerRef, E> {
                Ok(ServerRef::Name(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl ServerRef {
    /// Whether `s` is the server this names.
    pub(super) fn matches(&self, s: &crate::live::ServerView) -> bool {
        match self {
            ServerRef::Id(id) => *id == s.id,
            ServerRef::Name(t) => *t == s.name || *t == s.id.to_string(),
        }
    }
}

impl std::fmt::Display for ServerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerRef::Id(id) => write!(f, "{id}"),
            ServerRef::Name(n) => f.write_str(n),
        }
    }
}
