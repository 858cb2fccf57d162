//! The soak's timeline, pure: every run's end-to-end intervals (their `.hlog` files) merged
//! into buckets of [`BUCKET_S`] seconds of the whole soak, and each fault of the fault log with
//! its recovery, read from the backlog the soak sampled: recovered at the first sample from the
//! healing on when the oldest event on its way is younger than [`RECOVERED_BELOW_S`] (the rule
//! of a single fault run).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::model::fault::{FaultEvent, FaultLine, RECOVERED_BELOW_S};
use crate::report::hlog::Interval;

/// The timeline's resolution, seconds.
pub(crate) const BUCKET_S: f64 = 10.0;

/// One bucket of the timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Bucket {
    /// Its start, seconds since the soak started.
    pub(crate) at_s: f64,
    /// End-to-end samples measured in it (events that reached the store).
    pub(crate) events: u64,
    pub(crate) events_per_s: f64,
    /// `None`: no sample in the bucket (never a zero).
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) max_ms: Option<f64>,
}

fn ms(h: &Histogram<u64>, q: f64) -> Option<f64> {
    (!h.is_empty()).then(|| h.value_at_quantile(q) as f64 / 1000.0)
}

/// The buckets from `start_s` (seconds since the epoch) for `span_s` seconds. An interval
/// counts in the bucket its middle falls in; intervals outside the soak are left out of the
/// buckets (and counted by the caller's totals, which come from the runs' reports).
pub(crate) fn buckets(intervals: &[Interval], start_s: f64, span_s: f64) -> Vec<Bucket> {
    let n = (span_s / BUCKET_S).ceil().max(1.0) as usize;
    let mut hs: Vec<Histogram<u64>> = (0..n)
        .map(|_| events::stages::latency_histogram())
        .collect();
    for i in intervals {
        let mid = i.start_s + i.length_s / 2.0 - start_s;
        if (0.0..n as f64 * BUCKET_S).contains(&mid) {
            // Same bounds: cannot fail.
            let _ = hs[(mid / BUCKET_S) as usize].add(&i.histogram);
        }
    }
    hs.iter()
        .enumerate()
        .map(|(k, h)| Bucket {
            at_s: k as f64 * BUCKET_S,
            events: h.len(),
            events_per_s: h.len() as f64 / BUCKET_S,
            p50_ms: ms(h, 0.50),
            p99_ms: ms(h, 0.99),
            max_ms: ms(h, 1.0),
        })
        .collect()
}

/// One sample of the backlog (a line of `backlog.jsonl`): the oldest event on its way over every
/// run being followed, and the runs the daemon did not follow yet.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub(crate) struct BacklogSample {
    pub(crate) at_us: i64,
    /// Seconds; `None` when nothing is on its way in the runs followed.
    pub(crate) oldest_s: Option<f64>,
    /// Runs written but neither followed nor finished (the daemon could not start following
    /// them while a part was down): their backlog is not known.
    #[serde(default)]
    pub(crate) unfollowed: u64,
}

impl BacklogSample {
    /// Nothing known to be on its way for longer than [`RECOVERED_BELOW_S`].
    fn caught_up(&self) -> bool {
        self.unfollowed == 0 && self.oldest_s.is_none_or(|s| s < RECOVERED_BELOW_S)
    }
}

/// A fault of the soak as its report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct SoakFault {
    pub(crate) fault: String,
    pub(crate) started_us: i64,
    /// `None`: the fault log never said it was healed.
    pub(crate) healed_us: Option<i64>,
    /// `None`: not seen recovered before the soak's samples ended.
    pub(crate) recovered_us: Option<i64>,
    pub(crate) recovery_s: Option<f64>,
    /// The worst end to end measured from its start to its recovery, ms.
    pub(crate) worst_ms: Option<f64>,
}

/// Each start of the fault log paired with the first healing of that fault after it, and its
/// recovery read from `backlog` (sorted by time).
pub(crate) fn faults(
    lines: &[FaultLine],
    backlog: &[BacklogSample],
    intervals: &[Interval],
) -> Vec<SoakFault> {
    let mut out: Vec<SoakFault> = Vec::new();
    for l in lines {
        match l.event {
            FaultEvent::Start => out.push(SoakFault {
                fault: l.fault.clone(),
                started_us: l.at_us,
                healed_us: None,
                recovered_us: None,
                recovery_s: None,
                worst_ms: None,
            }),
            FaultEvent::Healed => {
                if let Some(f) = out
                    .iter_mut()
                    .rev()
                    .find(|f| f.fault == l.fault && f.healed_us.is_none())
                {
                    f.healed_us = Some(l.at_us.max(f.started_us));
                }
            }
        }
    }
    for f in &mut out {
        let Some(healed) = f.healed_us else { continue };
        f.recovered_us = backlog
            .iter()
            .find(|b| b.at_us >= healed && b.caught_up())
            .map(|b| b.at_us);
        f.recovery_s = f.recovered_us.map(|r| (r - healed) as f64 / 1e6);
        let until_s = f.recovered_us.map_or(f64::INFINITY, |r| r as f64 / 1e6);
        let from_s = f.started_us as f64 / 1e6;
        f.worst_ms = intervals
            .iter()
            .filter(|i| i.start_s + i.length_s >= from_s && i.start_s <= until_s)
            .filter(|i| !i.histogram.is_empty())
            .map(|i| i.histogram.max() as f64 / 1000.0)
            .reduce(f64::max);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start_s: f64, ms: &[u64]) -> Interval {
        let mut histogram = events::stages::latency_histogram();
        for v in ms {
            histogram.record(v * 1000).unwrap();
        }
        Interval {
            start_s,
            length_s: 1.0,
            histogram,
        }
    }

    fn line(fault: &str, event: FaultEvent, at_s: i64) -> FaultLine {
        FaultLine {
            fault: fault.into(),
            event,
            at_us: at_s * 1_000_000,
        }
    }

    #[test]
    fn intervals_merge_into_ten_second_buckets_and_an_empty_bucket_has_no_latency() {
        let start = 1000.0;
        let intervals = [
            interval(1000.0, &[10, 20]),
            interval(1008.5, &[30]),
            interval(1025.0, &[500]),
            interval(990.0, &[7]), // before the soak: not in a bucket
        ];
        let b = buckets(&intervals, start, 30.0);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].events, b[0].events_per_s), (3, 0.3));
        assert_eq!(b[0].max_ms.map(f64::round), Some(30.0));
        assert_eq!((b[1].events, b[1].p50_ms, b[1].p99_ms), (0, None, None));
        assert_eq!(b[2].p99_ms.map(f64::round), Some(500.0));
    }

    #[test]
    fn each_fault_is_paired_with_its_healing_and_recovers_when_the_backlog_is_young_again() {
        use FaultEvent::{Healed, Start};
        let lines = [
            line("processor-kill", Start, 100),
            line("processor-kill", Healed, 103),
            line("store-pause", Start, 400),
            line("store-pause", Healed, 410),
            line("connect-kill", Start, 700), // never healed
        ];
        let backlog: Vec<BacklogSample> = (95..800)
            .map(|s| BacklogSample {
                at_us: s * 1_000_000,
                oldest_s: match s {
                    100..=107 => Some((s - 99) as f64),
                    400..=414 => Some((s - 399) as f64),
                    _ => Some(0.2),
                },
                unfollowed: 0,
            })
            .collect();
        let intervals = [interval(104.0, &[4000]), interval(300.0, &[9000])];
        let f = faults(&lines, &backlog, &intervals);
        assert_eq!(f.len(), 3);
        assert_eq!(f[0].recovery_s, Some(5.0));
        // HdrHistogram keeps 3 significant digits
        let worst = f[0].worst_ms.unwrap();
        assert!((worst - 4000.0).abs() <= 4.0, "{worst}");
        assert_eq!(f[1].recovery_s, Some(5.0));
        assert_eq!(
            f[1].worst_ms, None,
            "no sample during it: no worst, not zero"
        );
        assert_eq!((f[2].healed_us, f[2].recovered_us), (None, None));
    }

    #[test]
    fn a_fault_not_seen_recovered_has_no_recovery() {
        let lines = [
            line("store-kill", FaultEvent::Start, 10),
            line("store-kill", FaultEvent::Healed, 12),
        ];
        let stuck: Vec<BacklogSample> = (10..60)
            .map(|s| BacklogSample {
                at_us: s * 1_000_000,
                oldest_s: Some(s as f64),
                unfollowed: 0,
            })
            .collect();
        assert_eq!(faults(&lines, &stuck, &[])[0].recovery_s, None);
    }

    #[test]
    fn a_run_the_daemon_could_not_follow_yet_holds_the_recovery_back() {
        // a broker failover healed at 310 s; the daemon followed nothing of the new run until
        // 321 s (nothing on its way in the runs it followed), then a young backlog
        let lines = [
            line("broker-failover", FaultEvent::Start, 300),
            line("broker-failover", FaultEvent::Healed, 310),
        ];
        let backlog: Vec<BacklogSample> = (295..340)
            .map(|s| BacklogSample {
                at_us: s * 1_000_000,
                oldest_s: (!(301..321).contains(&s)).then_some(0.25),
                unfollowed: u64::from((301..321).contains(&s)),
            })
            .collect();
        let intervals = [interval(320.0, &[12_000])];
        let f = faults(&lines, &backlog, &intervals);
        assert_eq!(f[0].recovery_s, Some(11.0));
        assert!(f[0].worst_ms.is_some_and(|ms| ms > 11_000.0), "{f:?}");
    }
}
