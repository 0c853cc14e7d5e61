//! The IPC channel Node apps get (`NODE_CHANNEL_FD`, Node's JSON-lines
//! framing), so that `process.send` and `process.on('message')` work as
//! under pm2: `ready` for `wait_ready`, `shutdown` for
//! `shutdown_with_message`, @pm2/io's metrics, actions and replies.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, watch};

/// Longest message accepted from an app; a longer one ends the channel.
const MAX_MESSAGE: usize = 1024 * 1024;
/// Metrics and actions kept per run; later new names are ignored.
const MAX_ENTRIES: usize = 256;
/// Largest metric or action description kept, serialized.
const MAX_ENTRY_BYTES: usize = 4096;
/// Messages queued towards an app before senders wait.
const OUTBOX: usize = 64;

/// How far an instance has come: nothing yet, its server listens (the
/// preload said so), or it sent `ready`.
pub type Readiness = u8;
/// The preload saw the shared port's server listening.
pub const LISTENING: Readiness = 1;
/// The app sent `process.send('ready')` (or `READY=1`).
pub const READY: Readiness = 2;

/// What an app published through @pm2/io (pm2's `axm_*` fields).
#[derive(Debug, Default, Clone)]
pub struct AppIo {
    /// `axm_monitor`: metric name → `{value, unit, type, historic...}`.
    pub monitor: serde_json::Map<String, Value>,
    /// `axm_actions`: the actions the app registered.
    pub actions: Vec<Value>,
    /// `axm_options`: the library's announced options.
    pub options: Value,
}

/// The daemon's end of one child's channel.
pub struct Ipc {
    /// Messages for the app.
    pub tx: mpsc::Sender<Value>,
    /// `axm:reply`, `process:msg` and `process:exception` messages from the
    /// app, for whoever waits on a trigger or a `sendDataToProcessId` answer,
    /// and for the exception reports.
    pub replies: tokio::sync::broadcast::Sender<Value>,
}

/// A connected pair: the app's end (to become its fd) and ours.
pub fn pair() -> io::Result<(OwnedFd, std::os::unix::net::UnixStream)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    Ok((OwnedFd::from(theirs), ours))
}

/// Serves our end: reads the app's messages into `io` and `ready_tx`,
/// writes what is queued on `tx`.
pub fn serve(
    stream: std::os::unix::net::UnixStream,
    io: Arc<Mutex<AppIo>>,
    ready_tx: watch::Sender<Readiness>,
) -> io::Result<Ipc> {
    let stream = UnixStream::from_std(stream)?;
    let (read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Value>(OUTBOX);
    let replies = tokio::sync::broadcast::channel(16).0;
    let replies_tx = replies.clone();
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let mut line = serde_json::to_vec(&msg).unwrap_or_default();
            line.push(b'\n');
            if write.write_all(&line).await.is_err() {
                break;
            }
        }
    });
    tokio::spawn(async move {
        let mut reader = BufReader::new(read);
        let mut line = Vec::new();
        loop {
            line.clear();
            match (&mut reader)
                .take(MAX_MESSAGE as u64 + 1)
                .read_until(b'\n', &mut line)
                .await
            {
                Ok(0) | Err(_) => break,
                Ok(_) if line.last() != Some(&b'\n') => {
                    tracing::warn!(
                        "an app sent an IPC message over {MAX_MESSAGE} bytes; channel closed"
                    );
                    break;
                }
                Ok(_) => {}
            }
            let Ok(msg) = serde_json::from_slice::<Value>(&line) else {
                continue;
            };
            handle(msg, &io, &ready_tx, &replies_tx);
        }
    });
    Ok(Ipc { tx, replies })
}

fn handle(
    msg: Value,
    io: &Mutex<AppIo>,
    ready: &watch::Sender<Readiness>,
    replies: &tokio::sync::broadcast::Sender<Value>,
) {
    if msg.as_str() == Some("ready") {
        ready.send_if_modified(|r| std::mem::replace(r, READY) != READY);
        return;
    }
    let kind = msg.get("type").and_then(Value::as_str).unwrap_or("");
    let data = msg.get("data").cloned().unwrap_or(Value::Null);
    match kind {
        "pmr:listening" => {
            ready.send_if_modified(|r| {
                let was = *r;
                *r = (*r).max(LISTENING);
                was != *r
            });
        }
        "axm:monitor" => {
            if let Value::Object(map) = data {
                let mut io = io.lock().unwrap_or_else(|e| e.into_inner());
                for (k, v) in map {
                    // A runaway app keeps the names it had; oversized values are dropped.
                    let known = io.monitor.contains_key(&k);
                    if (known || io.monitor.len() < MAX_ENTRIES) && small(&k, &v) {
                        io.monitor.insert(k, v);
                    }
                }
            }
        }
        "axm:action" => {
            let mut io = io.lock().unwrap_or_else(|e| e.into_inner());
            let name = data.get("action_name").cloned();
            if name.is_some() && io.actions.len() < MAX_ENTRIES && small("", &data) {
                io.actions.retain(|a| a.get("action_name") != name.as_ref());
                io.actions.push(data);
            }
        }
        "axm:option:configuration" if small("", &data) => {
            io.lock().unwrap_or_else(|e| e.into_inner()).options = data;
        }
        "axm:reply" | "process:msg" | "process:exception" => {
            let _ = replies.send(msg);
        }
        _ => {}
    }
}

/// Within the size kept for one metric or action.
fn small(name: &str, v: &Value) -> bool {
    name.len() <= 128 && serde_json::to_vec(v).is_ok_and(|b| b.len() <= MAX_ENTRY_BYTES)
}
