//! After an action went out: waiting for the agent's answer (up to 30 s
//! with `wait`, else in the background) and auditing how it ended.

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use pmr_shared::link::messages::ActionResult;

use super::{ActionState, ActionTicket, audit, outcome};
use crate::api::extract::Json;
use crate::state::Hub;
use crate::store::AuditRow;

/// Longest `wait` for the agent's answer.
const WAIT: Duration = Duration::from_secs(30);

/// The agent's answer to come.
pub(super) type Done = tokio::sync::oneshot::Receiver<ActionResult>;

/// An action sent and not answered yet.
pub(super) struct Pending {
    /// Action id.
    pub id: String,
    /// The server it went to.
    pub server_id: i64,
    /// That server's name, for the summary.
    pub server: String,
    /// The verb, as asked.
    pub verb: String,
    /// The targets, as asked, comma-separated.
    pub targets: String,
    /// Its audit line, written once it ended.
    pub line: AuditRow,
}

impl Pending {
    /// The audit result and the one-sentence summary of answer `r`.
    fn outcome(&self, r: &ActionResult) -> (String, String) {
        let said = outcome::words(&self.verb, &self.targets, &self.server, r);
        let result = if r.ok {
            format!("ok: {said}")
        } else {
            said.clone()
        };
        (result, said)
    }
}

/// With `wait`, the agent's answer (200) or, after 30 s, "sent" (202);
/// without, "sent" at once while the answer is awaited (60 s) in the
/// background. Either way the audit line says how the action ended.
pub(super) async fn answer(
    hub: Arc<Hub>,
    p: Pending,
    done: Done,
    wait: bool,
) -> (StatusCode, Json<ActionTicket>) {
    if !wait {
        let id = p.id.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(WAIT * 2, done).await {
                Ok(Ok(r)) => {
                    let result = p.outcome(&r).0;
                    audit(&hub, p.line, result).await;
                }
                _ => {
                    hub.live.forget_action(p.server_id, &p.id);
                    audit(
                        &hub,
                        p.line,
                        "sent; no answer from the agent in 60 s".into(),
                    )
                    .await;
                }
            }
        });
        return (StatusCode::ACCEPTED, Json(ActionTicket::sent(id)));
    }
    match tokio::time::timeout(WAIT, done).await {
        Ok(Ok(r)) => {
            let (result, said) = p.outcome(&r);
            audit(&hub, p.line, result).await;
            (
                StatusCode::OK,
                Json(ActionTicket {
                    id: p.id,
                    status: ActionState::Done,
                    ok: Some(r.ok),
                    message: Some(r.message),
                    summary: Some(said),
                }),
            )
        }
        _ => {
            hub.live.forget_action(p.server_id, &p.id);
            audit(
                &hub,
                p.line,
                "sent; no answer from the agent in 30 s".into(),
            )
            .await;
            (StatusCode::ACCEPTED, Json(ActionTicket::sent(p.id)))
        }
    }
}
