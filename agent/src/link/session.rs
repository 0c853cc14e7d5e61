//! One connection to the hub at a time: connect, prove the key, replay what
//! the hub lacks, then stream snapshots and events and run its actions.
//! Between connections: exponential backoff with full jitter, capped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use pmr_shared::ipc::{Action, LinkSettings, Request, Response};
use pmr_shared::link::handshake::{self, AuthFields};
use pmr_shared::link::messages::{
    ActionRequest, ActionResult, AgentMsg, HubMsg, LINK_PROTOCOL, MAX_FRAME_BYTES, Proc,
    RemoteAction, Snapshot, Touched, close,
};
use rustls::ClientConfig;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Port;
use super::host::HostSampler;
use super::{SecretKeyBox, Shared};
use crate::clock::now_ms;

/// Everything needed to connect.
pub(crate) struct Target {
    pub(crate) settings: LinkSettings,
    pub(crate) secret: SecretKeyBox,
    pub(crate) machine_id: String,
    pub(crate) tls: Option<Arc<ClientConfig>>,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_BASE_MS: u64 = 1_000;
const BACKOFF_CAP_MS: u64 = 60_000;
/// A full snapshot at least this often; deltas in between.
const FULL_EVERY: u32 = 30;
/// Spread of the first retry after a working session ends.
const RECONNECT_SPREAD_MS: u64 = 5_000;
/// Silence from the hub (it pings every 15 s) that means it is gone.
const HUB_SILENCE: Duration = Duration::from_secs(45);
/// A send that cannot complete in this time means the hub stopped reading.
const SEND_LIMIT: Duration = Duration::from_secs(10);

fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    u64::from_le_bytes(b) % n.max(1)
}

/// Connects, and reconnects, until the link is stopped (the task aborted).
pub(crate) async fn run_forever(port: Port, shared: Arc<Shared>, target: Target) {
    let mut attempt: u32 = 0;
    loop {
        let result = session(&port, &shared, &target).await;
        let was_connected = {
            let mut st = shared.state();
            let was = st.connected;
            st.connected = false;
            st.since = now_ms() as i64;
            st.last_error = Some(match &result {
                Ok(()) => "the hub closed the connection".into(),
                Err(e) => e.clone(),
            });
            was
        };
        // Full jitter: a hub restart does not bring every agent back at once.
        // After a working session the first retry is spread over 5 s; a
        // refusal for rate makes the next waits longer.
        let cap = std::env::var("PMR_LINK_BACKOFF_MAX_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(BACKOFF_CAP_MS);
        let ceiling = if was_connected {
            attempt = 0;
            cap.min(RECONNECT_SPREAD_MS)
        } else {
            cap.min(BACKOFF_BASE_MS << attempt.min(16))
        }
        .max(1);
        let busy_ms = shared
            .busy_wait_ms
            .swap(0, std::sync::atomic::Ordering::Relaxed);
        if busy_ms > 0
            || result
                .as_ref()
                .is_err_and(|e| e.contains(&format!("code {}", close::RATE_LIMITED)))
        {
            attempt = attempt.saturating_add(3);
        }
        // A busy hub's Retry-After is a floor, with jitter on top of it.
        let delay = Duration::from_millis(busy_ms + random_below(ceiling) + 100);
        attempt = attempt.saturating_add(1);
        shared.state().next_attempt = Some(now_ms() as i64 + delay.as_millis() as i64);
        tokio::time::sleep(delay).await;
        shared.state().next_attempt = None;
    }
}

/// Most a hub's `Retry-After` may hold the agent back.
const MAX_RETRY_AFTER_SECS: u64 = 300;

/// Words for a failed connection; a busy hub's `Retry-After` (HTTP 429 or
/// 503) is kept for the next wait.
fn refused(shared: &Shared, url: &str, e: tokio_tungstenite::tungstenite::Error) -> String {
    use tokio_tungstenite::tungstenite::Error;
    let Error::Http(r) = &e else {
        return format!("cannot connect to {url}: {e}");
    };
    let status = r.status().as_u16();
    if status == 429 || status == 503 {
        let secs = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(5)
            .min(MAX_RETRY_AFTER_SECS);
        shared
            .busy_wait_ms
            .store(secs * 1000, std::sync::atomic::Ordering::Relaxed);
    }
    // The hub's JSON error says why; keep it short and printable.
    let why: String = r
        .body()
        .as_deref()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    format!("the hub at {url} refused the connection: HTTP {status} {why}")
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn close_reason(frame: Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(f) => {
            let code: u16 = f.code.into();
            format!(
                "the hub closed the link: {} (code {code})",
                close::reason(code)
            )
        }
        None => "the hub closed the link".into(),
    }
}

async fn next_text(ws: &mut Ws) -> Result<String, String> {
    loop {
        match tokio::time::timeout(CONNECT_TIMEOUT, ws.next()).await {
            Err(_) => return Err("the hub did not answer in time".into()),
            Ok(None) => return Err("the hub closed the connection".into()),
            Ok(Some(Err(e))) => return Err(format!("websocket error: {e}")),
            Ok(Some(Ok(Message::Text(t)))) => return Ok(t.to_string()),
            Ok(Some(Ok(Message::Close(f)))) => return Err(close_reason(f)),
            Ok(Some(Ok(_))) => continue,
        }
    }
}

async fn send(ws: &mut Ws, msg: &AgentMsg) -> Result<(), String> {
    let text = serde_json::to_string(msg).map_err(|e| e.to_string())?;
    match tokio::time::timeout(SEND_LIMIT, ws.send(Message::Text(text.into()))).await {
        Ok(r) => r.map_err(|e| format!("websocket error: {e}")),
        Err(_) => Err("the hub stopped reading".into()),
    }
}

/// One connection, until it fails; `Err` says why, for `pmr link status`.
async fn session(port: &Port, shared: &Arc<Shared>, t: &Target) -> Result<(), String> {
    let s = &t.settings;
    let url = format!("{}/agent/v1", s.hub.trim_end_matches('/'));
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .read_buffer_size(8 * 1024)
        .write_buffer_size(8 * 1024);
    let connector = t.tls.clone().map(tokio_tungstenite::Connector::Rustls);
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(&url, Some(config), true, connector);
    let (mut ws, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| format!("no answer from {url} within {}s", CONNECT_TIMEOUT.as_secs()))?
        .map_err(|e| refused(shared, &url, e))?;
    let hello: HubMsg = serde_json::from_str(&next_text(&mut ws).await?)
        .map_err(|e| format!("bad hello from the hub: {e}"))?;
    let HubMsg::Hello {
        proto,
        hub_id,
        nonce,
        ..
    } = hello
    else {
        return Err("the hub did not start with hello".into());
    };
    if proto != LINK_PROTOCOL {
        return Err(format!(
            "the hub speaks link protocol {proto}, this agent {LINK_PROTOCOL}"
        ));
    }
    let nonce_bytes: [u8; 32] = handshake::unhex(&nonce)
        .and_then(|b| b.try_into().ok())
        .ok_or("the hub sent a malformed nonce")?;
    let ts = now_ms() as i64;
    let fields = AuthFields {
        hub_id: &hub_id,
        nonce: &nonce_bytes,
        proto: LINK_PROTOCOL,
        public_key: &s.public_key,
        machine_id: &t.machine_id,
        machine_name: &s.machine_name,
        agent_version: pmr_shared::VERSION,
        ts,
    };
    let sig = handshake::sign(&t.secret.0, &fields);
    let auth = AgentMsg::Auth {
        proto: LINK_PROTOCOL,
        public_key: s.public_key.clone(),
        machine_id: t.machine_id.clone(),
        machine_name: s.machine_name.clone(),
        agent_version: pmr_shared::VERSION.into(),
        ts,
        nonce,
        sig: handshake::hex(&sig),
    };
    send(&mut ws, &auth).await?;
    let welcome: HubMsg = serde_json::from_str(&next_text(&mut ws).await?)
        .map_err(|e| format!("bad welcome from the hub: {e}"))?;
    let HubMsg::Welcome { resume, .. } = welcome else {
        return Err("the hub did not welcome the agent".into());
    };
    {
        let mut st = shared.state();
        st.connected = true;
        st.since = now_ms() as i64;
        st.last_error = None;
    }
    tracing::info!("linked to {}", s.hub);
    // Replay what the hub lacks, events first.
    let (mut sent_events, mut sent_rollups) = (resume.events, resume.rollups);
    let (events, rollups) = {
        let mut o = shared.outbox();
        o.resume(resume);
        o.pending()
    };
    for e in events {
        sent_events = sent_events.max(e.seq);
        send(&mut ws, &AgentMsg::Event(e)).await?;
    }
    for r in rollups {
        sent_rollups = sent_rollups.max(r.seq);
        send(&mut ws, &AgentMsg::Rollup(r)).await?;
    }
    let mut host = HostSampler::default();
    let mut last: HashMap<u32, Proc> = HashMap::new();
    let mut seq = 0u64;
    let mut since_full = FULL_EVERY;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let (results_tx, mut results) = mpsc::channel::<ActionResult>(16);
    let mut heard = tokio::time::Instant::now();
    let mut follow = super::follow::Follow::default();
    let mut flush = tokio::time::interval(super::follow::EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            ev = follow.next() => follow.absorb(ev),
            _ = flush.tick(), if follow.active() => {
                if let Some(batch) = follow.take() {
                    send(&mut ws, &AgentMsg::Logs(batch)).await?;
                }
            }
            () = tokio::time::sleep_until(heard + HUB_SILENCE) => {
                return Err(format!("no word from the hub for {}s", HUB_SILENCE.as_secs()));
            }
            _ = tick.tick() => {
                seq += 1;
                let full = since_full >= FULL_EVERY;
                since_full = if full { 1 } else { since_full + 1 };
                let list = port.list().await;
                let snap = snapshot(list, &port.home, &mut host, &mut last, seq, full);
                send(&mut ws, &AgentMsg::Snapshot(snap)).await?;
            }
            () = shared.queued.notified() => {
                let (events, rollups) = shared.outbox().pending();
                let (ev_mark, ro_mark) = (sent_events, sent_rollups);
                for e in events.into_iter().filter(|e| e.seq > ev_mark) {
                    sent_events = e.seq;
                    send(&mut ws, &AgentMsg::Event(e)).await?;
                }
                for r in rollups.into_iter().filter(|r| r.seq > ro_mark) {
                    sent_rollups = r.seq;
                    send(&mut ws, &AgentMsg::Rollup(r)).await?;
                }
            }
            r = results.recv() => {
                if let Some(r) = r {
                    send(&mut ws, &AgentMsg::ActionResult(r)).await?;
                }
            }
            frame = ws.next() => {
                heard = tokio::time::Instant::now();
                let text = match frame {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(format!("websocket error: {e}")),
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(f))) => return Err(close_reason(f)),
                    Some(Ok(_)) => continue,
                };
                // A message type from a newer hub is skipped, not fatal:
                // hubs add types only for agents to ignore safely.
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
                    && v["type"].as_str().is_some_and(|t| !HUB_TYPES.contains(&t))
                {
                    tracing::debug!("skipping a hub message of unknown type");
                    continue;
                }
                let Ok(msg) = serde_json::from_str::<HubMsg>(&text) else {
                    let _ = ws.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame {
                        code: CloseCode::from(close::BAD_FRAME),
                        reason: "malformed message".into(),
                    })).await;
                    return Err("the hub sent a malformed message".into());
                };
                match msg {
                    HubMsg::Ack { stream, seq } => shared.outbox().ack(stream, seq),
                    HubMsg::Resend => since_full = FULL_EVERY,
                    HubMsg::Action(req) => {
                        let (port, tx) = (port.clone(), results_tx.clone());
                        tokio::spawn(async move {
                            let _ = tx.send(run_action(&port, req).await).await;
                        });
                    }
                    HubMsg::Logs { apps } => follow.set(port, port.list().await, apps),
                    HubMsg::Hello { .. } | HubMsg::Welcome { .. } => {}
                }
            }
        }
    }
}

/// The `type`s of [`HubMsg`] this agent knows.
const HUB_TYPES: [&str; 6] = ["hello", "welcome", "ack", "resend", "action", "logs"];

/// Snapshots between two fresh readings of the custom metrics.
const METRICS_EVERY: u64 = 5;

fn snapshot(
    list: Vec<pmr_shared::app::ProcessInfo>,
    home: &std::path::Path,
    host: &mut HostSampler,
    last: &mut HashMap<u32, Proc>,
    seq: u64,
    full: bool,
) -> Snapshot {
    // Custom metrics (a Node app's heap changes every second) go up every
    // 5 s, so an idle app does not appear in every delta.
    let fresh_metrics = full || seq.is_multiple_of(METRICS_EVERY);
    let now: Vec<Proc> = list
        .into_iter()
        .map(|p| Proc {
            pm_id: p.pm_id,
            name: p.spec.name,
            namespace: p.spec.namespace,
            status: p.status.as_str().into(),
            pid: p.pid,
            restart_time: p.restart_time,
            unstable_restarts: p.unstable_restarts,
            pm_uptime: p.pm_uptime,
            cpu: p.cpu,
            memory: p.memory,
            exec_mode: p.spec.exec_mode,
            // Custom metrics go up as their values.
            metrics: match last.get(&p.pm_id) {
                Some(prev) if !fresh_metrics => prev.metrics.clone(),
                _ => p
                    .axm_monitor
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.get("value")?.clone())))
                    .collect(),
            },
            versioning: p.versioning,
            actions: p
                .axm_actions
                .iter()
                .filter_map(|a| Some(a.get("action_name")?.as_str()?.to_string()))
                .take(pmr_shared::link::limits::MAX_METRICS)
                .collect(),
        })
        .collect();
    let removed: Vec<u32> = if full {
        Vec::new()
    } else {
        last.keys()
            .filter(|id| !now.iter().any(|p| p.pm_id == **id))
            .copied()
            .collect()
    };
    let processes: Vec<Proc> = if full {
        now.clone()
    } else {
        now.iter()
            .filter(|p| last.get(&p.pm_id) != Some(*p))
            .cloned()
            .collect()
    };
    last.clear();
    last.extend(now.into_iter().map(|p| (p.pm_id, p)));
    Snapshot {
        seq,
        full,
        at: now_ms() as i64,
        host: host.sample(home),
        processes,
        removed,
    }
}

/// Runs a hub action through the same entry point as the CLI.
async fn run_action(port: &Port, req: ActionRequest) -> ActionResult {
    let request = match to_request(&req) {
        Ok(r) => r,
        Err(message) => {
            return ActionResult {
                id: req.id,
                ok: false,
                message: message.into(),
                instances: Vec::new(),
            };
        }
    };
    let reply = port.ask(request).await;
    match reply {
        Response::Done {
            messages,
            processes,
        } => ActionResult {
            id: req.id,
            ok: true,
            instances: touched(&messages, &processes),
            message: messages.join("\n"),
        },
        Response::Error { message, .. } => ActionResult {
            id: req.id,
            ok: false,
            message,
            instances: Vec::new(),
        },
        _ => ActionResult {
            id: req.id,
            ok: true,
            message: String::new(),
            instances: Vec::new(),
        },
    }
}

/// The instances an action touched, as they are now: the daemon names
/// each in a `[name](id) ✓` line (as pm2 prints them) and lists every
/// process after it; a deleted one is no longer listed.
fn touched(messages: &[String], list: &[pmr_shared::app::ProcessInfo]) -> Vec<Touched> {
    messages
        .iter()
        .filter_map(|m| {
            let (name, id) = m
                .strip_prefix('[')?
                .strip_suffix(") ✓")?
                .rsplit_once("](")?;
            let pm_id: u32 = id.parse().ok()?;
            let now = list.iter().find(|p| p.pm_id == pm_id);
            Some(Touched {
                pm_id,
                name: name.to_string(),
                pid: now.map_or(0, |p| p.pid),
                status: now.map_or("deleted", |p| p.status.as_str()).to_string(),
            })
        })
        .collect()
}

/// The CLI request a hub action stands for, or why it cannot be run.
fn to_request(req: &ActionRequest) -> Result<Request, &'static str> {
    let targets = req.targets.clone();
    let act = |action| Request::Act {
        action,
        targets: targets.clone(),
        update_env: None,
        watch: false,
        options: None,
        by: req.by.clone(),
    };
    Ok(match req.action {
        RemoteAction::Restart => act(Action::Restart),
        RemoteAction::Reload => act(Action::Reload),
        RemoteAction::Stop => act(Action::Stop),
        RemoteAction::Start => act(Action::Start),
        RemoteAction::Delete => act(Action::Delete),
        RemoteAction::Reset => act(Action::Reset),
        RemoteAction::Flush => Request::Flush {
            target: targets.first().cloned(),
        },
        RemoteAction::Scale => {
            let count = match &req.params {
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::String(s) => s.clone(),
                serde_json::Value::Object(o) => o
                    .get("instances")
                    .map(|v| v.to_string().trim_matches('"').to_string())
                    .unwrap_or_default(),
                _ => String::new(),
            };
            match targets.as_slice() {
                [name] => Request::Scale {
                    name: name.clone(),
                    count,
                },
                _ => return Err("scale takes exactly one app name"),
            }
        }
        RemoteAction::Trigger => {
            let action = req.params.get("action").and_then(|a| a.as_str());
            let param = req
                .params
                .get("param")
                .map(|p| p.as_str().map_or_else(|| p.to_string(), String::from));
            match (targets.as_slice(), action) {
                ([target], Some(action)) => Request::Trigger {
                    target: target.clone(),
                    action: action.to_string(),
                    param,
                },
                _ => return Err("trigger takes one target and params {action, param}"),
            }
        }
    })
}
