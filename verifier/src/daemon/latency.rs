//! The per-stage latency histograms `/metrics` exports over every finished run (pure).
//!
//! Each finished run's stage histograms (HdrHistogram, µs) are counted into fixed buckets once,
//! when it finishes, and kept in its `summary.json`; the daemon adds them up. The buckets are a
//! ladder from 1 ms to 60 s plus a boundary at each SLO threshold, so the share of events within
//! an objective is read from one bucket, not interpolated (to the histograms' resolution, three
//! significant digits: the same the SLO verdict reads).

use events::stages::{PerStage, Stage};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use telemetry::prom;

use crate::slo::Slo;

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

/// Counts each stage's histogram into `bounds_s`.
pub(crate) fn count(h: &PerStage<Histogram<u64>>, bounds_s: &[f64]) -> Vec<StageBuckets> {
    h.iter()
        .map(|(stage, h)| {
            let mut below = 0;
            let mut counts: Vec<u64> = bounds_s
                .iter()
                .map(|b| {
                    let upto = if h.is_empty() {
                        0
                    } else {
                        h.count_between(0, (b * 1e6).round() as u64)
                    };
                    let n = upto - below;
                    below = upto;
                    n
                })
                .collect();
            counts.push(h.len() - below);
            StageBuckets {
                stage,
                le_s: bounds_s.to_vec(),
                counts,
                sum_s: h.mean() * h.len() as f64 / 1e6,
            }
        })
        .collect()
}

/// Every finished run's buckets added up, per stage.
#[derive(Debug, Clone)]
pub(crate) struct Latency {
    bounds_s: Vec<f64>,
    stages: PerStage<prom::Histogram>,
    /// Runs counted with other bounds (an earlier `--slo`), left out of the sums.
    pub left_out: Vec<i64>,
}

impl Latency {
    /// Empty, with `bounds_s`.
    pub(crate) fn new(bounds_s: Vec<f64>) -> Self {
        let stages = PerStage::from_fn(|_| prom::Histogram::new(&bounds_s));
        Self {
            bounds_s,
            stages,
            left_out: Vec::new(),
        }
    }

    /// Adds run `id`'s buckets; a run counted with other bounds is left out and named.
    pub(crate) fn add(&mut self, id: i64, run: &[StageBuckets]) {
        if run.iter().any(|b| b.le_s != self.bounds_s) {
            self.left_out.push(id);
            return;
        }
        for b in run {
            self.stages[b.stage].add(&b.counts, b.sum_s);
        }
    }

    /// The `verifier_stage_latency_seconds` family.
    pub(crate) fn write(&self, out: &mut String) {
        const NAME: &str = "verifier_stage_latency_seconds";
        prom::header(
            out,
            NAME,
            "histogram",
            "Latency per stage of every finished run's events, with a bucket boundary at each SLO threshold.",
        );
        for (stage, h) in self.stages.iter() {
            h.write(out, NAME, &[("stage", stage.as_str())]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::stages::latency_histogram;

    #[test]
    fn the_bounds_hold_each_slo_threshold_once() {
        let b = bounds(&Slo::default());
        for t in [0.03, 0.1, 0.2] {
            assert_eq!(b.iter().filter(|v| **v == t).count(), 1, "{t} in {b:?}");
        }
        assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
    }

    fn histograms(e2e_ms: &[u64]) -> PerStage<Histogram<u64>> {
        let mut h = PerStage::from_fn(|_| latency_histogram());
        for ms in e2e_ms {
            h[Stage::EndToEnd].record(ms * 1000).unwrap();
        }
        h
    }

    #[test]
    fn the_share_within_an_objective_is_one_bucket() {
        let bounds = bounds(&Slo::default());
        let run = count(&histograms(&[5, 20, 30, 31, 150, 90_000]), &bounds);
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

    #[test]
    fn runs_add_up_and_a_run_with_other_bounds_is_left_out() {
        let bounds = bounds(&Slo::default());
        let mut l = Latency::new(bounds.clone());
        l.add(1, &count(&histograms(&[5, 20]), &bounds));
        l.add(2, &count(&histograms(&[300]), &bounds));
        l.add(3, &count(&histograms(&[1]), &[0.01]));
        let mut out = String::new();
        l.write(&mut out);
        assert!(
            out.contains(
                "verifier_stage_latency_seconds_bucket{stage=\"end_to_end\",le=\"0.03\"} 2\n"
            ),
            "{out}"
        );
        assert!(
            out.contains("verifier_stage_latency_seconds_count{stage=\"end_to_end\"} 3\n"),
            "{out}"
        );
        assert_eq!(l.left_out, [3]);
    }
}
