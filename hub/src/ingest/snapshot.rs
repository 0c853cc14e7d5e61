//! A snapshot applied to the live state, and the changes it makes: new
//! processes and status changes, restarts, revisions, removals.

use pmr_shared::link::messages::{Proc, Snapshot};

use super::feed::Change;
use crate::live::{MAX_PROCESSES_PER_SERVER, ServerView};

fn revision(p: &Proc) -> Option<String> {
    p.versioning
        .as_ref()?
        .get("revision")?
        .as_str()
        .map(String::from)
}

/// What changed for one process between its last and its new state.
fn changes(server_id: i64, old: Option<&Proc>, new: &Proc, out: &mut Vec<Change>) {
    let (pm_id, app) = (new.pm_id, new.name.clone());
    if old.is_none_or(|o| o.status != new.status) {
        out.push(Change::ProcessStatus {
            server_id,
            pm_id,
            app: app.clone(),
            was: old.map(|o| o.status.clone()),
            status: new.status.clone(),
        });
    }
    if let Some(o) = old {
        if new.restart_time > o.restart_time {
            out.push(Change::Restart {
                server_id,
                pm_id,
                app: app.clone(),
                restarts: new.restart_time,
            });
        }
        let rev = revision(new);
        if rev != revision(o) {
            out.push(Change::Version {
                server_id,
                pm_id,
                app,
                revision: rev,
            });
        }
    }
}

/// Applies `snap` (full or delta) to `view`, within the per-server cap, and
/// returns the changes, a `Sample` last.
pub fn apply(view: &mut ServerView, snap: Snapshot, now: i64) -> Vec<Change> {
    let server_id = view.id;
    let mut out = Vec::new();
    let mut gone: Vec<u32> = snap.removed.clone();
    if snap.full {
        gone.extend(
            view.processes
                .keys()
                .filter(|id| !snap.processes.iter().any(|p| p.pm_id == **id)),
        );
    }
    for id in gone {
        if let Some(p) = view.processes.remove(&id) {
            out.push(Change::ProcessRemoved {
                server_id,
                pm_id: id,
                app: p.name,
            });
        }
    }
    for p in snap.processes {
        let known = view.processes.contains_key(&p.pm_id);
        if known || view.processes.len() < MAX_PROCESSES_PER_SERVER {
            changes(server_id, view.processes.get(&p.pm_id), &p, &mut out);
            view.processes.insert(p.pm_id, p);
        }
    }
    view.host = snap.host;
    view.last_seen = now;
    view.snapshot_at = snap.at;
    out.push(Change::Sample {
        server_id,
        at: snap.at,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proc(pm_id: u32, status: &str, restarts: u32, rev: &str) -> Proc {
        Proc {
            pm_id,
            name: "api".into(),
            status: status.into(),
            restart_time: restarts,
            versioning: Some(serde_json::json!({ "revision": rev })),
            ..Default::default()
        }
    }

    fn snap(full: bool, processes: Vec<Proc>, removed: Vec<u32>) -> Snapshot {
        Snapshot {
            full,
            processes,
            removed,
            at: 7,
            ..Default::default()
        }
    }

    #[test]
    fn each_change_once_and_nothing_for_what_stayed() {
        let mut v = ServerView {
            id: 3,
            ..Default::default()
        };
        let first = apply(
            &mut v,
            snap(
                true,
                vec![proc(0, "online", 0, "a"), proc(1, "online", 0, "a")],
                vec![],
            ),
            1,
        );
        assert_eq!(
            first
                .iter()
                .filter(|c| c.kind() == "process_status")
                .count(),
            2
        );
        // The same again: only the sample.
        let same = apply(
            &mut v,
            snap(false, vec![proc(0, "online", 0, "a")], vec![]),
            2,
        );
        assert_eq!(
            same,
            vec![Change::Sample {
                server_id: 3,
                at: 7
            }]
        );
        // A crash and restart on a new revision; the other instance removed.
        let next = apply(
            &mut v,
            snap(false, vec![proc(0, "errored", 1, "b")], vec![1]),
            3,
        );
        let kinds: Vec<&str> = next.iter().map(Change::kind).collect();
        assert_eq!(
            kinds,
            [
                "process_removed",
                "process_status",
                "restart",
                "version",
                "sample"
            ]
        );
        assert_eq!(
            next[1],
            Change::ProcessStatus {
                server_id: 3,
                pm_id: 0,
                app: "api".into(),
                was: Some("online".into()),
                status: "errored".into()
            }
        );
        // A full snapshot without pm_id 0 removes it.
        let full = apply(&mut v, snap(true, vec![], vec![]), 4);
        assert_eq!(full[0].kind(), "process_removed");
        assert!(v.processes.is_empty());
    }
}
