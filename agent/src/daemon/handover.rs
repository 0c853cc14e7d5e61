//! `pmr update` without restarting anything: the daemon checks the new
//! binary, writes its list, stops reading the apps' pipes at a line boundary
//! and exits; the keeper starts the new binary, which takes every app over
//! as after a crash, and goes back to this binary if the new one does not
//! report ready (see `keeper`).

use std::sync::Arc;
use std::time::Duration;

use pmr_shared::ipc::ErrorKind;

use super::list_file;
use super::reply::Failure;
use super::state::Daemon;

/// How long the new binary gets to answer the probe.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Runs `exe daemon --handover-version`: the new binary must start and
/// speak this hand-over version. `Ok` holds its version; `Err` says why not
/// (this daemon then keeps running): `Unsupported` when this daemon cannot
/// hand over at all (the CLI then restarts it instead), `Invalid` when the
/// new binary is not fit to take over (nothing is touched).
pub(super) async fn probe(exe: &str) -> Result<String, Failure> {
    if !crate::keeper::link::active() {
        return Err(Failure::new(
            ErrorKind::Unsupported,
            "this daemon runs without a keeper (pmr-runtime, or started by an older pmr), so its \
             apps cannot be handed over",
        ));
    }
    check(exe)
        .await
        .map_err(|why| Failure::new(ErrorKind::Invalid, why))
}

/// Asks the new binary for its hand-over version.
async fn check(exe: &str) -> Result<String, String> {
    let run = tokio::process::Command::new(exe)
        .args(["daemon", "--handover-version"])
        .env_remove(crate::keeper::FD_VAR)
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(PROBE_LIMIT, run).await {
        Err(_) => {
            return Err(format!(
                "{exe} did not answer within {} s",
                PROBE_LIMIT.as_secs()
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot run {exe}: {e}")),
        Ok(Ok(out)) => out,
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let (Some("pmr-handover"), Some(v), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return Err(format!(
            "{exe} is not a pmr that can take apps over (it answered {:?})",
            text.trim().chars().take(200).collect::<String>()
        ));
    };
    let ours = crate::keeper::wire::VERSION.to_string();
    if v != ours {
        return Err(format!(
            "{exe} (pmr {version}) hands over with format {v}, this daemon with {ours}: run `pmr kill` then `pmr resurrect` to switch"
        ));
    }
    Ok(version.to_string())
}

/// Leaves for `exe`: the list on disk as it is (the new daemon's registry),
/// every pipe read up to a line boundary, then exit without stopping an app.
pub(super) async fn leave(d: &Arc<Daemon>, exe: &str) -> ! {
    tracing::info!("handing every app over to {exe}");
    // Requests under way finish here; later ones are told to run again.
    d.quiesce(Duration::from_secs(10)).await;
    d.closing.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Err(e) = list_file::write(&d.paths, &d.list(crate::supervisor::EnvView::Given)) {
        tracing::error!("cannot write the process list: {e:#}");
    }
    crate::logs::stop_pumps().await;
    crate::keeper::link::handover(exe);
    std::process::exit(0)
}
