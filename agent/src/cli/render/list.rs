//! `pmr list`'s process table: pm2's columns, in pm2's order and words.

use pmr_shared::app::{ProcessInfo, Status};

use super::{bytes, paint, status_cell, table, uptime};
use crate::clock::now_ms;

/// The process table of `pmr list`. `on` turns colours on; uptime counts
/// only for a running (or launching) instance, as pm2 shows `0` otherwise.
pub(crate) fn process_table(list: &[ProcessInfo], on: bool) -> String {
    let now = now_ms();
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|p| {
            let running = p.status == Status::Online || p.status == Status::Launching;
            vec![
                p.pm_id.to_string(),
                paint(on, "36;1", &p.spec.name),
                p.spec.namespace.clone(),
                if p.spec.exec_mode == "cluster_mode" {
                    "cluster".into()
                } else {
                    "fork".into()
                },
                if p.pid > 0 {
                    p.pid.to_string()
                } else {
                    "0".into()
                },
                if running {
                    uptime(now.saturating_sub(p.pm_uptime))
                } else {
                    "0".into()
                },
                p.restart_time.to_string(),
                status_cell(p.status, on),
                format!("{}%", (p.cpu * 10.0).round() / 10.0),
                bytes(p.memory),
                p.username.clone(),
                if p.spec.watch.is_empty() {
                    "disabled".into()
                } else {
                    "enabled".into()
                },
            ]
        })
        .collect();
    table(
        &[
            "id",
            "name",
            "namespace",
            "mode",
            "pid",
            "uptime",
            "↺",
            "status",
            "cpu",
            "mem",
            "user",
            "watching",
        ],
        &rows,
    )
}
