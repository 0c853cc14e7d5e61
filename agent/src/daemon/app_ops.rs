//! Operations on running apps beyond start and stop: zero-downtime reload,
//! scale, signals, app IPC (trigger, messages) and checkout moves.

use std::str::FromStr;
use std::sync::Arc;

use nix::sys::signal::Signal;

use super::reply::{Failure, done, error, run_all};
use super::state::{Daemon, NewInstance};
use crate::supervisor::{Control, EnvView, Handle};
use pmr_shared::ipc::{ErrorKind, Response};

/// Reloads instances one at a time, so the others keep serving; a second
/// reload of the same app while one runs is refused.
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

/// `pmr scale <name> <N|+N|-N>`: new instances take the lowest free
/// instance numbers, and scaling down removes the oldest instances (the
/// lowest ids), as pm2 does.
pub(super) async fn scale(d: &Arc<Daemon>, name: &str, count: &str) -> Response {
    let mut handles: Vec<Arc<Handle>> = d
        .handles()
        .into_iter()
        .filter(|h| h.spec().name == name)
        .collect();
    if handles.is_empty() {
        return error(ErrorKind::NotFound, format!("Process {name} not found"));
    }
    // Two scales at once would hand out the same instance numbers.
    let _guard = match d.begin_reload(&std::collections::BTreeSet::from([name.to_string()])) {
        Ok(g) => g,
        Err(e) => return error(ErrorKind::Conflict, e),
    };
    handles.sort_by_key(|h| h.instance);
    let now = handles.len() as i64;
    let count = count.trim();
    let target = match (count.strip_prefix('+'), count.strip_prefix('-')) {
        (Some(n), _) => n.parse::<i64>().map(|n| now + n),
        (_, Some(n)) => n.parse::<i64>().map(|n| now - n),
        _ => count.parse::<i64>(),
    };
    let target = match target {
        Ok(t) if t >= 1 => t,
        Ok(_) => {
            return error(
                ErrorKind::Invalid,
                format!(
                    "scale {name} {count}: an app keeps at least one instance; use `pmr delete {name}` to remove it"
                ),
            );
        }
        Err(_) => {
            return error(
                ErrorKind::Invalid,
                format!("scale {name} {count:?}: use N, +N or -N"),
            );
        }
    };
    if target > 1024 {
        return error(
            ErrorKind::Invalid,
            format!("scale {name} {target}: at most 1024 instances"),
        );
    }
    let target = target as usize;
    let mut spec = (*handles[0].spec()).clone();
    spec.instances = target as u32;
    let spec = Arc::new(spec);
    let mut messages = Vec::new();
    if target > handles.len() {
        let used: Vec<u32> = handles.iter().map(|h| h.instance).collect();
        let free = (0u32..).filter(|i| !used.contains(i));
        let new: Vec<NewInstance> = free
            .take(target - handles.len())
            .map(|instance| NewInstance {
                spec: spec.clone(),
                instance,
                wanted_id: None,
                restart_time: 0,
            })
            .collect();
        messages.push(format!("Scaling up application {name}: +{}", new.len()));
        let created = match d.create(new) {
            Ok(c) => c,
            Err(e) => return error(ErrorKind::Internal, e),
        };
        run_all(created, Control::Start).await;
    } else if target < handles.len() {
        handles.sort_by_key(|h| h.id);
        let keep = handles.split_off(handles.len() - target);
        let gone = std::mem::replace(&mut handles, keep);
        messages.push(format!("Scaling down application {name}: -{}", gone.len()));
        gone.iter().for_each(|h| d.forget(h.id));
        run_all(gone, Control::Delete).await;
    } else {
        messages.push(format!("{name} already runs {target} instances"));
    }
    // Every instance carries the new count (dump, describe, hub).
    for h in d.handles().into_iter().filter(|h| h.spec().name == name) {
        let mut s = (*h.spec()).clone();
        s.instances = target as u32;
        h.set_spec(Arc::new(s));
    }
    done(messages, d.list(EnvView::None))
}

/// How long a message may wait for room in an app's channel.
const SEND_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// How long `trigger` waits for each instance's reply.
const TRIGGER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// `pmr trigger <target> <action> [param]`: sends pm2's action message to
/// every instance that registered the action and collects the replies.
pub(super) async fn trigger(
    d: &Arc<Daemon>,
    target: &str,
    action: &str,
    param: Option<String>,
) -> Response {
    let handles = match d.resolve(std::slice::from_ref(&target.to_string())) {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let mut waiting = Vec::new();
    let mut known = std::collections::BTreeSet::new();
    for h in &handles {
        let actions = h
            .app_io()
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .actions
            .clone();
        known.extend(
            actions
                .iter()
                .filter_map(|a| a.get("action_name")?.as_str().map(String::from)),
        );
        let registered = actions
            .iter()
            .any(|a| a.get("action_name").and_then(|n| n.as_str()) == Some(action));
        if let (true, Some(link)) = (registered, h.ipc()) {
            waiting.push((h.clone(), link));
        }
    }
    if waiting.is_empty() {
        let known = if known.is_empty() {
            "none (the app registers actions with @pm2/io's io.action)".to_string()
        } else {
            known.into_iter().collect::<Vec<_>>().join(", ")
        };
        return error(
            ErrorKind::Unsupported,
            format!(
                "action {action:?} is not registered by any running instance of {target}; known actions: {known}"
            ),
        );
    }
    let mut msg = serde_json::json!({ "msg": action });
    if let Some(p) = param {
        msg["opts"] = serde_json::Value::String(p);
    }
    let asks = waiting.into_iter().map(|(h, link)| {
        let msg = msg.clone();
        async move {
            // Subscribe before sending, so a fast reply is not missed.
            let mut replies = link.replies.subscribe();
            // An app that stopped reading its channel must not hold us up.
            match tokio::time::timeout(SEND_WAIT, link.tx.send(msg)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return (h, Err("the app's channel is closed".to_string())),
                Err(_) => return (h, Err("the app does not read its channel".to_string())),
            }
            let wait = async {
                loop {
                    match replies.recv().await {
                        Ok(r)
                            if r.get("type").and_then(|t| t.as_str()) == Some("axm:reply")
                                && r["data"]["action_name"].as_str() == Some(action) =>
                        {
                            return Ok(r["data"]["return"].clone());
                        }
                        Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => return Err("the app's channel closed".to_string()),
                    }
                }
            };
            let out = tokio::time::timeout(TRIGGER_WAIT, wait)
                .await
                .unwrap_or_else(|_| Err(format!("no reply within {} s", TRIGGER_WAIT.as_secs())));
            (h, out)
        }
    });
    let results = futures_util::future::join_all(asks).await;
    let mut messages = Vec::new();
    let mut failed = Vec::new();
    for (h, r) in results {
        match r {
            Ok(v) => messages.push(format!("{} ({}): {}", h.spec().name, h.id, v)),
            Err(e) => failed.push(format!("{} ({}): {e}", h.spec().name, h.id)),
        }
    }
    if !failed.is_empty() {
        return error(ErrorKind::Internal, failed.join("\n"));
    }
    done(messages, vec![])
}

/// pm2's `sendDataToProcessId`: `{type: 'process:msg', topic, data, id}`
/// to one instance's `process.on('message')`.
pub(super) async fn send_data(
    d: &Arc<Daemon>,
    id: u32,
    topic: String,
    data: serde_json::Value,
) -> Response {
    let Some(h) = d.registry().apps.get(&id).cloned() else {
        return error(ErrorKind::NotFound, format!("Process {id} not found"));
    };
    let Some(link) = h.ipc() else {
        return error(
            ErrorKind::Unsupported,
            format!(
                "process {id} has no IPC channel (only running Node apps have one; others use PMR_NOTIFY_SOCKET)"
            ),
        );
    };
    let packet =
        serde_json::json!({ "type": "process:msg", "topic": topic, "data": data, "id": id });
    match tokio::time::timeout(SEND_WAIT, link.tx.send(packet)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            return error(
                ErrorKind::Internal,
                format!("process {id}'s channel is closed"),
            );
        }
        Err(_) => {
            return error(
                ErrorKind::Internal,
                format!("process {id} does not read its channel"),
            );
        }
    }
    done(vec![format!("Message sent to process {id}")], vec![])
}

/// `pmr sendSignal <signal> <targets>`: to each running instance's main process.
/// How long `sendSignal` waits for the signalled apps' first output.
const SIGNAL_ECHO: std::time::Duration = std::time::Duration::from_millis(500);

/// `pmr sendSignal <sig> <targets>`: the signal to each instance's main
/// process. It returns once each signalled instance has written something
/// (or after [`SIGNAL_ECHO`]), so what a handler prints at once is in the
/// log when the command returns, as with pm2's slower CLI.
pub(super) async fn send_signal(d: &Arc<Daemon>, signal: &str, targets: &[String]) -> Response {
    let upper = signal.trim().to_ascii_uppercase();
    let sig = match upper.parse::<i32>() {
        Ok(n) => Signal::try_from(n).ok(),
        Err(_) => Signal::from_str(&upper)
            .or_else(|_| Signal::from_str(&format!("SIG{upper}")))
            .ok(),
    };
    let Some(sig) = sig else {
        return error(
            ErrorKind::Invalid,
            format!("unknown signal {signal:?} (SIGUSR2, USR2, 12...)"),
        );
    };
    let handles = match d.resolve(targets) {
        Ok(h) => h,
        Err(e) => return e.into(),
    };
    let mut messages = Vec::new();
    let mut bus = d.log_bus.subscribe();
    let mut waiting = std::collections::BTreeSet::new();
    for h in handles {
        let pid = h.rt().pid;
        if pid == 0 {
            messages.push(format!(
                "[{}]({}) is not running: no signal sent",
                h.spec().name,
                h.id
            ));
            continue;
        }
        match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig) {
            Ok(()) => {
                waiting.insert(h.id);
                messages.push(format!(
                    "successfully sent signal {} to process id {}",
                    sig.as_str(),
                    h.id
                ));
            }
            Err(e) => messages.push(format!(
                "[{}]({}): cannot send {}: {e}",
                h.spec().name,
                h.id,
                sig.as_str()
            )),
        }
    }
    let echoed = async {
        while !waiting.is_empty() {
            match bus.recv().await {
                Ok(ev) => {
                    waiting.remove(&ev.pm_id);
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(SIGNAL_ECHO, echoed).await;
    done(messages, d.list(EnvView::None))
}
