//! Talking to running apps: `trigger` (actions an app registered with
//! @pm2/io), `send-data` (`process.on('message')`) and `sendSignal`.
//!
//! The first two go over a Node app's IPC channel (`supervisor::ipc`, the
//! pipe pm2's own wrapper would hold); every wait here is bounded, so an app
//! that stops reading cannot hold a CLI client, or the hub, forever.

use std::str::FromStr;
use std::sync::Arc;

use nix::sys::signal::Signal;
use pmr_shared::ipc::{ErrorKind, Response};

use pmr_shared::sync::Locked;

use crate::daemon::reply::{done, error};
use crate::daemon::state::Daemon;
use crate::supervisor::EnvView;

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
        let actions = h.app_io().locked().actions.clone();
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
    // pm2's action packet: the name, and the parameter as `opts`.
    let mut msg = serde_json::json!({ "msg": action });
    if let Some(p) = param {
        msg["opts"] = serde_json::Value::String(p);
    }
    let asks = waiting.into_iter().map(|(h, link)| {
        let msg = msg.clone();
        async move { (h, ask(&link, msg, action).await) }
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

/// Sends one instance pm2's action message and waits (at most
/// [`TRIGGER_WAIT`]) for its `axm:reply`; `Err` says why none came.
async fn ask(
    link: &crate::supervisor::IpcLink,
    msg: serde_json::Value,
    action: &str,
) -> Result<serde_json::Value, String> {
    // Subscribe before sending, so a fast reply is not missed.
    let mut replies = link.replies.subscribe();
    // An app that stopped reading its channel must not hold us up.
    match tokio::time::timeout(SEND_WAIT, link.tx.send(msg)).await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => return Err("the app's channel is closed".to_string()),
        Err(_) => return Err("the app does not read its channel".to_string()),
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
    tokio::time::timeout(TRIGGER_WAIT, wait)
        .await
        .unwrap_or_else(|_| Err(format!("no reply within {} s", TRIGGER_WAIT.as_secs())))
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
    // Subscribed before any signal goes, so no echo is missed.
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
