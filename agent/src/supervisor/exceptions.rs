//! Exceptions for the hub: what a Node app reports over IPC (the preload's
//! handlers, or @pm2/io's `process:exception`), and, for any language, a
//! crash whose last error lines hold a stack trace. Each becomes one
//! `exception` lifecycle event with the message first and the stack after.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{LifeKind, Lifecycle};
use crate::clock::now_ms;

/// Longest detail sent (the protocol's limit).
const MAX_DETAIL: usize = 4000;
/// A crash this soon after an IPC report is that report's crash, not another.
const SAME_CRASH_MS: u64 = 3000;
/// Error lines read after a crash.
const TAIL: usize = 40;
/// Error lines sent with an exception the app reported.
const CONTEXT: usize = 10;

/// Where an instance's exception events go.
#[derive(Clone)]
pub(super) struct Reporter {
    /// Where `exception` events go.
    pub(super) events: tokio::sync::broadcast::Sender<Lifecycle>,
    /// The instance reported on.
    pub(super) pm_id: u32,
    /// Its app's name, carried by each event.
    pub(super) name: Arc<str>,
    /// Its app's namespace, carried by each event.
    pub(super) namespace: Arc<str>,
    /// When the app last reported one over IPC, Unix ms.
    pub(super) last_ipc: Arc<AtomicU64>,
}

/// `s` cut to [`MAX_DETAIL`] bytes at a character boundary, so an event
/// stays small whatever the app printed.
fn cut(s: &str) -> String {
    pmr_shared::link::limits::cut(s, MAX_DETAIL).to_string()
}

impl Reporter {
    /// Publishes an `exception` event with the message and stack as its detail.
    fn emit(&self, detail: String) {
        let _ = self.events.send(Lifecycle {
            pm_id: self.pm_id,
            name: self.name.clone(),
            namespace: self.namespace.clone(),
            at: now_ms(),
            kind: LifeKind::Exception,
            code: None,
            signal: None,
            detail: Some(cut(&detail)),
        });
    }

    /// Follows the IPC channel's reports while the child runs; each is sent
    /// with the app's last error lines after its stack, for context.
    pub(super) fn watch(&self, replies: &tokio::sync::broadcast::Sender<Value>, err_log: String) {
        let mut rx = replies.subscribe();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok(msg) = rx.recv().await {
                if msg["type"] != "process:exception" {
                    continue;
                }
                let d = &msg["data"];
                let message = d["message"].as_str().unwrap_or("exception");
                let stack = d["stack"].as_str().unwrap_or_default();
                // A stack starts with its message: do not repeat it.
                let detail = if stack.starts_with(message) || stack.contains(message) {
                    stack.to_string()
                } else {
                    format!("{message}\n{stack}")
                };
                me.last_ipc.store(now_ms(), Ordering::Relaxed);
                // What the app wrote just before (and the preload's own line).
                tokio::time::sleep(Duration::from_millis(100)).await;
                let log = err_log.clone();
                let around = tokio::task::spawn_blocking(move || {
                    if log == "/dev/null" {
                        return Vec::new();
                    }
                    crate::logs::tail::last_lines(&log, CONTEXT).unwrap_or_default()
                })
                .await
                .unwrap_or_default();
                if around.is_empty() {
                    me.emit(detail);
                } else {
                    me.emit(format!(
                        "{detail}\n--- the app's last error lines ---\n{}",
                        around.join("\n")
                    ));
                }
            }
        });
    }

    /// After a crash: once the error log has the last lines, reports a
    /// stack trace found in them (unless the app just reported it).
    pub(super) fn after_crash(&self, pumps: [tokio::task::JoinHandle<()>; 2], err_log: String) {
        let me = self.clone();
        tokio::spawn(async move {
            for p in pumps {
                let _ = tokio::time::timeout(Duration::from_secs(1), p).await;
            }
            if now_ms().saturating_sub(me.last_ipc.load(Ordering::Relaxed)) < SAME_CRASH_MS {
                return;
            }
            if err_log == "/dev/null" {
                return;
            }
            let lines =
                tokio::task::spawn_blocking(move || crate::logs::tail::last_lines(&err_log, TAIL))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default();
            if let Some(t) = trace(&lines) {
                me.emit(t);
            }
        });
    }
}

/// A stack frame line of Node (`    at …`) or Python (`File "…", line …`).
fn is_frame(l: &str) -> bool {
    let t = l.trim_start();
    (l.starts_with(char::is_whitespace) && t.starts_with("at "))
        || (t.starts_with("File \"") && t.contains(", line "))
}

/// The stack trace in an app's last error lines, message first: Node and
/// Java (`    at ...`), Python (`Traceback ...`), Rust (`panicked at`) and
/// Go (`panic: ...`).
pub fn trace(lines: &[String]) -> Option<String> {
    let start = lines.iter().position(|l| {
        l.starts_with("Traceback (most recent call last)")
            || l.contains("' panicked at ")
            || l.starts_with("panic: ")
    });
    let start = start.or_else(|| {
        // Node, Java: the message is the last text line before the first frame.
        let first = lines.iter().position(|l| is_frame(l))?;
        let msg = lines[..first].iter().rposition(|l| !l.trim().is_empty());
        Some(msg.unwrap_or(first))
    })?;
    let text: Vec<&str> = lines[start..].iter().map(String::as_str).collect();
    let text = text.join("\n");
    // Python ends with the message: put it first.
    if lines[start].starts_with("Traceback") {
        let last = lines.iter().rev().find(|l| !l.trim().is_empty())?;
        return Some(format!("{last}\n{text}"));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::trace;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(String::from).collect()
    }

    #[test]
    fn traces_of_node_python_rust_and_go_are_found_message_first() {
        let node = lines(
            "/app/a.js:3\n  throw new Error('boom');\n  ^\n\nError: boom\n    at Object.<anonymous> (/app/a.js:3:9)\n    at Module._compile (node:internal)\n\nNode.js v20.0.0",
        );
        assert!(
            trace(&node)
                .unwrap()
                .starts_with("Error: boom\n    at Object.<anonymous> (/app/a.js:3:9)")
        );
        let py = lines(
            "starting\nTraceback (most recent call last):\n  File \"/app/w.py\", line 2, in <module>\n    1/0\nZeroDivisionError: division by zero",
        );
        let t = trace(&py).unwrap();
        assert!(
            t.starts_with("ZeroDivisionError: division by zero\nTraceback"),
            "{t}"
        );
        let rs = lines(
            "thread 'main' panicked at src/main.rs:2:5:\nboom\nnote: run with `RUST_BACKTRACE=1`",
        );
        assert!(trace(&rs).unwrap().starts_with("thread 'main' panicked at"));
        let go = lines("panic: boom\n\ngoroutine 1 [running]:\nmain.main()");
        assert!(trace(&go).unwrap().starts_with("panic: boom"));
        assert!(trace(&lines("just a line\nanother")).is_none());
    }
}
