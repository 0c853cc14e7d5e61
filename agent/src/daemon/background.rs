//! The daemon's background tasks: the CPU and memory sampler (and the
//! `max_memory_restart` check it carries), and scheduled log rotation.
//!
//! Both are spawned once by `daemon::run` and live as long as the daemon; they
//! hold an `Arc<Daemon>` and talk to the rest only through its fields (the
//! registry lock, the `Notify`s and watch channels), never through requests.

use std::sync::Arc;
use std::time::Duration;

use pmr_shared::sync::Locked;

use super::state::Daemon;
use crate::supervisor::monitor::Sampler;

/// Rotates every non-empty log on `logrotate.rotate_interval`'s schedule,
/// sleeping until the next occurrence (or a settings change).
///
/// With no schedule (`rotate_interval = ""`; the default is daily at
/// midnight) it parks on `rotate::CHANGED` alone and costs no timer.
pub(super) async fn rotate_on_schedule(d: Arc<Daemon>) {
    use crate::logs::rotate;
    loop {
        let changed = rotate::CHANGED.notified();
        let Some(wait) = rotate::next_scheduled() else {
            changed.await;
            continue;
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {
                let files = d.open_log_files();
                let rotated = files.len();
                // Renames and reopens only: compression runs on its own thread.
                for f in files {
                    if let Err(e) = f.rotate_now() {
                        tracing::warn!(path = %f.path().display(), "scheduled rotation failed: {e}");
                    }
                }
                tracing::info!("scheduled log rotation: {rotated} files checked");
                // The next occurrence is computed from a time past this one.
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            () = changed => {}
        }
    }
}

/// Samples CPU and memory of every running instance each second.
///
/// `PMR_WORKER_INTERVAL` (milliseconds, at least 100) changes the period,
/// after pm2's `PM2_WORKER_INTERVAL`. Each round bumps `d.sampled`, which
/// [`Daemon::fresh_usage`] waits on.
pub(super) async fn sample_forever(d: Arc<Daemon>) {
    let every = std::env::var("PMR_WORKER_INTERVAL")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(Duration::from_secs(1), |ms| {
            Duration::from_millis(ms.max(100))
        });
    let mut sampler = Sampler::new();
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // Nobody looks and no app has a memory limit: no round, no timer
        // (reading /proc for every app each second is most of an idle
        // daemon's CPU). A list, or any request that changes an app, wakes it.
        if d.registry().apps.is_empty() || !d.usage_wanted() {
            tokio::select! {
                () = d.apps_changed.notified() => {}
                () = d.sample_now.notified() => {}
            }
            continue;
        }
        tokio::select! {
            _ = tick.tick() => {}
            () = d.sample_now.notified() => {}
        }
        let elapsed = sampler.begin();
        // Sampling is synchronous, so it runs under the registry lock rather
        // than cloning every handle each second.
        for h in d.registry().apps.values() {
            let pid = h.rt().pid;
            if pid == 0 {
                continue;
            }
            let usage = sampler.tree(pid, elapsed);
            let mut rt = h.rt();
            if rt.pid == pid {
                rt.usage = usage;
            }
            // max_memory_restart, checked on every sample (pm2: every 30 s).
            let over = h
                .spec()
                .max_memory_restart
                .is_some_and(|limit| usage.memory > limit);
            // `Stopping` marks the restart as asked for, so the rounds before
            // the supervisor acts do not ask again.
            if over && rt.pid == pid && rt.status == pmr_shared::app::Status::Online {
                rt.status = pmr_shared::app::Status::Stopping;
                drop(rt);
                tracing::warn!(
                    "App [{}:{}] uses {} bytes, over its max_memory_restart; restarting",
                    h.spec().name,
                    h.id,
                    usage.memory
                );
                let h = h.clone();
                // In cluster mode a reload: the others keep serving and the
                // new instance is up before the old one goes (as in pm2).
                if h.spec().exec_mode == "cluster_mode" {
                    tokio::spawn(async move {
                        if let Err(e) = h.reload().await {
                            tracing::warn!("max_memory_restart reload failed: {e}");
                        }
                    });
                } else {
                    tokio::spawn(async move {
                        let why = pmr_shared::link::messages::restart_reason::MEMORY;
                        h.control(|ack| crate::supervisor::Control::Restart(why.into(), ack))
                            .await
                    });
                }
            }
        }
        sampler.end();
        d.usage_times.locked().1 = std::time::Instant::now();
        d.sampled.send_modify(|n| *n += 1);
    }
}
