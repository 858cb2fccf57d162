//! The daemon's book of runs (pure): one [`Row`] per run, live or finished, as the runs list
//! and `/api/runs` show it; the totals `/metrics` exports; and which runs are still to follow.

pub(crate) use crate::live::row::Row;

use std::collections::{BTreeMap, BTreeSet};

use super::latency::{Latency, StageBuckets};

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

/// A book of `rows` from `first_run`, for the daemon's tests (no latencies).
#[cfg(test)]
pub(crate) fn book(first_run: i64, rows: impl IntoIterator<Item = Row>) -> Book {
    let rows = rows.into_iter().map(|r| (r, Vec::new()));
    Book::new(first_run, rows, vec![0.1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::row::{row, FOLLOWING};

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
