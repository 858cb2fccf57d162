//! The daemon's book of runs (pure): one [`Row`] per run, live or finished, as the runs list
//! and `/api/runs` show it; the totals `/metrics` exports; and which runs are still to follow.

use std::collections::{BTreeMap, BTreeSet};

use events::stages::Stage;
use serde::{Deserialize, Serialize};

use super::latency::{Latency, StageBuckets};
use crate::manifest::RunInfo;
use crate::measure::StageSummary;
use crate::report::Report;
use crate::view::Snapshot;

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

/// The finished runs, and where following began.
#[derive(Debug, Clone)]
pub(crate) struct Book {
    /// The first run this daemon follows; older runs are not its business.
    pub first_run: i64,
    /// Finished runs by id.
    pub done: BTreeMap<i64, Row>,
    /// Their latencies per stage, added up.
    pub latency: Latency,
    /// When an event of a run followed since the start was last verified, µs since the epoch.
    pub last_verified_us: Option<i64>,
}

/// What `/metrics` exports over every finished run.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Totals {
    /// Events verified (on Kafka and receipted).
    pub verified: u64,
    /// Events proven lost.
    pub lost: u64,
    /// Events applied twice.
    pub applied_twice: u64,
    /// Extra copies on Kafka.
    pub kafka_duplicates: u64,
    /// Finished runs by verdict (`pass`, `fail`, `incomplete`).
    pub runs: BTreeMap<String, u64>,
}

impl Book {
    /// A book beginning at `first_run`, with the runs already finished and their latencies,
    /// counted into buckets with `bounds_s`.
    pub(crate) fn new(
        first_run: i64,
        done: impl IntoIterator<Item = (Row, Vec<StageBuckets>)>,
        bounds_s: Vec<f64>,
    ) -> Self {
        let mut book = Self {
            first_run,
            done: BTreeMap::new(),
            latency: Latency::new(bounds_s),
            last_verified_us: None,
        };
        for (row, buckets) in done {
            book.finished(row, &buckets);
        }
        book
    }

    /// Run `row.run_id` finished.
    pub(crate) fn finished(&mut self, row: Row, buckets: &[StageBuckets]) {
        self.latency.add(row.run_id, buckets);
        self.done.insert(row.run_id, row);
    }

    /// The runs of `manifest` to start following: from `first_run` on, neither finished nor
    /// already followed (`following`), nor `resting` (a follow that failed, tried again later).
    pub(crate) fn to_follow(
        &self,
        manifest: &[i64],
        following: &BTreeSet<i64>,
        resting: &BTreeSet<i64>,
    ) -> Vec<i64> {
        manifest
            .iter()
            .copied()
            .filter(|id| *id >= self.first_run)
            .filter(|id| !self.done.contains_key(id) && !following.contains(id))
            .filter(|id| !resting.contains(id))
            .collect()
    }

    /// Every finished run's counts added up.
    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for r in self.done.values() {
            t.verified += r.matched;
            t.lost += r.lost.unwrap_or(0);
            t.applied_twice += r.applied_twice.unwrap_or(0);
            t.kafka_duplicates += r.kafka_duplicates;
            *t.runs.entry(r.state.clone()).or_default() += 1;
        }
        t
    }

    /// The finished rows and `live`, newest first (a live row replaces nothing: a run is
    /// either followed or finished).
    pub(crate) fn rows(&self, live: impl IntoIterator<Item = Row>) -> Vec<Row> {
        let mut all: BTreeMap<i64, Row> = self.done.clone();
        for r in live {
            all.entry(r.run_id).or_insert(r);
        }
        all.into_values().rev().collect()
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

/// A book of `rows` from `first_run`, for the daemon's tests (no latencies).
#[cfg(test)]
pub(crate) fn book(first_run: i64, rows: impl IntoIterator<Item = Row>) -> Book {
    let rows = rows.into_iter().map(|r| (r, Vec::new()));
    Book::new(first_run, rows, vec![0.1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_runs_from_the_first_that_are_neither_done_nor_followed_are_started() {
        let book = book(5, [row(5, "pass", 10, Some(0))]);
        let following = BTreeSet::from([7]);
        let resting = BTreeSet::from([8]);
        assert_eq!(
            book.to_follow(&[3, 4, 5, 6, 7, 8, 9], &following, &resting),
            vec![6, 9]
        );
    }

    #[test]
    fn totals_add_finished_runs_and_count_them_by_verdict() {
        let book = book(
            1,
            [
                row(1, "pass", 100, Some(0)),
                row(2, "fail", 90, Some(10)),
                row(3, "pass", 5, Some(0)),
            ],
        );
        let t = book.totals();
        assert_eq!((t.verified, t.lost, t.applied_twice), (195, 10, 3));
        assert_eq!(t.kafka_duplicates, 6);
        assert_eq!(t.runs.get("pass"), Some(&2));
        assert_eq!(t.runs.get("fail"), Some(&1));
    }

    #[test]
    fn rows_are_newest_first_and_a_finished_run_is_not_shown_twice() {
        let book = book(1, [row(1, "pass", 1, Some(0)), row(3, "fail", 1, Some(1))]);
        let live = [row(4, FOLLOWING, 1, None), row(3, FOLLOWING, 1, None)];
        let rows = book.rows(live);
        let ids: Vec<_> = rows.iter().map(|r| (r.run_id, r.state.as_str())).collect();
        assert_eq!(ids, vec![(4, FOLLOWING), (3, "fail"), (1, "pass")]);
    }
}
