//! Actions the hub asks for (restart, scale, trigger...): each becomes the
//! request the CLI would send, goes through the daemon's handlers, and its
//! reply goes back with the instances it touched.

use pmr_shared::app::ProcessInfo;
use pmr_shared::ipc::{Action, InstanceRef, Request, Response};
use pmr_shared::link::limits;
use pmr_shared::link::messages::{ActionRequest, ActionResult, RemoteAction, Touched};

use crate::link::Port;

/// Runs a hub action through the same entry point as the CLI, so the hub
/// can do nothing a local user could not. Always answers (with the request's
/// id), even for an action this agent cannot map to a request.
pub(super) async fn run_action(port: &Port, req: ActionRequest) -> ActionResult {
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
            acted_on,
        } => ActionResult {
            id: req.id,
            ok: true,
            instances: touched(&acted_on, &processes),
            message: limits::cut(&messages.join("\n"), limits::MAX_RESULT).to_string(),
        },
        Response::Error { message, .. } => ActionResult {
            id: req.id,
            ok: false,
            message: limits::cut(&message, limits::MAX_RESULT).to_string(),
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

/// The instances an action touched, as they are now (a deleted one is no
/// longer listed).
fn touched(acted_on: &[InstanceRef], list: &[ProcessInfo]) -> Vec<Touched> {
    acted_on
        .iter()
        .map(|i| {
            let now = list.iter().find(|p| p.pm_id == i.pm_id);
            Touched {
                pm_id: i.pm_id,
                name: i.name.clone(),
                pid: now.map_or(0, |p| p.pid),
                status: now.map_or("deleted", |p| p.status.as_str()).to_string(),
            }
        })
        .collect()
}

/// The CLI request a hub action stands for, or why it cannot be run.
/// `req.by` (the hub user) travels with lifecycle actions, so a restart's
/// recorded reason names who asked. Flush, as pm2's, takes one target or
/// none (all); several are refused rather than all but one ignored.
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
        RemoteAction::Flush if targets.len() > 1 => {
            return Err("flush empties the logs of one app (or, with no target, of all)");
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn flush(targets: &[&str]) -> Result<Request, &'static str> {
        to_request(&ActionRequest {
            id: "a1".into(),
            action: RemoteAction::Flush,
            targets: targets.iter().map(|t| t.to_string()).collect(),
            params: serde_json::Value::Null,
            by: None,
        })
    }

    #[test]
    fn a_flush_names_one_app_or_none_and_several_are_refused() {
        assert!(matches!(flush(&["api"]), Ok(Request::Flush { target: Some(t) }) if t == "api"));
        assert!(matches!(flush(&[]), Ok(Request::Flush { target: None })));
        assert!(flush(&["api", "worker"]).unwrap_err().contains("one app"));
    }
}
