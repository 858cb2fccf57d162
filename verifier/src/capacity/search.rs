//! The capacity search, pure: what each step's figures say (sustainable or not, and why), which
//! rate to offer next, and which stage grew most when the pipeline broke.
//!
//! The search doubles the offered rate while steps are sustainable, then bisects between the
//! last good and the first bad rate until they are within the precision (5 %), the budget runs
//! out, or `MAX_RATE` is reached. A step that loses an event or applies one twice ends the
//! search: a capacity is meaningless when events are lost.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What one step measured, from its report and the backlog series seen while it ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct StepFigures {
    /// Events per second offered (the rate run's schedule).
    pub offered: f64,
    /// Events per second delivered (first t0 to last t5), when any was.
    pub delivered: Option<f64>,
    /// Every event of the step verified (on Kafka and in MongoDB).
    pub complete: bool,
    /// The last write to MongoDB after the step's schedule ended, s (`None`: nothing arrived).
    pub drained_s: Option<f64>,
    /// Objectives that failed over the step (end to end from `scheduled_at`).
    pub slo_failed: Vec<SloMiss>,
    /// An event lost or an effect applied twice (integrity failed).
    pub broken: bool,
    /// The backlog series that grew through the step (`slot_lag_bytes`, `processor_lag`,
    /// `oldest_unmatched_s`).
    pub growing: Vec<String>,
    /// The generator's own lag behind its schedule, p99, ms.
    pub generator_lag_p99_ms: Option<f64>,
    /// End to end, from `scheduled_at`: p50, p95, p99 (ms).
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Each stage's p50, ms, by name (for the bottleneck).
    pub stage_p50_ms: BTreeMap<String, f64>,
    /// The processor group's lag at the step's end, records.
    pub processor_lag_end: Option<i64>,
}

/// An objective a step missed: its name, the step's figure and the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SloMiss {
    /// `p50`, `p95`, `p99`, `success_rate`.
    pub name: String,
    /// The step's figure (ms, or a share for `success_rate`; `None`: not measured).
    pub actual: Option<f64>,
    /// The objective in words (`< 30 ms`).
    pub target: String,
}

impl SloMiss {
    fn describe(&self) -> String {
        let actual = match (self.name.as_str(), self.actual) {
            (_, None) => "not measured".to_owned(),
            ("success_rate", Some(v)) => format!("{:.2}%", v * 100.0),
            (_, Some(v)) if v >= 1000.0 => format!("{:.1} s", v / 1000.0),
            (_, Some(v)) => format!("{v:.0} ms"),
        };
        format!("SLO {} missed: {actual}, target {}", self.name, self.target)
    }
}

/// How a step came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum StepVerdict {
    /// Every event verified in time, the SLOs held, the backlog did not grow, integrity passed.
    Sustainable,
    /// At least one of those did not hold (the reasons say which).
    Unsustainable,
    /// An event was lost or applied twice: the search stops.
    Broken,
}

/// A step judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Judged {
    /// The verdict.
    pub verdict: StepVerdict,
    /// Why it is not sustainable, in words (empty when it is).
    pub reasons: Vec<String>,
    /// The generator fell behind its own schedule enough to set the tail: the limit may be
    /// the generator's ([`generator_bound`]).
    pub generator_bound: bool,
}

/// Generator lag p99 at or under which a step is never generator-bound, ms.
pub(crate) const GENERATOR_BOUND_MS: f64 = 10.0;

/// Whether the generator, not the pipeline, set a step's tail: its own lag behind the schedule
/// (p99) is over [`GENERATOR_BOUND_MS`] and at least half the end-to-end p99, which is
/// measured from the same schedule. A few milliseconds of jitter on a busy machine is not that.
pub(crate) fn generator_bound(f: &StepFigures) -> bool {
    match (f.generator_lag_p99_ms, f.p99_ms) {
        (Some(lag), Some(p99)) => lag > GENERATOR_BOUND_MS && lag >= p99 / 2.0,
        (Some(lag), None) => lag > GENERATOR_BOUND_MS,
        _ => false,
    }
}

/// The sustainable rule: (a) every event verified within `drain_s` of the step's end, (b) the
/// SLOs hold, (c) the backlog did not grow, (d) integrity passed.
pub(crate) fn judge(f: &StepFigures, drain_s: f64) -> Judged {
    let mut reasons = Vec::new();
    if !f.complete {
        reasons.push("not every event was verified".to_owned());
    } else if let Some(d) = f.drained_s.filter(|d| *d > drain_s) {
        reasons.push(format!(
            "the last event took {d:.1} s after the step to arrive (DRAIN_S {drain_s} s)"
        ));
    }
    reasons.extend(f.slo_failed.iter().map(SloMiss::describe));
    for g in &f.growing {
        reasons.push(format!("{g} grew through the step"));
    }
    let verdict = if f.broken {
        reasons.insert(0, "an event was lost or applied twice".to_owned());
        StepVerdict::Broken
    } else if reasons.is_empty() {
        StepVerdict::Sustainable
    } else {
        StepVerdict::Unsustainable
    };
    Judged {
        verdict,
        reasons,
        generator_bound: generator_bound(f),
    }
}

/// Whether a series grew through a step: the mean of its last third is above the mean of its
/// first third by more than `slack` and by more than half. Short series (under 3 samples) did
/// not grow.
pub(crate) fn growing(series: &[f64], slack: f64) -> bool {
    let third = series.len() / 3;
    if third == 0 {
        return false;
    }
    let mean = |s: &[f64]| s.iter().sum::<f64>() / s.len() as f64;
    let (first, last) = (
        mean(&series[..third]),
        mean(&series[series.len() - third..]),
    );
    last > first + slack && last > first * 1.5
}

/// Where the search is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Search {
    /// The first rate offered.
    pub start: u64,
    /// The highest rate it may offer.
    pub max: u64,
    /// Stop bisecting when the last good and the first bad rate are within this share (0.05).
    pub precision: f64,
    /// The highest sustainable rate so far.
    pub good: Option<u64>,
    /// The lowest unsustainable rate so far.
    pub bad: Option<u64>,
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Offer this rate for a step.
    Offer(u64),
    /// The search is over.
    Done(Ending),
}

/// Why the search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Ending {
    /// The last good and the first bad rate are within the precision.
    Converged,
    /// `MAX_RATE` was sustainable.
    ReachedMax,
    /// Even the first rate was not sustainable.
    NoneSustainable,
    /// The budget ran out first.
    Budget,
    /// An event was lost or applied twice.
    Broken,
    /// Stopped by a signal (Ctrl-C, SIGTERM) before it ended.
    Stopped,
}

impl Search {
    /// A search from `start` up to `max`.
    pub(crate) fn new(start: u64, max: u64, precision: f64) -> Self {
        Self {
            start: start.max(1),
            max: max.max(start.max(1)),
            precision,
            good: None,
            bad: None,
        }
    }

    /// Records how the step at `rate` came out.
    pub(crate) fn record(&mut self, rate: u64, sustainable: bool) {
        if sustainable {
            self.good = Some(self.good.map_or(rate, |g| g.max(rate)));
        } else {
            self.bad = Some(self.bad.map_or(rate, |b| b.min(rate)));
        }
    }

    /// The next rate: doubling while nothing failed, then bisecting.
    pub(crate) fn next(&self) -> Next {
        match (self.good, self.bad) {
            (None, None) => Next::Offer(self.start),
            (None, Some(_)) => Next::Done(Ending::NoneSustainable),
            (Some(g), None) if g >= self.max => Next::Done(Ending::ReachedMax),
            (Some(g), None) => Next::Offer((g * 2).min(self.max)),
            (Some(g), Some(b)) => {
                let mid = (g + b) / 2;
                if (b - g) as f64 <= self.precision * b as f64 || mid <= g {
                    Next::Done(Ending::Converged)
                } else {
                    Next::Offer(mid)
                }
            }
        }
    }
}

/// Growth in a stage's p50 below this, ms, or below [`NOISE_SHARE`] of its first value, is
/// noise, not growth.
const NOISE_MS: f64 = 1.0;
const NOISE_SHARE: f64 = 0.25;

/// The stages that grew most from the first step to `worst` (the first unsustainable one):
/// the largest growth in p50, and any other within half of it; growth within the noise
/// ([`NOISE_MS`], [`NOISE_SHARE`]) does not count. Names of stages, in pipeline order, without
/// end_to_end.
pub(crate) fn bottleneck(
    first: &BTreeMap<String, f64>,
    worst: &BTreeMap<String, f64>,
) -> Vec<String> {
    const ORDER: [&str; 5] = ["commit", "capture", "publish", "queue", "process"];
    let growth: Vec<(&str, f64)> = ORDER
        .iter()
        .filter_map(|s| {
            let before = first.get(*s).copied().unwrap_or(0.0);
            let grew = worst.get(*s)? - before;
            (grew > NOISE_MS && grew > NOISE_SHARE * before).then_some((*s, grew))
        })
        .collect();
    let top = growth.iter().map(|(_, g)| *g).fold(0.0_f64, f64::max);
    if top <= 0.0 {
        return Vec::new();
    }
    growth
        .into_iter()
        .filter(|(_, g)| *g >= top / 2.0)
        .map(|(s, _)| s.to_owned())
        .collect()
}

/// What stands behind each stage, for the answer's bottleneck.
pub(crate) fn component(stage: &str) -> &'static str {
    match stage {
        "commit" => "PostgreSQL",
        "capture" => "Debezium",
        "publish" => "Kafka Connect's producer and the broker",
        "queue" => "records waiting for the consumer",
        "process" => "the consumer and the store",
        _ => "?",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_step(offered: f64) -> StepFigures {
        StepFigures {
            offered,
            delivered: Some(offered),
            complete: true,
            drained_s: Some(0.2),
            ..StepFigures::default()
        }
    }

    #[test]
    fn the_sustainable_rule() {
        assert_eq!(
            judge(&ok_step(100.0), 5.0).verdict,
            StepVerdict::Sustainable
        );
        let late = StepFigures {
            drained_s: Some(7.5),
            ..ok_step(100.0)
        };
        let j = judge(&late, 5.0);
        assert_eq!(j.verdict, StepVerdict::Unsustainable);
        assert!(j.reasons[0].contains("7.5 s"), "{:?}", j.reasons);
        let slow = StepFigures {
            slo_failed: vec![SloMiss {
                name: "p99".into(),
                actual: Some(1_940.0),
                target: "< 200 ms".into(),
            }],
            growing: vec!["processor_lag".into()],
            generator_lag_p99_ms: Some(1_200.0),
            p99_ms: Some(1_940.0),
            ..ok_step(100.0)
        };
        let j = judge(&slow, 5.0);
        assert_eq!(
            j.reasons,
            [
                "SLO p99 missed: 1.9 s, target < 200 ms",
                "processor_lag grew through the step"
            ]
        );
        assert!(j.generator_bound, "the generator's lag is most of the tail");
        let jitter = StepFigures {
            generator_lag_p99_ms: Some(29.0),
            p99_ms: Some(69.0),
            ..ok_step(800.0)
        };
        assert!(!judge(&jitter, 5.0).generator_bound, "under half the tail");
        let lost = StepFigures {
            broken: true,
            complete: false,
            ..ok_step(100.0)
        };
        assert_eq!(judge(&lost, 5.0).verdict, StepVerdict::Broken);
    }

    #[test]
    fn a_backlog_grows_only_beyond_its_slack() {
        assert!(!growing(&[0.0, 10.0], 100.0), "too short to say");
        assert!(
            !growing(&[40.0, 60.0, 50.0, 45.0, 55.0, 50.0], 100.0),
            "steady"
        );
        assert!(growing(&[10.0, 20.0, 300.0, 600.0, 900.0, 1200.0], 100.0));
        assert!(
            !growing(&[10.0, 20.0, 30.0, 40.0, 50.0, 60.0], 100.0),
            "within the slack"
        );
        assert!(
            !growing(&[1000.0, 1000.0, 1150.0, 1200.0, 1150.0, 1200.0], 100.0),
            "under 1.5x"
        );
    }

    #[test]
    fn the_search_doubles_then_bisects_to_five_percent() {
        let mut s = Search::new(100, 10_000, 0.05);
        let mut offered = Vec::new();
        // the pipeline sustains up to 1,450/s
        while let Next::Offer(r) = s.next() {
            offered.push(r);
            s.record(r, r <= 1_450);
        }
        assert_eq!(offered[..5], [100, 200, 400, 800, 1_600]);
        assert_eq!(s.next(), Next::Done(Ending::Converged));
        let (g, b) = (s.good.unwrap(), s.bad.unwrap());
        assert!(
            g <= 1_450 && b > 1_450 && (b - g) as f64 <= 0.05 * b as f64,
            "{g} {b}"
        );
    }

    #[test]
    fn the_search_ends_at_the_first_failure_or_the_max() {
        let mut s = Search::new(100, 300, 0.05);
        s.record(100, false);
        assert_eq!(s.next(), Next::Done(Ending::NoneSustainable));
        let mut s = Search::new(100, 300, 0.05);
        let mut offered = Vec::new();
        while let Next::Offer(r) = s.next() {
            offered.push(r);
            s.record(r, true);
        }
        assert_eq!(offered, [100, 200, 300]);
        assert_eq!(s.next(), Next::Done(Ending::ReachedMax));
    }

    #[test]
    fn the_bottleneck_is_the_stage_that_grew_most() {
        let first: BTreeMap<String, f64> = [
            ("commit", 0.1),
            ("capture", 0.8),
            ("publish", 3.0),
            ("queue", 5.0),
            ("process", 7.0),
        ]
        .map(|(s, v)| (s.to_owned(), v))
        .into();
        let worst: BTreeMap<String, f64> = [
            ("commit", 0.1),
            ("capture", 0.9),
            ("publish", 3.5),
            ("queue", 900.0),
            ("process", 600.0),
        ]
        .map(|(s, v)| (s.to_owned(), v))
        .into();
        assert_eq!(bottleneck(&first, &worst), ["queue", "process"]);
        assert!(bottleneck(&first, &first).is_empty());
        let noise: BTreeMap<String, f64> = [
            ("capture", 1.5), // +0.7 ms: under 1 ms
            ("publish", 3.9), // +0.9 ms
            ("process", 8.5), // +1.5 ms, but under a quarter of 7 ms
        ]
        .map(|(s, v)| (s.to_owned(), v))
        .into();
        assert!(bottleneck(&first, &noise).is_empty(), "noise is not growth");
        assert_eq!(component("queue"), "records waiting for the consumer");
    }
}
