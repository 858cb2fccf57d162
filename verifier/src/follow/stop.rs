//! When following stops, and why (pure): every event accounted for, nothing moving for the idle
//! timeout once the generator has finished, the overall timeout, or a request.

use std::fmt;
use std::time::Duration;

/// How long to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Give up when nothing moved for this long once the generator has finished.
    pub idle_timeout: Duration,
    /// Give up after this long whatever happens (`None`: no limit).
    pub timeout: Option<Duration>,
}

/// What the follow loop knows when it asks whether to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Progress {
    /// Someone asked to stop (Ctrl-C, `q` in the dashboard).
    pub stop_requested: bool,
    /// Every expected event is on Kafka and receipted.
    pub complete: bool,
    /// The Kafka read has passed the end every partition had at the start.
    pub caught_up: bool,
    /// The generator is done writing (the manifest says so).
    pub run_finished: bool,
    /// Since anything last moved (an event, a record, a receipt, the slot).
    pub idle_for: Duration,
    /// Since following began.
    pub elapsed: Duration,
}

/// Why following stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StopReason {
    /// Stopped by request.
    Requested,
    /// Every event is on Kafka and in MongoDB.
    Complete,
    /// Nothing moved for the idle timeout after the generator finished.
    Idle(Duration),
    /// The overall timeout passed.
    Timeout,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StopReason::Requested => f.write_str("stopped by request"),
            StopReason::Complete => f.write_str("every event is on Kafka and in MongoDB"),
            StopReason::Idle(d) => write!(f, "nothing new for {} s (--idle-timeout)", d.as_secs()),
            StopReason::Timeout => f.write_str("--timeout reached"),
        }
    }
}

/// Whether to stop now, and why.
pub(crate) fn decide(p: &Progress, limits: &Limits) -> Option<StopReason> {
    if p.stop_requested {
        Some(StopReason::Requested)
    } else if p.complete && p.caught_up && p.run_finished {
        Some(StopReason::Complete)
    } else if p.run_finished && p.idle_for > limits.idle_timeout {
        Some(StopReason::Idle(limits.idle_timeout))
    } else if limits.timeout.is_some_and(|t| p.elapsed > t) {
        Some(StopReason::Timeout)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        idle_timeout: Duration::from_secs(30),
        timeout: Some(Duration::from_secs(600)),
    };

    fn done() -> Progress {
        Progress {
            complete: true,
            caught_up: true,
            run_finished: true,
            ..Progress::default()
        }
    }

    #[test]
    fn a_complete_run_stops_only_once_the_read_caught_up_and_the_generator_finished() {
        assert_eq!(decide(&done(), &LIMITS), Some(StopReason::Complete));
        for p in [
            Progress {
                caught_up: false,
                ..done()
            },
            Progress {
                run_finished: false,
                ..done()
            },
            Progress {
                complete: false,
                ..done()
            },
        ] {
            assert_eq!(decide(&p, &LIMITS), None, "{p:?}");
        }
    }

    #[test]
    fn idle_counts_only_after_the_generator_finished() {
        let idle = Duration::from_secs(31);
        let writing = Progress {
            idle_for: idle,
            ..Progress::default()
        };
        assert_eq!(decide(&writing, &LIMITS), None);
        let finished = Progress {
            run_finished: true,
            ..writing
        };
        let reason = decide(&finished, &LIMITS).unwrap();
        assert_eq!(reason, StopReason::Idle(Duration::from_secs(30)));
        assert_eq!(reason.to_string(), "nothing new for 30 s (--idle-timeout)");
        let just_under = Progress {
            idle_for: Duration::from_secs(30),
            ..finished
        };
        assert_eq!(decide(&just_under, &LIMITS), None);
    }

    #[test]
    fn a_request_and_the_timeout_stop_whatever_else_holds() {
        let asked = Progress {
            stop_requested: true,
            ..done()
        };
        assert_eq!(decide(&asked, &LIMITS), Some(StopReason::Requested));
        let late = Progress {
            elapsed: Duration::from_secs(601),
            ..Progress::default()
        };
        assert_eq!(decide(&late, &LIMITS), Some(StopReason::Timeout));
        let unlimited = Limits {
            timeout: None,
            ..LIMITS
        };
        assert_eq!(decide(&late, &unlimited), None);
    }
}
