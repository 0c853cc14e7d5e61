//! The control socket: accepts CLI connections, checks the protocol version,
//! and hands each request to [`super::handlers`].
//!
//! One task per connection (spawned by the accept loop in `daemon/mod.rs`);
//! requests on a connection are answered in order, one reply per request,
//! except that a logs follow turns the rest of the connection into a stream.

use std::collections::BTreeSet;
use std::sync::Arc;

use pmr_shared::ipc::framing::{FrameError, read_frame, write_frame};
use pmr_shared::ipc::{ErrorKind, Request, Response};
use pmr_shared::{PROTOCOL_VERSION, VERSION};
use tokio::io::BufReader;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::broadcast::error::RecvError;

use super::handlers::{self, After};
use super::state::Daemon;

/// Serves one client until it hangs up.
///
/// The first frame must be a `hello` with our [`PROTOCOL_VERSION`]. The
/// daemon sends its own `Hello` before checking, so a CLI of another version
/// learns what it met and can say so; on a mismatch the connection just ends.
/// It is read as raw JSON so an older or newer request shape cannot fail the
/// handshake itself.
pub(crate) async fn serve_client(d: Arc<Daemon>, stream: UnixStream) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut buf = Vec::new();
    let hello = Response::Hello {
        protocol: PROTOCOL_VERSION,
        version: VERSION.into(),
        pid: std::process::id(),
    };
    match read_frame::<serde_json::Value, _>(&mut reader, &mut buf).await {
        Ok(Some(first)) => {
            let _ = write_frame(&mut write, &hello).await;
            let theirs = first.get("protocol").and_then(|p| p.as_u64());
            if first.get("cmd").and_then(|c| c.as_str()) != Some("hello")
                || theirs != Some(PROTOCOL_VERSION.into())
            {
                return;
            }
        }
        _ => return,
    }
    loop {
        let req: Request = match read_frame(&mut reader, &mut buf).await {
            Ok(Some(r)) => r,
            Ok(None) => return,
            Err(e) => return answer_error(&mut write, unreadable(&e), e.to_string()).await,
        };
        // Being replaced (`pmr update`): nothing new starts here; the
        // client runs it again and reaches the new daemon.
        if d.is_leaving() {
            return answer_error(&mut write, ErrorKind::Replaced, super::REPLACED.into()).await;
        }
        // In flight until its reply is written: a daemon that is replaced
        // exits only after it, so a request that got no reply was not done.
        let busy = d.busy();
        let (reply, after) = handlers::handle(&d, req).await;
        let written = write_frame(&mut write, &reply).await;
        drop(busy);
        if written.is_err() {
            return;
        }
        match after {
            After::Continue => {}
            After::FollowLogs(target) => {
                follow(&d, target, &mut reader, &mut write).await;
                return;
            }
            After::Shutdown => {
                let _ = d.shutdown.send(true);
                return;
            }
        }
    }
}

/// Answers with an error; the caller then ends the connection.
async fn answer_error(write: &mut OwnedWriteHalf, kind: ErrorKind, message: String) {
    let _ = write_frame(write, &Response::error(kind, message)).await;
}

/// Streams log lines of the target's instances until the client leaves.
///
/// Fed by the daemon's `log_bus` broadcast: a follower that falls behind loses
/// chunks rather than slowing the apps' log pumps, and is told how many. The
/// client sends nothing more, so its half is read only to notice the hang-up.
async fn follow(
    d: &Daemon,
    target: Option<String>,
    reader: &mut BufReader<tokio::net::unix::OwnedReadHalf>,
    write: &mut OwnedWriteHalf,
) {
    let mut rx = d.log_bus.subscribe();
    // The ids the target names, and every id that existed when it was
    // resolved: only an unseen id (a new instance) needs a new resolution.
    let resolve = |d: &Daemon| -> (Option<BTreeSet<u32>>, BTreeSet<u32>) {
        let all = d.handles().iter().map(|h| h.id).collect();
        let wanted = target.as_ref().map(|t| {
            d.resolve(std::slice::from_ref(t))
                .unwrap_or_default()
                .iter()
                .map(|h| h.id)
                .collect()
        });
        (wanted, all)
    };
    let (mut ids, mut known) = resolve(d);
    let mut buf = Vec::new();
    loop {
        tokio::select! {
            ev = rx.recv() => match ev {
                Ok(ev) => {
                    if !known.contains(&ev.pm_id) {
                        (ids, known) = resolve(d);
                    }
                    if ids.as_ref().is_some_and(|ids| !ids.contains(&ev.pm_id)) {
                        continue;
                    }
                    let frame = Response::Log {
                        pm_id: ev.pm_id,
                        name: ev.name.to_string(),
                        stream: ev.stream.into(),
                        data: ev.data.to_string(),
                        end: ev.end,
                    };
                    if write_frame(write, &frame).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Lagged(n)) => {
                    let frame = Response::error(ErrorKind::Unavailable, format!("{n} log chunks skipped: the follower is too slow"));
                    if write_frame(write, &frame).await.is_err() {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            },
            r = read_frame::<serde_json::Value, _>(reader, &mut buf) => {
                if !matches!(r, Ok(Some(_))) {
                    return;
                }
            }
        }
    }
}

/// The kind of a request this daemon could not read: well-formed JSON of
/// another shape is a request it does not know (a newer CLI's), anything
/// else a broken frame.
fn unreadable(e: &FrameError) -> ErrorKind {
    match e {
        FrameError::Json(j) if j.classify() == serde_json::error::Category::Data => {
            ErrorKind::Unsupported
        }
        _ => ErrorKind::Invalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_of_another_shape_is_unsupported_and_broken_json_invalid() {
        let kind = |text: &str| {
            let e = serde_json::from_str::<Request>(text).unwrap_err();
            unreadable(&FrameError::Json(e))
        };
        assert_eq!(
            kind(r#"{"cmd":"from_a_newer_cli"}"#),
            ErrorKind::Unsupported
        );
        assert_eq!(kind(r#"{"cmd":"#), ErrorKind::Invalid);
        assert_eq!(unreadable(&FrameError::TooBig), ErrorKind::Invalid);
    }
}
