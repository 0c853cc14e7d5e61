//! Registering instances from a saved list (`resurrect`, and a new daemon
//! restoring the list the last one left): ids, counters and stopped state
//! kept, processes an earlier daemon started taken over instead of started.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;

use nix::sys::signal::Signal;
use pmr_shared::app::AppSpec;
// Names and namespaces are held to the hub's limit: a longer one would make
// every snapshot the link sends refused.
use pmr_shared::link::limits::MAX_NAME;
use tokio::task::JoinSet;

use super::persist;
use super::reply::run_all;
use super::state::{Daemon, NewInstance};
use crate::supervisor::Control;
use crate::supervisor::adopt::Adoption;

/// Checks a spec before anything is registered. `Err` is the reason, and
/// always a bad spec (the kind `Invalid`), hence a plain `String`.
pub(super) fn validate(spec: &AppSpec) -> Result<(), String> {
    if spec.name.trim().is_empty() {
        return Err("the app has no name".into());
    }
    for (what, v) in [("name", &spec.name), ("namespace", &spec.namespace)] {
        // Shown escaped and cut short: the name is what is wrong with it.
        let shown: String = v.chars().take(40).flat_map(char::escape_debug).collect();
        if v.len() > MAX_NAME {
            return Err(format!(
                "app {what} \"{shown}…\" is {} bytes long; at most {MAX_NAME}",
                v.len()
            ));
        }
        if v.chars().any(char::is_control) {
            return Err(format!(
                "app {what} \"{shown}\" holds a control character (a newline, an escape...); names are printed in tables and logs"
            ));
        }
    }
    if spec.script.is_empty() {
        return Err(format!("app {}: no script given", spec.name));
    }
    if spec.instances == 0 {
        return Err(format!("app {}: instances must be at least 1", spec.name));
    }
    if Signal::from_str(&spec.kill_signal).is_err() {
        return Err(format!(
            "app {}: unknown kill signal {}",
            spec.name, spec.kill_signal
        ));
    }
    if let Some(c) = &spec.cron_restart {
        crate::clock::parse_cron(c).map_err(|e| format!("app {}: {e}", spec.name))?;
    }
    if !std::path::Path::new(&spec.cwd).is_dir() {
        return Err(format!(
            "app {}: working directory {} does not exist",
            spec.name, spec.cwd
        ));
    }
    Ok(())
}

/// Creates saved instances (ids, counters and instance numbers as they
/// were) and starts those that were not stopped; apps already running
/// under the same name are left alone. Shared by `resurrect` and the
/// restore of the list file.
pub(super) async fn recreate(
    d: &Arc<Daemon>,
    entries: Vec<persist::DumpEntry>,
    messages: &mut Vec<String>,
    mut adopt: HashMap<u32, Adoption>,
) -> Result<(), String> {
    let running: Vec<String> = d.handles().iter().map(|h| h.spec().name.clone()).collect();
    let mut new = Vec::new();
    let mut to_start = Vec::new();
    // Instances of one app share one spec so that their files are named alike.
    let mut specs: Vec<Arc<AppSpec>> = Vec::new();
    for e in entries {
        if running.contains(&e.spec.name) {
            messages.push(format!("{} is already running, not restored", e.spec.name));
            continue;
        }
        if let Err(err) = validate(&e.spec) {
            messages.push(format!("not restored: {err}"));
            continue;
        }
        let spec = match specs.iter().find(|s| ***s == e.spec) {
            Some(s) => s.clone(),
            None => {
                let s = Arc::new(e.spec.clone());
                specs.push(s.clone());
                s
            }
        };
        // An entry without the index (not written by pmr): numbered in
        // file order among its app's entries.
        let instance = e.pmr_instance.unwrap_or_else(|| {
            new.iter()
                .filter(|n: &&NewInstance| Arc::ptr_eq(&n.spec, &spec))
                .count() as u32
        });
        to_start.push(e.status.as_deref() != Some("stopped"));
        new.push(NewInstance {
            spec,
            instance,
            wanted_id: e.pm_id,
            restart_time: e.restart_time,
        });
    }
    // `create` returns the handles in the order given: `to_start` lines up.
    let created = d.create(new)?;
    let mut start = Vec::new();
    let mut set = JoinSet::new();
    for (h, wanted) in created.into_iter().zip(to_start) {
        // A process an earlier daemon started is taken over, not started.
        if let Some(a) = adopt.remove(&h.id) {
            set.spawn(async move { h.take_over(a).await });
        } else if wanted {
            start.push(h);
        }
    }
    while set.join_next().await.is_some() {}
    run_all(start, Control::Start).await;
    Ok(())
}
