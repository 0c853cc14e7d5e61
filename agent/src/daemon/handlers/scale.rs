//! `pmr scale <name> <N|+N|-N>`: instances added or removed, pm2's way.

use std::sync::Arc;

use pmr_shared::ipc::{ErrorKind, Response};

use crate::daemon::reply::{done, error, run_all};
use crate::daemon::state::{Daemon, NewInstance};
use crate::supervisor::{Control, EnvView, Handle};

/// `pmr scale <name> <N|+N|-N>`: new instances take the lowest free
/// instance numbers, and scaling down removes the oldest instances (the
/// lowest ids), as pm2 does.
pub(super) async fn scale(d: &Arc<Daemon>, name: &str, count: &str) -> Response {
    let mut handles: Vec<Arc<Handle>> = d
        .handles()
        .into_iter()
        .filter(|h| h.spec().name == name)
        .collect();
    if handles.is_empty() {
        return error(ErrorKind::NotFound, format!("Process {name} not found"));
    }
    // Two scales at once would hand out the same instance numbers.
    let _guard = match d.begin_reload(&std::collections::BTreeSet::from([name.to_string()])) {
        Ok(g) => g,
        Err(e) => return error(ErrorKind::Conflict, e),
    };
    handles.sort_by_key(|h| h.instance);
    let now = handles.len() as i64;
    let count = count.trim();
    let target = match (count.strip_prefix('+'), count.strip_prefix('-')) {
        (Some(n), _) => n.parse::<i64>().map(|n| now + n),
        (_, Some(n)) => n.parse::<i64>().map(|n| now - n),
        _ => count.parse::<i64>(),
    };
    let target = match target {
        Ok(t) if t >= 1 => t,
        Ok(_) => {
            return error(
                ErrorKind::Invalid,
                format!(
                    "scale {name} {count}: an app keeps at least one instance; use `pmr delete {name}` to remove it"
                ),
            );
        }
        Err(_) => {
            return error(
                ErrorKind::Invalid,
                format!("scale {name} {count:?}: use N, +N or -N"),
            );
        }
    };
    if target > 1024 {
        return error(
            ErrorKind::Invalid,
            format!("scale {name} {target}: at most 1024 instances"),
        );
    }
    let target = target as usize;
    let mut spec = (*handles[0].spec()).clone();
    spec.instances = target as u32;
    let spec = Arc::new(spec);
    let mut messages = Vec::new();
    if target > handles.len() {
        let used: Vec<u32> = handles.iter().map(|h| h.instance).collect();
        let free = (0u32..).filter(|i| !used.contains(i));
        let new: Vec<NewInstance> = free
            .take(target - handles.len())
            .map(|instance| NewInstance {
                spec: spec.clone(),
                instance,
                wanted_id: None,
                restart_time: 0,
            })
            .collect();
        messages.push(format!("Scaling up application {name}: +{}", new.len()));
        let created = match d.create(new) {
            Ok(c) => c,
            Err(e) => return error(ErrorKind::Internal, e),
        };
        run_all(created, Control::Start).await;
    } else if target < handles.len() {
        handles.sort_by_key(|h| h.id);
        let keep = handles.split_off(handles.len() - target);
        let gone = std::mem::replace(&mut handles, keep);
        messages.push(format!("Scaling down application {name}: -{}", gone.len()));
        gone.iter().for_each(|h| d.forget(h.id));
        run_all(gone, Control::Delete).await;
    } else {
        messages.push(format!("{name} already runs {target} instances"));
    }
    // Every instance carries the new count (dump, describe, hub).
    for h in d.handles().into_iter().filter(|h| h.spec().name == name) {
        let mut s = (*h.spec()).clone();
        s.instances = target as u32;
        h.set_spec(Arc::new(s));
    }
    done(messages, d.list(EnvView::None))
}
