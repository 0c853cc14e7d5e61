//! The IPC channel Node apps get (`NODE_CHANNEL_FD`, Node's JSON-lines
//! framing), so that `process.send` and `process.on('message')` work as
//! under pm2: `ready` for `wait_ready`, `shutdown` for
//! `shutdown_with_message`, @pm2/io's metrics, actions and replies.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use pmr_shared::sync::Locked;
use serde_json::{Value, json};
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
/// Shared sockets one instance may ask for; more ports bind on their own.
const MAX_SHARED: usize = 64;

/// How far an instance has come: nothing yet, its top-level code has run,
/// a server listens (the preload said so), or it sent `ready`.
pub type Readiness = u8;
/// The main module's top-level code has run (the preload's `pmr:online`).
pub const STARTED: Readiness = 1;
/// The preload saw a server listening.
pub const LISTENING: Readiness = 2;
/// The app sent `process.send('ready')` (or `READY=1`).
pub const READY: Readiness = 3;

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
    /// How far the app has come, as the messages above tell.
    pub ready: watch::Receiver<Readiness>,
    /// The shared sockets handed to the app, open while it runs.
    _held: Arc<Mutex<Vec<Arc<crate::supervisor::cluster::Shared>>>>,
}

/// A connected pair: the app's end (to become its fd) and ours.
pub fn pair() -> io::Result<(OwnedFd, std::os::unix::net::UnixStream)> {
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
    ours.set_nonblocking(true)?;
    Ok((OwnedFd::from(theirs), ours))
}

/// Serves our end: reads the app's messages into `io` and `ready_tx`,
/// writes what is queued on `tx`. With `share` (a cluster-mode app), the
/// app may ask for the shared socket of any port it listens on.
pub fn serve(
    stream: std::os::unix::net::UnixStream,
    io: Arc<Mutex<AppIo>>,
    ready_tx: watch::Sender<Readiness>,
    share: bool,
) -> io::Result<Ipc> {
    let stream = UnixStream::from_std(stream)?;
    let (read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Value>(OUTBOX);
    let (sock_tx, mut sock_rx) =
        mpsc::channel::<(Value, Arc<crate::supervisor::cluster::Shared>)>(8);
    let replies = tokio::sync::broadcast::channel(16).0;
    let replies_tx = replies.clone();
    tokio::spawn(async move {
        loop {
            let (msg, fd) = tokio::select! {
                m = rx.recv() => match m {
                    Some(m) => (m, None),
                    None => break,
                },
                Some((m, fd)) = sock_rx.recv() => (m, Some(fd)),
            };
            let mut line = serde_json::to_vec(&msg).unwrap_or_default();
            line.push(b'\n');
            let sent = match fd {
                Some(fd) => super::cluster::send_fd(write.as_ref(), &line, fd.fd()).await,
                None => Ok(0),
            };
            let Ok(sent) = sent else { break };
            if write.write_all(&line[sent..]).await.is_err() {
                break;
            }
        }
    });
    let held: Arc<Mutex<Vec<Arc<crate::supervisor::cluster::Shared>>>> = Default::default();
    let ready = ready_tx.subscribe();
    let (holder, replier) = (held.clone(), tx.clone());
    tokio::spawn(async move {
        // Messages are small (metrics, readiness): a small buffer per app,
        // and a line grown by a large one is given back after it.
        let mut reader = BufReader::with_capacity(1024, read);
        let mut line = Vec::new();
        loop {
            line.clear();
            line.shrink_to(4096);
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
            if share && msg.get("type").and_then(Value::as_str) == Some("pmr:listen") {
                let data = msg.get("data").unwrap_or(&Value::Null);
                let (answer, fd) = socket_for(data, &holder);
                let _ = match fd {
                    Some(fd) => sock_tx.send((answer, fd)).await.is_ok(),
                    None => replier.send(answer).await.is_ok(),
                };
                continue;
            }
            handle(msg, &io, &ready_tx, &replies_tx);
        }
    });
    Ok(Ipc {
        tx,
        replies,
        ready,
        _held: held,
    })
}

/// The answer to the preload's `pmr:listen {id, address, port}`: the
/// port's shared socket wrapped as Node's IPC sends a handle, or an answer
/// without one (the app then binds the port itself).
fn socket_for(
    data: &Value,
    held: &Mutex<Vec<Arc<crate::supervisor::cluster::Shared>>>,
) -> (Value, Option<Arc<crate::supervisor::cluster::Shared>>) {
    let id = data.get("id").cloned().unwrap_or(Value::Null);
    let port = data.get("port").and_then(Value::as_u64);
    let addr = match data.get("address") {
        None | Some(Value::Null) => Ok(None),
        Some(a) => a.as_str().and_then(|a| a.parse().ok()).map(Some).ok_or(()),
    };
    let refuse = |why: String| {
        (
            json!({"cmd": "NODE_PMR_SOCKET", "id": id, "error": why}),
            None,
        )
    };
    let (Some(port), Ok(addr)) = (
        port.and_then(|p| u16::try_from(p).ok()).filter(|p| *p > 0),
        addr,
    ) else {
        return refuse("not a port pmr can share".into());
    };
    let mut held = held.locked();
    if held.len() >= MAX_SHARED {
        return refuse(format!("an instance shares at most {MAX_SHARED} ports"));
    }
    match super::cluster::listener(super::cluster::Bind::new(addr, port)) {
        Ok(fd) => {
            if !held.iter().any(|h| Arc::ptr_eq(h, &fd)) {
                held.push(fd.clone());
            }
            let msg = json!({"cmd": "NODE_PMR_SOCKET", "id": id});
            (
                json!({"cmd": "NODE_HANDLE", "type": "net.Native", "msg": msg}),
                Some(fd),
            )
        }
        Err(e) => {
            tracing::warn!("cannot share port {port}: {e}; the instance binds it itself");
            refuse(e.to_string())
        }
    }
}

/// One message from the app: readiness (`ready`, `online`…), @pm2/io
/// metrics and actions, or a reply that callers wait for on `replies`.
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
        "pmr:online" | "pmr:listening" => {
            let level = if kind == "pmr:online" {
                STARTED
            } else {
                LISTENING
            };
            ready.send_if_modified(|r| {
                let was = *r;
                *r = (*r).max(level);
                was != *r
            });
        }
        "axm:monitor" => {
            if let Value::Object(map) = data {
                let mut io = io.locked();
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
            let mut io = io.locked();
            let name = data.get("action_name").cloned();
            if name.is_some() && io.actions.len() < MAX_ENTRIES && small("", &data) {
                io.actions.retain(|a| a.get("action_name") != name.as_ref());
                io.actions.push(data);
            }
        }
        "axm:option:configuration" if small("", &data) => {
            io.locked().options = data;
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
