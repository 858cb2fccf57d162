//! One run in a line, as the daemon's list of runs and `/api/runs` show it, live or finished
//! (pure).

use events::stages::Stage;
use serde::{Deserialize, Serialize};

use super::view::Snapshot;
use crate::model::manifest::RunInfo;
use crate::model::measure::StageSummary;
use crate::report::Report;

/// A run as the list shows it. Counts of what is not known yet (a live run's lost and
/// pending) are `None`, never 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The run.
    pub run_id: i64,
    /// `bulk` or `rate`.
    pub mode: String,
    /// A rate run's offered rate, events/s.
    pub rate: Option<f64>,
    /// When the run started, µs since the epoch.
    pub started_us: i64,
    /// `following` while the daemon follows it, then the verdict: `pass`, `fail`, `incomplete`.
    pub state: String,
    /// Events the run must deliver (its `n` while it writes, then what it wrote).
    pub expected: u64,
    /// Distinct events seen on Kafka.
    pub on_kafka: u64,
    /// Distinct events receipted in MongoDB.
    pub in_mongodb: u64,
    /// Events on Kafka and receipted: verified.
    pub matched: u64,
    /// Missing events still on their way when following stopped (finished runs only).
    pub pending: Option<u64>,
    /// Missing events proven lost (finished runs only).
    pub lost: Option<u64>,
    /// Events applied twice, found by the state audit (finished runs only).
    pub applied_twice: Option<u64>,
    /// Extra copies seen on Kafka (at-least-once delivery; not a failure).
    pub kafka_duplicates: u64,
    /// End to end median, ms (`None`: no sample).
    pub e2e_p50_ms: Option<f64>,
    /// End to end 99th percentile, ms (`None`: no sample).
    pub e2e_p99_ms: Option<f64>,
}

/// The row's state while the daemon follows the run.
pub(crate) const FOLLOWING: &str = "following";

fn end_to_end(stages: &[StageSummary]) -> (Option<f64>, Option<f64>) {
    stages
        .iter()
        .find(|s| s.name == Stage::EndToEnd.as_str())
        .map_or((None, None), |s| (s.p50_ms, s.p99_ms))
}

fn mode(run: &RunInfo) -> String {
    run.mode.as_str().to_owned()
}

impl Row {
    /// A finished run, from its report.
    pub(crate) fn of_report(r: &Report) -> Self {
        let (p50, p99) = end_to_end(&r.stages);
        Self {
            run_id: r.run.run_id,
            mode: mode(&r.run),
            rate: r.run.rate,
            started_us: r.run.started_us,
            state: r.verdict.as_str().to_owned(),
            expected: r.counts.expected,
            on_kafka: r.counts.kafka,
            in_mongodb: r.counts.receipts,
            matched: r.counts.matched,
            pending: Some(r.integrity.pending),
            lost: Some(r.integrity.lost),
            applied_twice: Some(r.integrity.applied_twice),
            kafka_duplicates: r.counts.kafka_duplicates,
            e2e_p50_ms: p50,
            e2e_p99_ms: p99,
        }
    }

    /// A run being followed, from its latest snapshot.
    pub(crate) fn of_snapshot(s: &Snapshot) -> Self {
        let (p50, p99) = end_to_end(&s.stages);
        Self {
            run_id: s.run.run_id,
            mode: mode(&s.run),
            rate: s.run.rate,
            started_us: s.run.started_us,
            state: FOLLOWING.to_owned(),
            expected: s.expected,
            on_kafka: s.on_kafka,
            in_mongodb: s.receipts,
            matched: s.matched,
            pending: None,
            lost: None,
            applied_twice: None,
            kafka_duplicates: s.kafka_duplicates,
            e2e_p50_ms: p50,
            e2e_p99_ms: p99,
        }
    }
}

/// A row for the daemon's tests: `matched` of `matched + lost` verified.
#[cfg(test)]
pub(crate) fn row(id: i64, state: &str, matched: u64, lost: Option<u64>) -> Row {
    Row {
        run_id: id,
        mode: "bulk".into(),
        rate: None,
        started_us: id * 1_000_000,
        state: state.into(),
        expected: matched + lost.unwrap_or(0),
        on_kafka: matched,
        in_mongodb: matched,
        matched,
        pending: lost.map(|_| 0),
        lost,
        applied_twice: lost.map(|_| 1),
        kafka_duplicates: 2,
        e2e_p50_ms: Some(10.0),
        e2e_p99_ms: Some(20.0),
    }
}
