//! Stage latencies as HdrHistograms: fixed size whatever the run's length, every sample counted.
//!
//! A duration comes from [`events::stages::judge`]: measured (recorded), below the Kafka
//! timestamp's resolution (recorded as 0 and counted), or negative (clock skew: counted with the
//! largest magnitude seen, not put into the histogram, never dropped). `count + skewed` is the
//! number of samples the stage received.

use events::stages::{judge, latency_histogram, PerStage, Sample, Stage};
use events::EventType;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

pub(crate) use events::stages::MAX_US;

/// One stage's samples: all events, and per event type.
#[derive(Debug, Clone)]
pub struct StageHist {
    /// Every measured sample.
    pub all: Histogram<u64>,
    /// Per event type (index: [`EventType::index`]).
    pub by_type: [Histogram<u64>; 3],
    /// Samples since the interval log last took them (for `.hlog` files).
    pub interval: Histogram<u64>,
    /// Negative durations (clock skew), not in the histograms.
    pub skewed: u64,
    /// The most negative duration seen, µs (0 when none).
    pub skew_min_us: i64,
    /// Publish durations within Kafka's millisecond resolution, recorded as 0.
    pub below_resolution: u64,
    /// Samples larger than [`MAX_US`], recorded at it.
    pub over_range: u64,
    /// Events for which this stage could not be measured (a record without a Kafka timestamp).
    pub unmeasured: u64,
}

impl Default for StageHist {
    fn default() -> Self {
        Self {
            all: latency_histogram(),
            by_type: [
                latency_histogram(),
                latency_histogram(),
                latency_histogram(),
            ],
            interval: latency_histogram(),
            skewed: 0,
            skew_min_us: 0,
            below_resolution: 0,
            over_range: 0,
            unmeasured: 0,
        }
    }
}

impl StageHist {
    /// Records one sample of `stage` for an event of type `t`. `None`: the stage could not be
    /// measured for this event.
    pub fn record(&mut self, stage: Stage, t: EventType, d: Option<i64>) {
        let Some(d) = d else {
            self.unmeasured += 1;
            return;
        };
        let v = match judge(stage, d) {
            Sample::Measured(v) => v as u64,
            Sample::BelowResolution => {
                self.below_resolution += 1;
                0
            }
            Sample::Skewed(v) => {
                self.skewed += 1;
                self.skew_min_us = self.skew_min_us.min(v);
                return;
            }
        };
        if v > MAX_US {
            self.over_range += 1;
        }
        for h in [
            &mut self.all,
            &mut self.by_type[t.index()],
            &mut self.interval,
        ] {
            h.saturating_record(v);
        }
    }

    /// Summary of all events under `name`, with percentile curves (`full`) or without (live
    /// views).
    pub fn summary(&self, name: &str, full: bool) -> StageSummary {
        let mut s = StageSummary::of(name, &self.all, full);
        s.skewed = self.skewed;
        s.skew_min_ms = self.skew_min_us as f64 / 1000.0;
        s.below_resolution = self.below_resolution;
        s.over_range = self.over_range;
        s.unmeasured = self.unmeasured;
        s.by_type = EventType::ALL
            .iter()
            .map(|t| StageSummary::of(t.as_str(), &self.by_type[t.index()], full))
            .filter(|s| s.count > 0)
            .collect();
        s
    }
}

/// Percentiles of one histogram in milliseconds, as reports and the dashboard show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageSummary {
    /// Stage name, or event type in `by_type`.
    pub name: String,
    /// Samples in the histogram.
    pub count: u64,
    /// Median, ms (`None`: no sample, never shown as 0).
    pub p50_ms: Option<f64>,
    /// 90th percentile, ms (`None`: no sample, never shown as 0).
    pub p90_ms: Option<f64>,
    /// 95th percentile, ms (`None`: no sample, never shown as 0).
    pub p95_ms: Option<f64>,
    /// 99th percentile, ms (`None`: no sample, never shown as 0).
    pub p99_ms: Option<f64>,
    /// 99.9th percentile, ms (`None`: no sample, never shown as 0).
    pub p999_ms: Option<f64>,
    /// Largest sample, ms (`None`: no sample, never shown as 0).
    pub max_ms: Option<f64>,
    /// Mean, ms (`None`: no sample, never shown as 0).
    pub mean_ms: Option<f64>,
    /// Negative durations (clock skew), counted beside the histogram.
    #[serde(default)]
    pub skewed: u64,
    /// The most negative duration, ms (0 when none).
    #[serde(default)]
    pub skew_min_ms: f64,
    /// Publish samples within Kafka's ms resolution, recorded as 0.
    #[serde(default)]
    pub below_resolution: u64,
    /// Samples above one hour, recorded at one hour.
    #[serde(default)]
    pub over_range: u64,
    /// Events whose stage could not be measured (no Kafka timestamp).
    #[serde(default)]
    pub unmeasured: u64,
    /// Per event type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub by_type: Vec<StageSummary>,
    /// The percentile curve: `[percentile, ms]` at [`CURVE`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub curve: Vec<[f64; 2]>,
}

/// Percentiles of the curve in reports.
pub(crate) const CURVE: [f64; 14] = [
    0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.999, 100.0,
];

impl StageSummary {
    /// Percentiles of `h` (µs) in ms; with the percentile curve when `curve`.
    /// Without samples, every figure is `None`: a stage nobody measured is not a 0 ms stage.
    pub fn of(name: &str, h: &Histogram<u64>, curve: bool) -> Self {
        let measured = !h.is_empty();
        let q = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let some = |v: f64| measured.then_some(v);
        Self {
            name: name.to_owned(),
            count: h.len(),
            p50_ms: some(q(0.50)),
            p90_ms: some(q(0.90)),
            p95_ms: some(q(0.95)),
            p99_ms: some(q(0.99)),
            p999_ms: some(q(0.999)),
            max_ms: some(h.max() as f64 / 1000.0),
            mean_ms: some(h.mean() / 1000.0),
            curve: if h.is_empty() || !curve {
                Vec::new()
            } else {
                CURVE.iter().map(|p| [*p, q(p / 100.0)]).collect()
            },
            ..Self::default()
        }
    }
}

/// Events per second over the run, counted by the second each event reached a point.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Epoch second of index 0.
    pub origin_s: i64,
    /// Count per second.
    pub per_second: Vec<u64>,
    /// Events before `origin_s` (clock skew against the run's start), counted here.
    pub before_origin: u64,
}

/// Longest timeline kept: one day of seconds; later events are added to the last second.
const TIMELINE_MAX_S: usize = 86_400;

impl Timeline {
    /// A timeline starting at epoch second `origin_s`.
    pub fn new(origin_s: i64) -> Self {
        Self {
            origin_s,
            per_second: Vec::new(),
            before_origin: 0,
        }
    }

    /// Counts one event at `t_us`.
    pub fn add(&mut self, t_us: i64) {
        let s = t_us.div_euclid(1_000_000) - self.origin_s;
        if s < 0 {
            self.before_origin += 1;
            return;
        }
        let i = (s as usize).min(TIMELINE_MAX_S - 1);
        if self.per_second.len() <= i {
            self.per_second.resize(i + 1, 0);
        }
        self.per_second[i] += 1;
    }
}

/// Every stage's histograms plus the generator's lag (`t0 - t_sched`, rate mode).
#[derive(Debug, Clone, Default)]
pub struct Measurements {
    /// Per stage.
    pub stages: PerStage<StageHist>,
    /// `t0 - t_sched`: how late the generator wrote each event (rate mode only).
    pub generator_lag: StageHist,
}

impl Measurements {
    /// Summaries of every stage, in pipeline order (`full`: with percentile curves).
    pub fn summaries(&self, full: bool) -> Vec<StageSummary> {
        self.stages
            .iter()
            .map(|(stage, h)| h.summary(stage.as_str(), full))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_counted_somewhere() {
        let mut h = StageHist::default();
        let t = EventType::UserCreated;
        for d in [5_000, 7_000, -20, 0] {
            h.record(Stage::Capture, t, Some(d));
        }
        h.record(Stage::Publish, t, Some(-400)); // resolution
        h.record(Stage::Publish, t, None); // no Kafka timestamp
        h.record(Stage::Capture, t, Some(MAX_US as i64 + 5));
        assert_eq!(h.all.len(), 5);
        assert_eq!(h.skewed, 1);
        assert_eq!(h.skew_min_us, -20);
        assert_eq!(h.below_resolution, 1);
        assert_eq!(h.unmeasured, 1);
        assert_eq!(h.over_range, 1);
        let s = h.summary("capture", true);
        assert_eq!(s.count, 5);
        assert_eq!(s.by_type.len(), 1);
        assert_eq!(s.by_type[0].name, "UserCreated");
        assert!((s.skew_min_ms + 0.02).abs() < 1e-9);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = StageHist::default();
        for ms in 1..=100 {
            h.record(Stage::Queue, EventType::ActivityCreated, Some(ms * 1000));
        }
        let s = h.summary("queue", true);
        let (p50, p99, max) = (s.p50_ms.unwrap(), s.p99_ms.unwrap(), s.max_ms.unwrap());
        assert!((p50 - 50.0).abs() < 0.1, "{p50}");
        assert!((p99 - 99.0).abs() < 0.1, "{p99}");
        assert!((max - 100.0).abs() < 0.1, "{max}");
        let empty = StageHist::default().summary("queue", true);
        assert_eq!(
            (empty.count, empty.p50_ms, empty.max_ms, empty.mean_ms),
            (0, None, None, None)
        );
        assert!(empty.curve.is_empty());
        let json = serde_json::to_value(&empty).unwrap();
        assert!(
            json["p50_ms"].is_null() && json["max_ms"].is_null(),
            "{json}"
        );
    }

    #[test]
    fn timeline_counts_by_second_and_keeps_early_events() {
        let mut t = Timeline::new(100);
        t.add(100_000_001);
        t.add(100_999_999);
        t.add(102_500_000);
        t.add(99_000_000);
        assert_eq!(t.per_second, vec![2, 0, 1]);
        assert_eq!(t.before_origin, 1);
    }
}
