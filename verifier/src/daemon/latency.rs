//! The per-stage latency histograms `/metrics` exports: every finished run's buckets
//! ([`crate::model::buckets`]) added up, and the runs being followed added to them as they go (pure).

use events::stages::PerStage;
use telemetry::prom;

pub(crate) use crate::model::buckets::{bounds, count, StageBuckets};

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

    /// The `verifier_stage_latency_seconds` family: the finished runs, and `live` (each run
    /// being followed, counted so far) added. A live run counted with other bounds is left out.
    /// When a run finishes, its final counts (never fewer) take the place of its live ones, so
    /// the counters only grow; a follow that fails and starts again counts from zero, which
    /// Prometheus reads as a counter reset.
    pub(crate) fn write<'a>(
        &self,
        out: &mut String,
        live: impl IntoIterator<Item = &'a [StageBuckets]>,
    ) {
        const NAME: &str = "verifier_stage_latency_seconds";
        let mut stages = self.stages.clone();
        for run in live {
            if run.iter().all(|b| b.le_s == self.bounds_s) {
                for b in run {
                    stages[b.stage].add(&b.counts, b.sum_s);
                }
            }
        }
        prom::header(
            out,
            NAME,
            "histogram",
            "Latency per stage of every event verified (finished runs, and the runs being followed so far), with a bucket boundary at each SLO threshold.",
        );
        for (stage, h) in stages.iter() {
            h.write(out, NAME, &[("stage", stage.as_str())]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::buckets::tests::histograms;
    use crate::model::slo::Slo;

    #[test]
    fn runs_add_up_and_a_run_with_other_bounds_is_left_out() {
        let bounds = bounds(&Slo::default());
        let mut l = Latency::new(bounds.clone());
        l.add(1, &count(histograms(&[5, 20]).iter(), &bounds));
        l.add(2, &count(histograms(&[300]).iter(), &bounds));
        l.add(3, &count(histograms(&[1]).iter(), &[0.01]));
        let mut out = String::new();
        l.write(&mut out, []);
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
