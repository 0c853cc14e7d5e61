//! Zero-downtime reloads and what triggers them from the app's repository:
//! `pull`, `backward`, `forward` (checkout moves, `post_update` commands)
//! and `refresh-versioning`.

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};

use crate::daemon::reply::{Failure, done, error};
use crate::daemon::state::Daemon;
use crate::supervisor::{EnvView, Handle};

/// Reloads instances one at a time, so the others keep serving; a second
/// reload of the same app while one runs is refused. An instance that fails
/// does not stop the rest: every failure is reported together at the end.
pub(super) async fn reload_all(
    d: &Arc<Daemon>,
    handles: Vec<Arc<Handle>>,
) -> Result<Vec<String>, Failure> {
    let names: std::collections::BTreeSet<String> =
        handles.iter().map(|h| h.spec().name.clone()).collect();
    let _guard = d
        .begin_reload(&names)
        .map_err(|e| Failure::new(ErrorKind::Conflict, e))?;
    let started = std::time::Instant::now();
    let mut failures = Vec::new();
    for h in &handles {
        if let Err(e) = h.reload().await {
            failures.push(e);
        }
    }
    if !failures.is_empty() {
        return Err(Failure::new(ErrorKind::Internal, failures.join("\n")));
    }
    Ok(vec![format!(
        "Reloaded {} instance{} in {} ms",
        handles.len(),
        if handles.len() == 1 { "" } else { "s" },
        started.elapsed().as_millis()
    )])
}

/// `pmr pull|backward|forward <app>`: moves the checkout, runs the app's
/// `post_update` commands in the repository, then reloads every instance.
/// The first `post_update` command that fails stops everything
/// after it: the checkout has moved, but the running code is the old one.
pub(super) async fn checkout(
    d: &Arc<Daemon>,
    target: &str,
    to: pmr_shared::ipc::CheckoutMove,
) -> Response {
    use crate::supervisor::versioning;
    use pmr_shared::ipc::CheckoutMove;
    let handles = match d.resolve(std::slice::from_ref(&target.to_string())) {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let spec = handles[0].spec();
    if handles.iter().any(|h| h.spec().name != spec.name) {
        let why = format!("{target} names several apps; give one app's name");
        return error(ErrorKind::Invalid, why);
    }
    let cwd = crate::supervisor::versioning_dir(&spec);
    let verb = match &to {
        CheckoutMove::Pull { .. } => "pull",
        CheckoutMove::Backward => "backward",
        CheckoutMove::Forward => "forward",
    };
    // git work blocks (and may fetch over the network): off the runtime's
    // only thread, so other clients are still answered.
    let moved = tokio::task::spawn_blocking(move || match to {
        CheckoutMove::Pull { commit } => versioning::pull(&cwd, commit.as_deref()),
        CheckoutMove::Backward => versioning::backward(&cwd),
        CheckoutMove::Forward => versioning::forward(&cwd),
    })
    .await
    .unwrap_or_else(|e| Err(format!("{verb} failed: {e}")));
    let moved = match moved {
        Ok(m) => m,
        Err(e) => return error(ErrorKind::Internal, format!("{verb} {}: {e}", spec.name)),
    };
    let mut messages = vec![format!(
        "{}: {} -> {} in {}",
        spec.name,
        &moved.from[..8],
        &moved.to[..8],
        moved.repo_path.display()
    )];
    for cmd in &spec.post_update {
        let out = tokio::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(cmd)
            .current_dir(&moved.repo_path)
            .envs(&spec.env)
            .stdin(std::process::Stdio::null())
            .output()
            .await;
        match out {
            Ok(o) if o.status.success() => messages.push(format!("post_update `{cmd}`: ok")),
            Ok(o) => {
                return error(
                    ErrorKind::Internal,
                    format!(
                        "post_update `{cmd}` failed ({}); the app was not reloaded:\n{}",
                        o.status,
                        String::from_utf8_lossy(&o.stderr).trim()
                    ),
                );
            }
            Err(e) => {
                let why = format!("post_update `{cmd}` could not run: {e}");
                return error(ErrorKind::Internal, why);
            }
        }
    }
    match reload_all(d, handles).await {
        Ok(m) => messages.extend(m),
        Err(e) => return e.into(),
    }
    done(messages, d.list(EnvView::None))
}

/// `pmr refresh-versioning`: reads the apps' git metadata again.
pub(super) async fn refresh_versioning(d: &Arc<Daemon>, targets: &[String]) -> Response {
    let hs = match d.resolve(targets) {
        Ok(hs) => hs,
        Err(e) => return e.into(),
    };
    let mut messages = Vec::new();
    for h in hs {
        let (_, now) = h.refresh_versioning().await;
        messages.push(match now {
            Some(rev) => format!("[{}]({}) at revision {rev}", h.spec().name, h.id),
            None => format!("[{}]({}) is not in a git repository", h.spec().name, h.id),
        });
    }
    done(messages, d.list(EnvView::None))
}
