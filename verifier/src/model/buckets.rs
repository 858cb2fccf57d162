//! Stage histograms counted into the fixed buckets `/metrics` exports (pure).
//!
//! The buckets are a ladder from 1 ms to 60 s plus a boundary at each SLO threshold, so the
//! share of events within an objective is read from one bucket, not interpolated (to the
//! histograms' resolution, three significant digits: the same the SLO verdict reads). A
//! finished run is counted once, into its `summary.json`; a run being followed by the daemon is
//! counted each second, so the daemon's histograms move while runs are under way.

use events::stages::Stage;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::model::slo::Slo;

/// The ladder of bucket bounds, seconds.
const LADDER_S: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The bucket bounds, seconds: the ladder and the latency objectives of `slo`.
pub(crate) fn bounds(slo: &Slo) -> Vec<f64> {
    let mut b: Vec<f64> = LADDER_S.to_vec();
    b.extend([slo.p50_max_ms, slo.p95_max_ms, slo.p99_max_ms].map(|ms| ms / 1000.0));
    b.retain(|v| v.is_finite() && *v > 0.0);
    b.sort_by(f64::total_cmp);
    b.dedup();
    b
}

/// One stage of one run, counted into buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct StageBuckets {
    /// The stage.
    pub stage: Stage,
    /// The bounds, seconds.
    pub le_s: Vec<f64>,
    /// Samples per bucket (not cumulative), one more than the bounds: the last is above them.
    pub counts: Vec<u64>,
    /// The samples' sum, seconds.
    pub sum_s: f64,
}

/// Counts each stage's histogram (µs) into `bounds_s`, in one pass over its recorded values.
pub(crate) fn count<'a>(
    stages: impl Iterator<Item = (Stage, &'a Histogram<u64>)>,
    bounds_s: &[f64],
) -> Vec<StageBuckets> {
    let bounds_us: Vec<u64> = bounds_s.iter().map(|b| (b * 1e6).round() as u64).collect();
    stages
        .map(|(stage, h)| {
            let mut counts = vec![0; bounds_us.len() + 1];
            for v in h.iter_recorded() {
                // A value is within a bound when its histogram bucket starts at or below it
                // (as HdrHistogram's own count_between(0, bound) counts).
                let low = h.lowest_equivalent(v.value_iterated_to());
                counts[bounds_us.partition_point(|b| *b < low)] += v.count_since_last_iteration();
            }
            StageBuckets {
                stage,
                le_s: bounds_s.to_vec(),
                counts,
                sum_s: h.mean() * h.len() as f64 / 1e6,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use events::stages::{latency_histogram, PerStage};

    #[test]
    fn the_bounds_hold_each_slo_threshold_once() {
        let b = bounds(&Slo::default());
        for t in [0.03, 0.1, 0.2] {
            assert_eq!(b.iter().filter(|v| **v == t).count(), 1, "{t} in {b:?}");
        }
        assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
    }

    /// Histograms holding these end-to-end latencies, in ms (the other stages empty).
    pub(crate) fn histograms(e2e_ms: &[u64]) -> PerStage<Histogram<u64>> {
        let mut h = PerStage::from_fn(|_| latency_histogram());
        for ms in e2e_ms {
            h[Stage::EndToEnd].record(ms * 1000).unwrap();
        }
        h
    }

    #[test]
    fn the_share_within_an_objective_is_one_bucket() {
        let bounds = bounds(&Slo::default());
        let run = count(histograms(&[5, 20, 30, 31, 150, 90_000]).iter(), &bounds);
        let e2e = run.iter().find(|b| b.stage == Stage::EndToEnd).unwrap();
        let within = |s: f64| -> u64 {
            let i = bounds.iter().position(|b| *b == s).unwrap();
            e2e.counts[..=i].iter().sum()
        };
        assert_eq!(
            within(0.03),
            3,
            "5, 20 and 30 ms are within 30 ms; 31 is not"
        );
        assert_eq!(within(0.2), 5);
        assert_eq!(e2e.counts.last(), Some(&1), "90 s is above every bound");
        assert!((e2e.sum_s - 90.236).abs() < 0.1, "{}", e2e.sum_s);
        let queue = run.iter().find(|b| b.stage == Stage::Queue).unwrap();
        assert!(queue.counts.iter().all(|c| *c == 0));
    }
}
