//! The frames of a welcomed session: each one checked against its limits
//! and rate and handed to ingest, acks and actions sent back, pings sent,
//! and the session ended on silence, a bad frame, or the hub's word.

use std::sync::Arc;

use axum::extract::ws::Message;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use pmr_shared::link::limits;
use pmr_shared::link::messages::{AgentMsg, HubMsg, Stream as Acked, close};

use super::{End, Limits};
use crate::agents::ws_error_code;
use crate::clock::now_ms;
use crate::live::Attached;
use crate::ratelimit::TokenBucket;
use crate::state::Hub;

/// Hands one frame to ingest; returns the ack to send, if any.
async fn ingest(
    hub: &Hub,
    server_id: i64,
    msg: AgentMsg,
    now: i64,
) -> anyhow::Result<Option<HubMsg>> {
    // An ack names the frame it answers, once that is committed (now or
    // before: a replay, in any order): an outbox never waits on a lost ack.
    Ok(match msg {
        AgentMsg::Snapshot(s) => {
            hub.metrics
                .ingest_lag
                .observe(((now - s.at).max(0) as f64) / 1000.0);
            hub.ingest.snapshot(server_id, s, now);
            None
        }
        AgentMsg::Event(e) => {
            let seq = e.seq;
            hub.ingest.event(server_id, e, now).await?;
            Some(HubMsg::Ack {
                stream: Acked::Events,
                seq,
            })
        }
        AgentMsg::Rollup(r) => {
            let seq = r.seq;
            hub.ingest.rollup(server_id, r, now).await?;
            Some(HubMsg::Ack {
                stream: Acked::Rollups,
                seq,
            })
        }
        AgentMsg::ActionResult(r) => {
            hub.ingest.action_result(server_id, r, now).await?;
            None
        }
        AgentMsg::Logs(b) => {
            hub.ingest.log_lines(server_id, b);
            None
        }
        AgentMsg::Auth { .. } => unreachable!("refused by limits::message"),
    })
}

/// How a session the hub ended closes: with the code it was given, if any.
fn closing(attached: &Attached) -> End {
    match *attached.close.borrow() {
        Some(code) => End::Code(code, String::new()),
        None => End::Gone,
    }
}

/// Runs the session until it ends; an error is the hub's own failure.
pub(super) async fn run<S, R>(
    hub: &Arc<Hub>,
    server_id: i64,
    (sink, stream): (&mut S, &mut R),
    attached: &mut Attached,
    limits: Limits,
) -> anyhow::Result<End>
where
    S: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let mut ping = tokio::time::interval(limits.ping_every);
    ping.tick().await;
    let mut rate = TokenBucket::new(limits.frame_rate, limits.frame_burst);
    macro_rules! send {
        ($msg:expr) => {
            match tokio::time::timeout(limits.send, sink.send($msg)).await {
                Ok(Ok(())) => {}
                _ => return Ok(End::Gone),
            }
        };
    }
    // One deadline, pushed back by every frame received (pongs included),
    // and not by anything the hub sends: the hub's own pings must not keep
    // a dead session alive.
    let idle = tokio::time::sleep(limits.idle);
    tokio::pin!(idle);
    loop {
        tokio::select! {
            () = &mut idle => return Ok(End::Code(close::IDLE, String::new())),
            frame = stream.next() => {
                idle.as_mut().reset(tokio::time::Instant::now() + limits.idle);
                let text = match frame {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => {
                        // Answer the agent's close frame (tungstenite queued
                        // the echo) before the connection goes.
                        let _ = tokio::time::timeout(limits.send, sink.close()).await;
                        return Ok(End::Gone);
                    }
                    None => return Ok(End::Gone),
                    Some(Ok(Message::Binary(_))) => {
                        return Ok(End::Code(close::BAD_FRAME, "binary frame".into()));
                    }
                    Some(Err(e)) => {
                        return Ok(ws_error_code(e).map_or(End::Gone, |c| End::Code(c, String::new())));
                    }
                };
                hub.metrics.frames_in.inc();
                if !rate.take(std::time::Instant::now()) {
                    let why = format!("more than {} frames/s on average", limits.frame_rate);
                    return Ok(End::Code(close::RATE_LIMITED, why));
                }
                let msg = match serde_json::from_str::<AgentMsg>(&text) {
                    Ok(m) => m,
                    Err(e) => return Ok(End::Code(close::BAD_FRAME, format!("not a message: {e}"))),
                };
                if let Err(bad) = limits::message(&msg) {
                    return Ok(End::Code(close::BAD_FRAME, bad.to_string()));
                }
                if let Some(ack) = ingest(hub, server_id, msg, now_ms()).await? {
                    send!(Message::Text(serde_json::to_string(&ack)?.into()));
                }
            }
            _ = ping.tick() => send!(Message::Ping(Default::default())),
            out = attached.outbound.recv() => {
                // The hub drops the channel when it ends the session: say why.
                let Some(out) = out else { return Ok(closing(attached)) };
                send!(Message::Text(serde_json::to_string(&out)?.into()));
            }
            changed = attached.close.changed() => {
                if changed.is_err() || attached.close.borrow().is_some() {
                    return Ok(closing(attached));
                }
            }
        }
    }
}
