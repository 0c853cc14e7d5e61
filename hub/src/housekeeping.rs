//! Once-a-second chores: close sessions of revoked keys, reload alert
//! rules changed on the command line, keep last-seen times, fold and prune
//! old rows.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::now_ms;
use crate::state::Hub;
use crate::store::{Write, Written};

/// Closes sessions of keys revoked by `pmr-hub keys revoke` (another
/// process, so the store is the only channel), keeps last-seen times and
/// prunes old rows.
pub async fn run(hub: Arc<Hub>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut n: u64 = 0;
    let mut alerts_seen: Option<Option<String>> = None;
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let rules_file = hub.config.alert_rules_file.clone();
    let mut file_seen = rules_file.as_deref().and_then(modified);
    loop {
        tick.tick().await;
        n += 1;
        // Rules or receivers changed by `pmr-hub alerts` (another process).
        let store = hub.store.clone();
        let key = crate::alerts::cli::VERSION_KEY;
        if let Ok(Ok(v)) = tokio::task::spawn_blocking(move || store.meta(key)).await {
            if alerts_seen.as_ref().is_some_and(|seen| *seen != v) {
                hub.alerts.reload();
            }
            alerts_seen = Some(v);
        }
        // The rules file changed (an edit, a checkout).
        if let Some(p) = &rules_file {
            let m = modified(p);
            if m != file_seen {
                file_seen = m;
                hub.alerts.reload();
            }
        }
        let store = hub.store.clone();
        if let Ok(Ok(keys)) = tokio::task::spawn_blocking(move || store.list_keys()).await {
            let revoked: std::collections::HashSet<i64> = keys
                .iter()
                .filter(|k| k.revoked_at.is_some())
                .map(|k| k.id)
                .collect();
            if !revoked.is_empty() {
                let closed = hub
                    .live
                    .close_keys(&revoked, pmr_shared::link::messages::close::REVOKED);
                if closed > 0 {
                    tracing::info!("closed {closed} session(s) of revoked keys");
                }
            }
        }
        if n.is_multiple_of(10) {
            let mut seen = Vec::new();
            hub.live.each(|s| {
                if s.online && s.holder.is_none() {
                    seen.push((s.id, s.last_seen));
                }
            });
            let _ = hub.writer.write(Write::TouchServers(seen)).await;
        }
        if n.is_multiple_of(10) {
            hub.logins.sweep();
        }
        if n % 600 == 300 {
            // Servers gone for a day leave memory; their history stays stored.
            hub.live.evict_offline(now_ms(), 86_400_000);
        }
        // Once-only work: on one replica of several, the lease holder.
        if !hub.cluster.holds_lease() {
            continue;
        }
        if n % 60 == 30 {
            let fold = Write::Downsample { now: now_ms() };
            if let Err(e) = hub.writer.write(fold).await {
                tracing::warn!("downsampling failed: {e}");
            }
        }
        if n % 3600 == 1 {
            let day = 86_400_000i64;
            let now = now_ms();
            let ev = now - i64::from(hub.config.retention_events_days) * day;
            let ro = now - i64::from(hub.config.retention_rollups_days) * day;
            let co = now - i64::from(hub.config.retention_coarse_days) * day;
            let mut pruned = 0;
            loop {
                let prune = Write::Prune {
                    events_before: ev,
                    rollups_before: ro,
                    coarse_before: co,
                };
                match hub.writer.write(prune).await {
                    Ok(Written::Rows(n)) if n > 0 => pruned += n,
                    _ => break,
                }
            }
            if pruned > 0 {
                tracing::info!("pruned {pruned} old rows");
            }
        }
    }
}
