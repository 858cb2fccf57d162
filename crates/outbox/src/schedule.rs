//! Rate mode's open-loop schedule (`CALL demo_run(n, rate, txn_size)`) and the generator lag it
//! measures.
//!
//! Event k (1-based) is due at `start + (k − 1) / rate`, whether or not the database keeps up; a
//! transaction of `txn_size` events is written when its last event is due. The lag of an event
//! is its insert time minus its due time; events inserted more than 10 ms late are counted.

use std::ops::RangeInclusive;

use hdrhistogram::Histogram;

/// Lag above this counts in [`Lag::over_10ms`], µs.
pub const LATE_US: u64 = 10_000;

/// The schedule of one rate run.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    start_us: i64,
    interval_us: f64,
    txn_size: u64,
    n: u64,
}

impl Schedule {
    /// `n` events at `rate` per second from `start_us` (µs since the epoch), `txn_size` per
    /// transaction. `rate` and `txn_size` are checked ones ([`crate::args`]).
    pub fn new(start_us: i64, rate: f64, txn_size: u64, n: u64) -> Self {
        Self {
            start_us,
            interval_us: 1_000_000.0 / rate,
            txn_size: txn_size.max(1),
            n,
        }
    }

    /// When event `seq` (1-based) is due, µs since the epoch.
    pub fn due_us(&self, seq: u64) -> i64 {
        self.start_us + ((seq.max(1) - 1) as f64 * self.interval_us).floor() as i64
    }

    /// The events of the transaction that starts at `next`, or `None` when the run is written.
    pub fn transaction(&self, next: u64) -> Option<RangeInclusive<u64>> {
        (next >= 1 && next <= self.n).then(|| next..=(next + self.txn_size - 1).min(self.n))
    }

    /// How many events the run has.
    pub fn n(&self) -> u64 {
        self.n
    }
}

/// Generator lag of a rate run, µs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Lag {
    /// 50th percentile.
    pub p50: i64,
    /// 90th percentile.
    pub p90: i64,
    /// 99th percentile.
    pub p99: i64,
    /// Largest.
    pub max: i64,
    /// Events inserted more than 10 ms after they were due.
    pub over_10ms: i64,
}

/// Every event's lag, recorded as it is inserted.
#[derive(Debug, Clone)]
pub struct LagRecorder {
    lag: Histogram<u64>,
    over_10ms: i64,
}

impl Default for LagRecorder {
    fn default() -> Self {
        Self {
            lag: events::stages::latency_histogram(),
            over_10ms: 0,
        }
    }
}

impl LagRecorder {
    /// Records an event due at `due_us` and inserted at `inserted_us`. An event inserted before
    /// it was due (a clock step) counts as 1 µs late, so every event is in the histogram.
    pub fn record(&mut self, due_us: i64, inserted_us: i64) {
        let lag = (inserted_us - due_us).max(0) as u64;
        self.lag.saturating_record(lag.max(1));
        if lag > LATE_US {
            self.over_10ms += 1;
        }
    }

    /// How many events were recorded.
    pub fn count(&self) -> u64 {
        self.lag.len()
    }

    /// The percentiles so far.
    pub fn summary(&self) -> Lag {
        let q = |q: f64| self.lag.value_at_quantile(q) as i64;
        Lag {
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: self.lag.max() as i64,
            over_10ms: self.over_10ms,
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn event_k_is_due_k_minus_one_intervals_after_the_start() {
        let s = Schedule::new(1_000_000, 3.0, 1, 10);
        assert_eq!(s.due_us(1), 1_000_000);
        assert_eq!(s.due_us(2), 1_333_333);
        assert_eq!(s.due_us(4), 2_000_000);
        assert_eq!(s.due_us(10), 4_000_000);
    }

    #[test]
    fn transactions_cover_every_event_once_and_stop_at_n() {
        let s = Schedule::new(0, 100.0, 4, 10);
        let mut next = 1;
        let mut seen = Vec::new();
        while let Some(t) = s.transaction(next) {
            next = t.end() + 1;
            seen.push(t);
        }
        assert_eq!(seen, vec![1..=4, 5..=8, 9..=10]);
        assert_eq!(s.transaction(11), None);
        assert_eq!(s.transaction(0), None);
    }

    #[test]
    fn lag_counts_late_events_and_keeps_early_ones() {
        let mut r = LagRecorder::default();
        r.record(1_000, 1_500); // 500 µs
        r.record(1_000, 900); // inserted before due: 1 µs, still counted
        r.record(1_000, 1_000 + 10_000); // exactly 10 ms: not over
        r.record(1_000, 1_000 + 25_000); // 25 ms late
        assert_eq!(r.count(), 4);
        let lag = r.summary();
        assert_eq!(lag.over_10ms, 1);
        assert!((24_900..=25_100).contains(&lag.max), "{lag:?}");
        assert!(lag.p50 >= 1 && lag.p50 <= 510, "{lag:?}");
    }

    #[test]
    fn an_empty_run_has_zero_lag() {
        assert_eq!(LagRecorder::default().summary(), Lag::default());
    }
}
