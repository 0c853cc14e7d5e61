//! What happens when an app exits on its own: restart now, restart later,
//! stay stopped, or give up as `errored`. Pure code, table-tested below.
//!
//! pm2's semantics and defaults, with one deliberate difference: pm2 counts
//! unstable restarts only within `min_uptime * max_restarts` of the first
//! launch, so a crash loop slower than that window never becomes `errored`.
//! pmr counts consecutive unstable runs instead; a stable run resets the count.
//! With an exponential backoff the growing delay is the protection, so (as in
//! pm2, where the delays soon outrun the window) such an app keeps retrying.

use pmr_shared::app::AppSpec;

/// pm2 caps the exponential backoff at 15 s.
pub const EXP_BACKOFF_CAP_MS: u64 = 15_000;
/// A run this long resets the exponential backoff (pm2's `EXP_BACKOFF_RESET_TIMER`).
pub const EXP_BACKOFF_RESET_MS: u64 = 30_000;

/// The counters the policy reads and updates, kept per instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Consecutive runs shorter than `min_uptime`.
    pub unstable_restarts: u32,
    /// The last backoff delay, 0 before the first one.
    pub prev_restart_delay: u64,
}

/// How the last run ended.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// Exit code, `None` when a signal ended it.
    pub code: Option<i32>,
    /// How long it ran, in ms.
    pub uptime_ms: u64,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start again after this many ms (the exit counts as a restart).
    Restart {
        /// Delay before the new run.
        delay_ms: u64,
    },
    /// Stay stopped: autorestart is off or the code is a stop code.
    Stop,
    /// Too many unstable restarts: stay down as `errored`.
    Errored,
}

/// Decides after an exit that nobody asked for. Order matters: autorestart
/// and stop codes come first and leave the counters untouched; with a
/// backoff the delay grows and `max_restarts` never applies; otherwise the
/// unstable count decides between a restart after `restart_delay` and
/// `errored` (the count starts again for the next `pmr restart`).
pub fn on_exit(spec: &AppSpec, counters: &mut Counters, exit: Exit) -> Decision {
    if !spec.autorestart {
        return Decision::Stop;
    }
    if exit.code.is_some_and(|c| spec.stop_exit_codes.contains(&c)) {
        return Decision::Stop;
    }
    if exit.uptime_ms < spec.min_uptime {
        counters.unstable_restarts += 1;
    } else {
        counters.unstable_restarts = 0;
    }
    if spec.exp_backoff_restart_delay > 0 {
        let delay = if counters.prev_restart_delay == 0 || exit.uptime_ms >= EXP_BACKOFF_RESET_MS {
            spec.exp_backoff_restart_delay
        } else {
            // pm2 multiplies by 1.5 and floors.
            (counters.prev_restart_delay * 3 / 2).min(EXP_BACKOFF_CAP_MS)
        };
        counters.prev_restart_delay = delay;
        return Decision::Restart { delay_ms: delay };
    }
    if counters.unstable_restarts >= spec.max_restarts {
        counters.unstable_restarts = 0;
        return Decision::Errored;
    }
    Decision::Restart {
        delay_ms: spec.restart_delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: impl FnOnce(&mut AppSpec)) -> AppSpec {
        let mut s = AppSpec::default();
        f(&mut s);
        s
    }

    fn crash(ms: u64) -> Exit {
        Exit {
            code: Some(1),
            uptime_ms: ms,
        }
    }

    #[test]
    fn decisions_table() {
        let cases: Vec<(&str, AppSpec, Counters, Exit, Decision, Counters)> = vec![
            (
                "stable crash restarts at once and clears the count",
                spec(|_| {}),
                Counters {
                    unstable_restarts: 5,
                    prev_restart_delay: 0,
                },
                crash(5_000),
                Decision::Restart { delay_ms: 0 },
                Counters::default(),
            ),
            (
                "unstable crash counts",
                spec(|_| {}),
                Counters::default(),
                crash(10),
                Decision::Restart { delay_ms: 0 },
                Counters {
                    unstable_restarts: 1,
                    prev_restart_delay: 0,
                },
            ),
            (
                "reaching max_restarts gives errored and resets the count",
                spec(|s| s.max_restarts = 3),
                Counters {
                    unstable_restarts: 2,
                    prev_restart_delay: 0,
                },
                crash(10),
                Decision::Errored,
                Counters::default(),
            ),
            (
                "restart_delay is honoured",
                spec(|s| s.restart_delay = 250),
                Counters::default(),
                crash(5_000),
                Decision::Restart { delay_ms: 250 },
                Counters::default(),
            ),
            (
                "autorestart off stays stopped",
                spec(|s| s.autorestart = false),
                Counters::default(),
                crash(10),
                Decision::Stop,
                Counters::default(),
            ),
            (
                "stop exit code stays stopped and counts nothing",
                spec(|s| s.stop_exit_codes = vec![3]),
                Counters::default(),
                Exit {
                    code: Some(3),
                    uptime_ms: 10,
                },
                Decision::Stop,
                Counters::default(),
            ),
            (
                "a signal never matches a stop code",
                spec(|s| s.stop_exit_codes = vec![0]),
                Counters::default(),
                Exit {
                    code: None,
                    uptime_ms: 5_000,
                },
                Decision::Restart { delay_ms: 0 },
                Counters::default(),
            ),
            (
                "first backoff uses the configured delay",
                spec(|s| s.exp_backoff_restart_delay = 100),
                Counters::default(),
                crash(10),
                Decision::Restart { delay_ms: 100 },
                Counters {
                    unstable_restarts: 1,
                    prev_restart_delay: 100,
                },
            ),
            (
                "backoff grows by half and floors like pm2",
                spec(|s| s.exp_backoff_restart_delay = 100),
                Counters {
                    unstable_restarts: 2,
                    prev_restart_delay: 225,
                },
                crash(10),
                Decision::Restart { delay_ms: 337 },
                Counters {
                    unstable_restarts: 3,
                    prev_restart_delay: 337,
                },
            ),
            (
                "backoff is capped at 15 s and never gives errored",
                spec(|s| s.exp_backoff_restart_delay = 100),
                Counters {
                    unstable_restarts: 40,
                    prev_restart_delay: 12_000,
                },
                crash(10),
                Decision::Restart { delay_ms: 15_000 },
                Counters {
                    unstable_restarts: 41,
                    prev_restart_delay: 15_000,
                },
            ),
            (
                "30 s up resets the backoff",
                spec(|s| s.exp_backoff_restart_delay = 100),
                Counters {
                    unstable_restarts: 0,
                    prev_restart_delay: 15_000,
                },
                crash(31_000),
                Decision::Restart { delay_ms: 100 },
                Counters {
                    unstable_restarts: 0,
                    prev_restart_delay: 100,
                },
            ),
        ];
        for (what, spec, mut counters, exit, want, want_counters) in cases {
            let got = on_exit(&spec, &mut counters, exit);
            assert_eq!(got, want, "{what}");
            assert_eq!(counters, want_counters, "{what}");
        }
    }

    #[test]
    fn observed_pm2_sequence_with_max_restarts_3() {
        // pm2 observed: an app dying at 50 ms with --max-restarts 3 gave three
        // launches, then errored with restart_time 2.
        let s = spec(|s| s.max_restarts = 3);
        let mut c = Counters::default();
        let mut launches = 1;
        let mut restart_time = 0;
        loop {
            match on_exit(&s, &mut c, crash(50)) {
                Decision::Restart { .. } => {
                    launches += 1;
                    restart_time += 1;
                }
                Decision::Errored => break,
                Decision::Stop => unreachable!(),
            }
        }
        assert_eq!((launches, restart_time), (3, 2));
    }

    #[test]
    fn backoff_series_matches_pm2() {
        let s = spec(|s| s.exp_backoff_restart_delay = 100);
        let mut c = Counters::default();
        let delays: Vec<u64> = (0..8)
            .map(|_| match on_exit(&s, &mut c, crash(10)) {
                Decision::Restart { delay_ms } => delay_ms,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(delays, [100, 150, 225, 337, 505, 757, 1135, 1702]);
    }
}
