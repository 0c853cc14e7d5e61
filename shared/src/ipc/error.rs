//! Why a request failed, in a form the caller can branch on.
//!
//! The daemon's [`super::Response::Error`] carries a human message (shown as
//! is) and an [`ErrorKind`] (acted upon): the CLI decides what to do next by
//! the kind, never by reading the words. The kind is serialized so that peers
//! of other versions still talk: a missing kind reads as
//! [`ErrorKind::Internal`], an unknown one as well.

use serde::{Deserialize, Serialize};

/// What kind of failure a [`super::Response::Error`] reports; the branches
/// callers take, not a taxonomy of everything that can go wrong.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A target (name, id, namespace, `/regex/`) names nothing: `pmr start
    /// <name>` then starts it as a script, `pmr set` waits for its start.
    NotFound,
    /// The request itself is wrong (a bad argument, pattern, count, option):
    /// asking again unchanged fails again.
    Invalid,
    /// The request clashes with what runs (already launched, a reload under
    /// way, an empty dump would be written).
    Conflict,
    /// What was asked is something the app or the daemon does not offer:
    /// an action the app never registered, an IPC channel it does not have,
    /// a request of a shape this daemon does not know (a newer CLI's), a
    /// hand-over by a daemon without a keeper. `pmr update` restarts the
    /// daemon instead when its `update` request gets this kind.
    Unsupported,
    /// This daemon is being replaced by a new binary (`pmr update`) and did
    /// nothing: the same request goes to the new daemon.
    Replaced,
    /// The daemon is stopping or cannot serve the request now.
    Unavailable,
    /// Anything else (an I/O error, a child that would not start), and any
    /// kind a newer peer sends that this version does not know.
    #[default]
    #[serde(other)]
    Internal,
}

#[cfg(test)]
mod tests {
    use super::super::Response;
    use super::ErrorKind;

    #[test]
    fn kind_travels_and_older_peers_still_parse() {
        let sent = Response::Error {
            kind: ErrorKind::NotFound,
            message: "Process x not found".into(),
        };
        let text = serde_json::to_string(&sent).unwrap();
        assert_eq!(
            text,
            r#"{"reply":"error","kind":"not_found","message":"Process x not found"}"#
        );
        // A daemon older than the kind sends none: the catch-all.
        let old: Response = serde_json::from_str(r#"{"reply":"error","message":"boom"}"#).unwrap();
        assert!(matches!(
            old,
            Response::Error {
                kind: ErrorKind::Internal,
                ..
            }
        ));
        // A newer daemon's kind this CLI does not know: the catch-all too.
        let new: Response =
            serde_json::from_str(r#"{"reply":"error","kind":"rate_limited","message":"m"}"#)
                .unwrap();
        assert!(matches!(
            new,
            Response::Error {
                kind: ErrorKind::Internal,
                ..
            }
        ));
    }

    #[test]
    fn an_older_peer_ignores_the_kind() {
        // The shape an older CLI knows: a message only (unknown fields ignored).
        #[derive(serde::Deserialize)]
        #[serde(tag = "reply", rename_all = "snake_case")]
        enum OldResponse {
            Error { message: String },
        }
        let text = serde_json::to_string(&Response::Error {
            kind: ErrorKind::Conflict,
            message: "m".into(),
        })
        .unwrap();
        let OldResponse::Error { message } = serde_json::from_str(&text).unwrap();
        assert_eq!(message, "m");
    }
}
