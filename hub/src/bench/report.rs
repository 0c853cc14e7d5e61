//! The bench's table: one line per figure, as `pmr-hub bench` prints it.

use pmr_shared::sync::Locked;

use super::phases::Steady;
use super::{BenchArgs, alerts, percentile};

/// Every figure of one run.
pub(super) struct Figures<'a> {
    /// The run's settings.
    pub args: &'a BenchArgs,
    /// Seconds until every agent connected, and how many did.
    pub ramp: (f64, usize),
    /// The steady state.
    pub steady: Steady,
    /// Whether hostile addresses ran.
    pub hostile: bool,
    /// Seconds until the agents were back after a restart, and how many.
    pub back: (f64, usize),
    /// Events, exit events and servers with one, as stored.
    pub stored: (i64, i64, i64),
    /// What the alert receiver saw (with rules).
    pub seen: &'a std::sync::Mutex<alerts::Seen>,
}

/// Prints the table.
pub(super) fn print(f: Figures<'_>) {
    let Figures {
        args,
        ramp: (ramp_secs, held_after_ramp),
        steady:
            Steady {
                held,
                rss,
                peak_rss,
                cpu,
                delays,
                crash_delays,
                fetches,
                fresh,
                fresh_refused,
                hostile_held,
            },
        hostile,
        back: (back_secs, back_count),
        stored: (events, exits, servers_with_exit),
        seen,
    } = f;
    let n = args.agents;
    println!(
        "agents                                   {n} ({} processes each, 1 snapshot/s)",
        args.procs
    );
    println!("ramp-up: all connected after             {ramp_secs:.1} s ({held_after_ramp} held)");
    println!(
        "handshakes per second (ramp-up)          {:.0}",
        held_after_ramp as f64 / ramp_secs
    );
    println!(
        "agents held during {} s                  {held}",
        args.seconds
    );
    println!(
        "hub RSS (end / peak)                     {:.0} / {:.0} MiB",
        rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0
    );
    println!("hub CPU                                  {cpu:.0} % of one core");
    println!(
        "snapshot -> API delay p50 / p99 / max    {:.0} / {:.0} / {:.0} ms ({} samples)",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays.last().copied().unwrap_or(f64::NAN),
        delays.len()
    );
    if args.dashboards > 0 {
        dashboards(args, &crash_delays, &fetches);
    }
    if args.rules > 0 {
        alerting(args, &seen.locked());
    }
    if hostile {
        hostile_side(args, &hostile_held, &fresh, fresh_refused);
    }
    println!("after a hub restart, back within         {back_secs:.1} s ({back_count} of {n})");
    println!("events stored (want {})                   {events}", 2 * n);
    println!(
        "exit events during the outage            {exits} from {servers_with_exit} servers (want {n} from {n})"
    );
}

/// The dashboards' lines: crash to page, server list refetch.
fn dashboards(args: &BenchArgs, crash_delays: &[f64], fetches: &[f64]) {
    println!(
        "dashboards following the feed           {} (as the fleet page: the feed, and the server list every 30 s)",
        args.dashboards
    );
    println!(
        "crash -> dashboard p50 / p99 / max       {:.0} / {:.0} / {:.0} ms ({} samples)",
        percentile(crash_delays, 0.5),
        percentile(crash_delays, 0.99),
        crash_delays.last().copied().unwrap_or(f64::NAN),
        crash_delays.len()
    );
    println!(
        "server list refetch p50 / p99            {:.0} / {:.0} ms ({} fetches)",
        percentile(fetches, 0.5),
        percentile(fetches, 0.99),
        fetches.len()
    );
}

/// The alerting lines: crash to receiver, the storm's notifications.
fn alerting(args: &BenchArgs, seen: &alerts::Seen) {
    let mut d = seen.delays.clone();
    d.sort_by(|a, b| a.total_cmp(b));
    println!(
        "alert rules                              {} (1 per probe crash, 1 storm, the rest CPU rules of one server each)",
        args.rules
    );
    println!(
        "crash -> receiver beyond group wait      p50 {:.0} / p99 {:.0} / max {:.0} ms ({} alerts)",
        percentile(&d, 0.5),
        percentile(&d, 0.99),
        d.last().copied().unwrap_or(f64::NAN),
        d.len()
    );
    println!(
        "storm: every app-2 errored at once       {} of {} alerts arrived, in {} notifications; {} twice in one notification",
        seen.storm.len(),
        args.agents,
        seen.storm_notifications,
        seen.doubled
    );
}

/// The hostile side's lines: what it held, a fresh agent's link time.
fn hostile_side(
    args: &BenchArgs,
    hostile_held: &[(usize, usize)],
    fresh: &[f64],
    fresh_refused: usize,
) {
    let n = hostile_held.len().max(1);
    let avg = |f: fn(&(usize, usize)) -> usize| hostile_held.iter().map(f).sum::<usize>() / n;
    let d = crate::config::Config::default();
    println!(
        "hostile addresses                        {} holding on average {} of {} pending upgrades, {} of {} idle connections",
        args.hostile,
        avg(|h| h.0),
        args.hostile * d.pending_handshakes_per_ip,
        avg(|h| h.1),
        args.hostile * d.max_connections_per_ip,
    );
    println!(
        "fresh agent link time p50 / max          {:.1} / {:.1} ms ({} linked, {fresh_refused} refused)",
        percentile(fresh, 0.5),
        fresh.last().copied().unwrap_or(f64::NAN),
        fresh.len()
    );
}
