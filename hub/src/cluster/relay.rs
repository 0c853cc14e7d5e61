//! Actions for an agent another replica holds: the action goes to that
//! replica as a message, which hands it to the agent's session and sends
//! the agent's answer back to the replica whose caller waits for it.

use std::sync::Arc;
use std::time::Duration;

use pmr_shared::link::messages::{ActionResult, HubMsg};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use crate::state::Hub;

/// Longest a holder waits for its agent's answer to a relayed action.
const ANSWER_WITHIN: Duration = Duration::from_secs(70);

/// An action on its way to the replica holding the agent.
#[derive(Serialize, Deserialize)]
struct Relayed {
    server_id: i64,
    id: String,
    msg: HubMsg,
}

/// An agent's answer on its way back.
#[derive(Serialize, Deserialize)]
struct Answered {
    server_id: i64,
    result: ActionResult,
}

/// A wrong password on one replica, for the others' sign-in budgets.
#[derive(Serialize, Deserialize)]
struct LoginFailed {
    address: crate::http::addr::AddrKey,
    /// The account's key (a hash, never the address).
    account: String,
}

/// Tells the other replicas of a failed sign-in, so that guesses spread
/// over replicas spend one budget.
pub async fn login_failed(hub: &Hub, address: crate::http::addr::AddrKey, account: String) {
    if !hub.cluster.shared() {
        return;
    }
    let body = serde_json::to_string(&LoginFailed { address, account }).unwrap_or_default();
    if let Err(e) = hub.cluster.send(None, "login_failed", &body).await {
        tracing::warn!("cluster: a sign-in failure not shared: {e:#}");
    }
}

/// Sends action `id` to `holder`, the replica holding `server_id`'s
/// session; the receiver yields the agent's answer (`None`: not sent).
pub async fn relay_action(
    hub: &Hub,
    holder: &str,
    server_id: i64,
    msg: HubMsg,
    id: String,
) -> Option<oneshot::Receiver<ActionResult>> {
    let rx = hub.live.await_remote(server_id, id.clone());
    let body = serde_json::to_string(&Relayed {
        server_id,
        id: id.clone(),
        msg,
    })
    .ok()?;
    if let Err(e) = hub.cluster.send(Some(holder), "action", &body).await {
        tracing::warn!("cluster: action {id} not relayed: {e:#}");
        hub.live.forget_action(server_id, &id);
        return None;
    }
    Some(rx)
}

/// A message for this replica: an action for one of its agents, or the
/// answer to one this replica relayed.
pub(super) async fn receive(hub: &Arc<Hub>, sender: &str, kind: &str, body: &str) {
    match kind {
        "action" => match serde_json::from_str::<Relayed>(body) {
            Ok(r) => deliver(hub.clone(), sender.to_string(), r),
            Err(e) => tracing::warn!("cluster: an action from {sender:?} unread: {e}"),
        },
        "result" => match serde_json::from_str::<Answered>(body) {
            Ok(a) => hub.ingest.remote_result(a.server_id, a.result),
            Err(e) => tracing::warn!("cluster: a result from {sender:?} unread: {e}"),
        },
        "login_failed" => match serde_json::from_str::<LoginFailed>(body) {
            Ok(f) => hub.logins.failed_key(f.address, f.account),
            Err(e) => tracing::warn!("cluster: a sign-in failure from {sender:?} unread: {e}"),
        },
        other => tracing::warn!("cluster: unknown message {other:?} from {sender:?}"),
    }
}

/// Hands a relayed action to the agent and sends its answer back; an agent
/// that left meanwhile is an answer too.
fn deliver(hub: Arc<Hub>, origin: String, r: Relayed) {
    let Relayed { server_id, id, msg } = r;
    let waiting = hub.live.send_action(server_id, msg, id.clone());
    tokio::spawn(async move {
        let result = match waiting {
            Some(rx) => match tokio::time::timeout(ANSWER_WITHIN, rx).await {
                Ok(Ok(result)) => result,
                _ => {
                    hub.live.forget_action(server_id, &id);
                    return;
                }
            },
            None => ActionResult {
                id,
                ok: false,
                message: "the agent is not connected to the replica that held it".into(),
                instances: Vec::new(),
            },
        };
        let body = serde_json::to_string(&Answered { server_id, result }).unwrap_or_default();
        if let Err(e) = hub.cluster.send(Some(&origin), "result", &body).await {
            tracing::warn!("cluster: an action's answer not sent back: {e:#}");
        }
    });
}
