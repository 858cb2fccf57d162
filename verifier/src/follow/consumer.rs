//! The consumer group as the follow loop sees it each second: whether it moved toward the run
//! (then following is not idle), and how fast it moves (for a report of an incomplete run).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use crate::model::fate::moved_toward;
use crate::report::ConsumerProgress;
use crate::sources::GroupState;

/// Over how long the consumer's rate is measured.
pub(super) const WINDOW: Duration = Duration::from_secs(10);

/// The last committed offsets seen, and a window of committed totals.
#[derive(Debug, Default)]
pub(crate) struct ConsumerWatch {
    committed: BTreeMap<i32, i64>,
    totals: VecDeque<(Instant, i64)>,
}

impl ConsumerWatch {
    /// Takes the group's state now; returns whether it moved toward the run (whose last records
    /// sit at `run_last`).
    pub(crate) fn observe(&mut self, g: &GroupState, run_last: &BTreeMap<i32, i64>) -> bool {
        let moved = moved_toward(&self.committed, &g.committed, run_last);
        self.committed.clone_from(&g.committed);
        let now = Instant::now();
        self.totals.push_back((now, g.committed.values().sum()));
        while self
            .totals
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
        {
            self.totals.pop_front();
        }
        moved
    }

    /// How far behind the group is (`g`: its latest state) and how fast it moved lately.
    pub(crate) fn progress(&self, g: Option<&GroupState>) -> Option<ConsumerProgress> {
        let lag = g?.lag()?;
        let rate = match (self.totals.front(), self.totals.back()) {
            (Some((t0, a)), Some((t1, b))) if t1 > t0 => {
                Some((b - a) as f64 / t1.duration_since(*t0).as_secs_f64())
            }
            _ => None,
        };
        Some(ConsumerProgress {
            lag,
            records_per_s: rate,
        })
    }
}
