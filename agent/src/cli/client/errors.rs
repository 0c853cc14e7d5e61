//! The failures of an exchange with the daemon that commands branch on,
//! typed so that they travel inside `anyhow::Error` and are found with
//! `downcast_ref`: another protocol version, no answer in time, and the
//! daemon's own refusal with its kind.

use std::time::Duration;

use pmr_shared::ipc::ErrorKind;
use pmr_shared::{PROTOCOL_VERSION, VERSION};

use crate::daemon::REPLACED;

/// The daemon answered with another protocol version.
#[derive(Debug, thiserror::Error)]
#[error(
    "the running pmr daemon (pid {pid}) is version {version} (protocol {protocol}), this pmr is version {VERSION} (protocol {PROTOCOL_VERSION}): run `pmr update` to restart the daemon with this version"
)]
pub(crate) struct Mismatch {
    /// Its release version.
    pub version: String,
    /// Its protocol version.
    pub protocol: u32,
    /// Its pid.
    pub pid: u32,
}

/// The daemon took a connection or a request and did not answer in time
/// (stopped, overloaded, out of descriptors).
#[derive(Debug, thiserror::Error)]
#[error(
    "the daemon did not answer within {} s; it may be overloaded or out of file \
     descriptors: see {} (PMR_CLI_TIMEOUT=<seconds> waits longer; `pmr kill` stops it)",
    waited.as_secs(),
    log.display()
)]
pub(crate) struct NoAnswer {
    /// How long the CLI waited.
    pub waited: Duration,
    /// The daemon's log.
    pub log: std::path::PathBuf,
}

/// The daemon answered a request with an error: its kind is what a command
/// branches on, its message is what the user reads (and all `main` prints).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct Refused {
    /// What the caller may do about it.
    pub kind: ErrorKind,
    /// The daemon's words.
    pub message: String,
}

/// True when `e` is the daemon's refusal of this kind, or the refusal of a
/// daemon older than error kinds (it sends none, read as `Internal`) whose
/// message holds `words`: the protocol version did not change, so a new
/// CLI may face such a daemon until `pmr update`, and acts as the CLI of
/// its day did. A newer daemon's `Internal` error is never read for words
/// it happens to hold unless they are the old daemon's for this case.
pub(crate) fn refused_as_or_said(e: &anyhow::Error, kind: ErrorKind, words: &str) -> bool {
    e.downcast_ref::<Refused>().is_some_and(|r| {
        r.kind == kind || (r.kind == ErrorKind::Internal && r.message.contains(words))
    })
}

/// A daemon replaced by `pmr update` did nothing with the request. Daemons
/// older than the error kind said so only in words, hence the second test.
pub(super) fn is_replaced(kind: ErrorKind, message: &str) -> bool {
    kind == ErrorKind::Replaced || message == REPLACED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_told_apart_by_kind_not_by_words() {
        let e: anyhow::Error = Refused {
            kind: ErrorKind::NotFound,
            message: "no such thing".into(),
        }
        .into();
        let not_found = |e: &anyhow::Error| refused_as_or_said(e, ErrorKind::NotFound, "not found");
        assert!(not_found(&e));
        assert!(!refused_as_or_said(&e, ErrorKind::Invalid, "no such"));
        // What the user reads is the daemon's message, unchanged.
        assert_eq!(format!("{e:#}"), "no such thing");
        // Context added on the way up does not hide the kind.
        assert!(not_found(&e.context("while starting")));
        // Words alone, not from the daemon, are not a refusal.
        let words = anyhow::anyhow!("Process or Namespace x not found");
        assert!(!not_found(&words));
        // A daemon older than kinds: its words, with no kind (Internal).
        let old = |message: &str| -> anyhow::Error {
            Refused {
                kind: ErrorKind::Internal,
                message: message.into(),
            }
            .into()
        };
        assert!(not_found(&old("Process or Namespace x not found")));
        assert!(!not_found(&old("cannot write the list")));
        // Another kind with the same words is that kind, not this one.
        let invalid: anyhow::Error = Refused {
            kind: ErrorKind::Invalid,
            message: "pattern not found".into(),
        }
        .into();
        assert!(!not_found(&invalid));
    }

    #[test]
    fn a_replaced_daemon_is_known_by_kind_or_by_an_older_daemons_words() {
        assert!(is_replaced(ErrorKind::Replaced, "anything"));
        assert!(is_replaced(ErrorKind::Internal, REPLACED));
        assert!(!is_replaced(
            ErrorKind::Internal,
            "the daemon is shutting down"
        ));
    }
}
