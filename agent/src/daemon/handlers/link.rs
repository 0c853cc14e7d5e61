//! `pmr link` and `pmr unlink`: the hub link's settings, stored only once
//! the link has started with them.

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};

use crate::daemon::reply::{done, error};
use crate::daemon::state::Daemon;

/// Starts the link with new settings, then stores them.
pub(super) fn link(d: &Arc<Daemon>, settings: pmr_shared::ipc::LinkSettings) -> Response {
    if let Err(e) = crate::link::settings::validate(&settings) {
        return error(ErrorKind::Invalid, format!("{e:#}"));
    }
    // Started first, stored second: a link that cannot start is not kept.
    // What stops it is the settings (a CA file that does not load), and
    // the running link is left as it was.
    if let Err(e) = d.link.start(crate::daemon::port(d), settings.clone()) {
        return error(ErrorKind::Invalid, format!("{e:#}"));
    }
    match crate::link::settings::save(&d.paths.home, &settings) {
        Ok(()) => done(
            vec![format!(
                "Linking to {} as {}",
                settings.hub, settings.machine_name
            )],
            vec![],
        ),
        Err(e) => {
            d.link.stop();
            error(ErrorKind::Internal, format!("{e:#}"))
        }
    }
}

/// Stops the link and forgets its settings.
pub(super) fn unlink(d: &Arc<Daemon>) -> Response {
    d.link.stop();
    let _ = std::fs::remove_file(crate::link::settings::path(&d.paths.home));
    done(
        vec!["Link removed: this machine no longer reports to a hub".into()],
        vec![],
    )
}
