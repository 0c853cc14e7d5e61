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
    let target = match new_count(name, count, handles.len()) {
        Ok(t) => t,
        Err(why) => return error(ErrorKind::Invalid, why),
    };
    // New instances copy the lowest instance's options (after a partial
    // reload, instances may differ).
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
        // Out of the registry first: a list taken while they stop no
        // longer counts them.
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

/// The number of instances `N`, `+N` or `-N` asks for, from `now`;
/// between 1 and 1024, or the reason it is not.
fn new_count(name: &str, count: &str, now: usize) -> Result<usize, String> {
    let now = now as i64;
    let count = count.trim();
    let target = match (count.strip_prefix('+'), count.strip_prefix('-')) {
        (Some(n), _) => n.parse::<i64>().map(|n| now + n),
        (_, Some(n)) => n.parse::<i64>().map(|n| now - n),
        _ => count.parse::<i64>(),
    };
    match target {
        Ok(t) if t > 1024 => Err(format!("scale {name} {t}: at most 1024 instances")),
        Ok(t) if t >= 1 => Ok(t as usize),
        Ok(_) => Err(format!(
            "scale {name} {count}: an app keeps at least one instance; use `pmr delete {name}` to remove it"
        )),
        Err(_) => Err(format!("scale {name} {count:?}: use N, +N or -N")),
    }
}

#[cfg(test)]
mod tests {
    use super::new_count;

    #[test]
    fn counts_absolute_and_relative() {
        assert_eq!(new_count("a", "3", 1), Ok(3));
        assert_eq!(new_count("a", "+2", 1), Ok(3));
        assert_eq!(new_count("a", " -1 ", 3), Ok(2));
        assert!(
            new_count("a", "-3", 3)
                .unwrap_err()
                .contains("at least one instance")
        );
        assert_eq!(
            new_count("a", "2000", 1),
            Err("scale a 2000: at most 1024 instances".into())
        );
        assert_eq!(
            new_count("a", "x", 1),
            Err("scale a \"x\": use N, +N or -N".into())
        );
    }
}
