//! The soak's leak rule, pure: a part's resident memory may grow by at most [`LIMIT`] from the
//! soak's tenth minute to its end. Both ends are medians over a window of samples, so one
//! sample taken while the allocator holds a burst's memory does not decide it; a soak too short
//! for its tenth minute takes its baseline at a third of its length. The end is read after the
//! last fault has recovered: memory held while a part catches up on a fault's backlog is that
//! fault's burst, not the part's steady state. A part with too few samples at either end is not
//! judged, and says so. Where the part's heap in use was sampled too, its growth over the same
//! windows is said beside the verdict: RSS that grew while the heap in use did not is memory
//! the allocator keeps, RSS that grew with it is memory the program holds.

use serde::Serialize;

/// Growth allowed from the baseline to the end: 10 %.
pub(crate) const LIMIT: f64 = 0.10;
/// The baseline is taken at the tenth minute, or at a third of a shorter soak.
const BASELINE_AT_S: f64 = 600.0;
/// Samples each window must hold to judge.
const MIN_SAMPLES: usize = 3;

/// One sample of a part's memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rss {
    /// Seconds since the soak started.
    pub(crate) at_s: f64,
    /// Resident set size, bytes.
    pub(crate) bytes: u64,
    /// Heap in use, bytes, where the part says it.
    pub(crate) heap: Option<u64>,
}

/// How a part's memory was judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct LeakCheck {
    pub(crate) part: String,
    /// What was judged: `anonymous memory` (RssAnon) or `RSS`.
    pub(crate) memory: &'static str,
    /// Where the baseline window starts, seconds since the soak started.
    pub(crate) baseline_at_s: f64,
    /// Where the end window starts: the last tenth of the soak, or the last fault's recovery
    /// when that came later.
    pub(crate) end_from_s: f64,
    /// Median RSS over the baseline window and over the last window, bytes.
    pub(crate) baseline_bytes: Option<u64>,
    pub(crate) end_bytes: Option<u64>,
    /// `end / baseline - 1`.
    pub(crate) growth: Option<f64>,
    /// The heap in use over the same windows, where it was sampled (not judged: said).
    pub(crate) heap: Option<HeapGrowth>,
    /// `pass`, `fail`, or `not_judged`.
    pub(crate) verdict: &'static str,
    /// Why, in words.
    pub(crate) reason: String,
}

/// The heap in use at both ends of a leak check.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct HeapGrowth {
    pub(crate) baseline_bytes: u64,
    pub(crate) end_bytes: u64,
    pub(crate) growth: f64,
}

/// Which figure of a sample a window reads.
type Of = fn(&Rss) -> Option<u64>;

/// The window each end's median is taken over: a tenth of the soak, 10 s to 60 s.
fn window_s(soak_s: f64) -> f64 {
    (soak_s / 10.0).clamp(10.0, 60.0)
}

fn median(mut v: Vec<u64>) -> Option<u64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// Judges `part`'s samples over a soak of `soak_s` seconds (samples after it, taken while the
/// runs drain, count for the end) whose last fault recovered at `settled_s` (0: no fault).
#[cfg(test)]
pub(crate) fn judge(part: &str, samples: &[Rss], soak_s: f64, settled_s: f64) -> LeakCheck {
    judge_from(part, samples, soak_s, settled_s, 0.0)
}

/// [`judge`] for samples whose time 0 is `from_s` into the soak (a part restarted then): the
/// windows are read on the samples' own times, and said, and kept, in the soak's.
pub(crate) fn judge_from(
    part: &str,
    samples: &[Rss],
    soak_s: f64,
    settled_s: f64,
    from_s: f64,
) -> LeakCheck {
    let window = window_s(soak_s);
    let baseline_at_s = BASELINE_AT_S.min(soak_s / 3.0);
    let end_from_s = (soak_s - window).max(settled_s);
    let within = |from: f64, to: f64, of: Of| -> Vec<u64> {
        samples
            .iter()
            .filter(|s| s.at_s >= from && s.at_s < to)
            .filter_map(of)
            .collect()
    };
    let (rss, heap): (Of, Of) = (|s| Some(s.bytes), |s| s.heap);
    let start = within(baseline_at_s, baseline_at_s + window, rss);
    let end = within(end_from_s, f64::INFINITY, rss);
    let mut check = LeakCheck {
        part: part.to_owned(),
        memory: "RSS",
        baseline_at_s: baseline_at_s + from_s,
        end_from_s: end_from_s + from_s,
        baseline_bytes: None,
        end_bytes: None,
        growth: None,
        heap: None,
        verdict: "not_judged",
        reason: String::new(),
    };
    if start.len() < MIN_SAMPLES || end.len() < MIN_SAMPLES || end_from_s < baseline_at_s + window {
        let after = if end_from_s > soak_s - window {
            " (after the last fault's recovery: a longer SETTLE leaves more)"
        } else {
            ""
        };
        check.reason = format!(
            "too few samples: {} from {:.0} s and {} from {:.0} s{after} of a {soak_s:.0} s soak ({MIN_SAMPLES} needed in each, the windows apart)",
            start.len(),
            check.baseline_at_s,
            end.len(),
            check.end_from_s
        );
        return check;
    }
    let (b, e) = (median(start).unwrap_or(0), median(end).unwrap_or(0));
    let growth = e as f64 / b.max(1) as f64 - 1.0;
    check.baseline_bytes = Some(b);
    check.end_bytes = Some(e);
    check.growth = Some(growth);
    let mib = |v: u64| v as f64 / (1024.0 * 1024.0);
    let said = format!(
        "{:.1} MiB at {:.0} s, {:.1} MiB at the end (from {:.0} s): {:+.1} % (at most {:+.0} %)",
        mib(b),
        check.baseline_at_s,
        mib(e),
        check.end_from_s,
        growth * 100.0,
        LIMIT * 100.0
    );
    check.verdict = if growth <= LIMIT { "pass" } else { "fail" };
    check.heap = heap_growth(
        within(baseline_at_s, baseline_at_s + window, heap),
        within(end_from_s, f64::INFINITY, heap),
    );
    check.reason = match check.heap {
        Some(h) => format!("{said}; {}", heap_said(h, growth > LIMIT)),
        None => said,
    };
    check
}

/// The heap's medians over both windows, when each has enough samples.
fn heap_growth(start: Vec<u64>, end: Vec<u64>) -> Option<HeapGrowth> {
    if start.len() < MIN_SAMPLES || end.len() < MIN_SAMPLES {
        return None;
    }
    let (b, e) = (median(start)?, median(end)?);
    Some(HeapGrowth {
        baseline_bytes: b,
        end_bytes: e,
        growth: e as f64 / b.max(1) as f64 - 1.0,
    })
}

/// The heap's growth in words; when RSS grew past the limit, whose memory it is.
fn heap_said(h: HeapGrowth, rss_grew: bool) -> String {
    let mib = |v: u64| v as f64 / (1024.0 * 1024.0);
    let whose = match (rss_grew, h.growth <= LIMIT) {
        (false, _) => "",
        (true, true) => {
            ": the program's own memory did not grow, the allocator keeps what it freed"
        }
        (true, false) => ": the program holds more memory",
    };
    format!(
        "heap in use {:.1} -> {:.1} MiB ({:+.1} %){whose}",
        mib(h.baseline_bytes),
        mib(h.end_bytes),
        h.growth * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample each `every_s` seconds for `soak_s`, its bytes by `f(seconds)`.
    fn series(soak_s: f64, every_s: f64, f: impl Fn(f64) -> u64) -> Vec<Rss> {
        (0..)
            .map(|i| i as f64 * every_s)
            .take_while(|t| *t <= soak_s)
            .map(|at_s| Rss {
                at_s,
                bytes: f(at_s),
                heap: None,
            })
            .collect()
    }

    const MB: u64 = 1 << 20;

    #[test]
    fn flat_memory_passes_and_a_warm_up_before_the_baseline_does_not_count() {
        // an hour: 20 MB, warming up to 40 MB in the first five minutes, then flat with noise
        let s = series(3600.0, 10.0, |t| {
            if t < 300.0 {
                20 * MB + (t as u64) * MB / 15
            } else {
                40 * MB + (t as u64 % 3) * MB / 4
            }
        });
        let c = judge("verifier", &s, 3600.0, 0.0);
        assert_eq!(c.verdict, "pass", "{c:?}");
        assert_eq!(c.baseline_at_s, 600.0);
        assert!(c.growth.unwrap().abs() < 0.02, "{c:?}");
    }

    #[test]
    fn a_steady_climb_fails() {
        // 40 MB growing 2 MB every minute: +100 % over the last 50 minutes
        let s = series(3600.0, 10.0, |t| 40 * MB + (t as u64) * 2 * MB / 60);
        let c = judge("event-processor", &s, 3600.0, 0.0);
        assert_eq!(c.verdict, "fail", "{c:?}");
        assert!(c.growth.unwrap() > 0.5, "{c:?}");
        assert!(c.reason.contains("at most +10 %"), "{}", c.reason);
    }

    #[test]
    fn one_spike_at_either_end_does_not_decide() {
        // flat at 30 MB but for a single sample of 90 MB in the last window
        let s = series(600.0, 5.0, |t| if t == 595.0 { 90 * MB } else { 30 * MB });
        let c = judge("verifier", &s, 600.0, 0.0);
        assert_eq!(c.verdict, "pass", "{c:?}");
    }

    #[test]
    fn a_short_soak_takes_its_baseline_at_a_third_and_too_few_samples_are_not_judged() {
        let s = series(180.0, 1.0, |_| 30 * MB);
        let c = judge("verifier", &s, 180.0, 0.0);
        assert_eq!((c.verdict, c.baseline_at_s), ("pass", 60.0));
        let sparse = series(180.0, 60.0, |_| 30 * MB);
        let c = judge("verifier", &sparse, 180.0, 0.0);
        assert_eq!(c.verdict, "not_judged");
        assert_eq!(c.growth, None, "never a growth of zero when not measured");
        assert!(c.reason.contains("too few samples"), "{}", c.reason);
    }

    #[test]
    fn the_end_is_read_after_the_last_fault_has_recovered() {
        // flat 12 MB; a fault 60 s before the end bursts to 29 MB until its recovery at 3640 s,
        // and the part holds 14 MB for 20 s after it before it gives the burst back
        let s = series(3660.0, 5.0, |t| match t {
            3600.0..3640.0 => 29 * MB,
            3640.0..3660.0 => 14 * MB,
            _ => 12 * MB,
        });
        let read_through_the_burst = judge("processor", &s, 3660.0, 0.0);
        assert_eq!(read_through_the_burst.verdict, "fail");
        // the drain's samples after the load count for the end
        let mut s = s;
        s.extend((1..=12).map(|i| Rss {
            at_s: 3660.0 + 5.0 * f64::from(i),
            bytes: 12 * MB,
            heap: None,
        }));
        let c = judge("processor", &s, 3660.0, 3640.0);
        assert_eq!((c.verdict, c.end_from_s), ("pass", 3640.0), "{c:?}");
        assert!(c.reason.contains("(from 3640 s)"), "{}", c.reason);
        // a fault that recovered too late to leave an end window is said, not judged
        let c = judge("processor", &s[..s.len() - 12], 3660.0, 3655.0);
        assert_eq!(c.verdict, "not_judged", "{c:?}");
        assert!(c.reason.contains("a longer SETTLE"), "{}", c.reason);
    }

    #[test]
    fn the_heap_in_use_says_whose_memory_grew() {
        // RSS climbs 20 -> 30 MB over the hour; the heap in use stays at 8 MB, or climbs with it
        let climbing = series(3600.0, 10.0, |t| 20 * MB + (t as u64) * 10 * MB / 3600);
        let with = |heap: &dyn Fn(f64) -> u64| -> Vec<Rss> {
            climbing
                .iter()
                .map(|r| Rss {
                    heap: Some(heap(r.at_s)),
                    ..*r
                })
                .collect()
        };
        let kept = judge("verifier", &with(&|_| 8 * MB), 3600.0, 0.0);
        assert_eq!(kept.verdict, "fail", "RSS decides: {kept:?}");
        assert!(kept.heap.unwrap().growth.abs() < 0.01, "{kept:?}");
        assert!(
            kept.reason.contains("the allocator keeps"),
            "{}",
            kept.reason
        );
        let held = judge(
            "verifier",
            &with(&|t| 8 * MB + (t as u64) * 4 * MB / 3600),
            3600.0,
            0.0,
        );
        assert!(held.heap.unwrap().growth > 0.3, "{held:?}");
        assert!(
            held.reason.contains("the program holds more"),
            "{}",
            held.reason
        );
        // not sampled: nothing said, never a growth of zero
        let c = judge("verifier", &climbing, 3600.0, 0.0);
        assert_eq!(c.heap, None);
        assert!(!c.reason.contains("heap"), "{}", c.reason);
    }
}
