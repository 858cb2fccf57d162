//! Which pending events one observe read looks for (pure).
//!
//! A consumer applies each partition's records in offset order, so the effect of a partition's
//! later events is not to be expected before that of its first pending one. Each read looks at
//! the first few pending events of each partition (a window that doubles while the consumer
//! keeps ahead of it and halves while it finds nothing), not at the oldest thousand of the run:
//! a consumer far behind costs a few reads per partition, not a thousand per poll.
//!
//! An event still missing when a later one of its partition was found has been passed over
//! (lost, or applied out of order): it is looked for again [`PASSED_CHECK`] at a time, round
//! the list, so events that never arrive cost a bounded share of each read and never hide the
//! ones behind them. Events the verifier's own Kafka read has not placed yet (no partition
//! known) are looked for oldest first, [`UNPLACED_CHECK`] at a time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::sources::postgres::Watched;

/// Events not yet placed on Kafka looked for per read, oldest first.
pub(crate) const UNPLACED_CHECK: usize = 200;
/// Passed-over events looked for again per read.
pub(crate) const PASSED_CHECK: usize = 100;
/// A partition's window: where it starts, and its bounds.
const WINDOW_START: usize = 32;
const WINDOW_MIN: usize = 8;
const WINDOW_MAX: usize = 1_000;

/// An event being looked for, and when a read last did not find it.
#[derive(Debug)]
struct Pending {
    event: Watched,
    /// µs: the start of the last read that did not find its effect (or `created_at`).
    known_absent_at: i64,
    /// Its partition and offset on Kafka, once the verifier's read saw it.
    at: Option<(i32, i64)>,
}

/// One partition's pending events in offset order, and how many of them a read looks at.
#[derive(Debug)]
struct Lane {
    queue: BTreeMap<i64, i64>,
    window: usize,
}

impl Default for Lane {
    fn default() -> Self {
        Self {
            queue: BTreeMap::new(),
            window: WINDOW_START,
        }
    }
}

/// An event found by a read: the event, and the window its write is known to lie in (µs).
#[derive(Debug)]
pub(crate) struct Found {
    pub event: Watched,
    pub resolution_us: i64,
}

/// The pending events of one run, placed on their partitions as the Kafka read sees them.
#[derive(Debug, Default)]
pub(crate) struct Watchlist {
    pending: BTreeMap<i64, Pending>,
    unplaced: BTreeSet<i64>,
    lanes: BTreeMap<i32, Lane>,
    passed: BTreeSet<i64>,
    /// Where the next round of passed-over events starts.
    passed_cursor: i64,
    /// Placements of events not read from the outbox yet.
    early: HashMap<i64, (i32, i64)>,
    /// Every seq below this one has been read from the outbox.
    read_below: i64,
}

impl Watchlist {
    /// Nothing pending.
    pub(crate) fn new() -> Self {
        Self {
            read_below: 1,
            ..Self::default()
        }
    }

    /// Whether nothing is pending.
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Events passed over, looked for a few at a time.
    pub(crate) fn passed_over(&self) -> usize {
        self.passed.len()
    }

    /// The run's next events, read from the outbox in seq order.
    pub(crate) fn add(&mut self, events: Vec<Watched>) {
        for event in events {
            let seq = event.seq;
            self.read_below = self.read_below.max(seq + 1);
            let known_absent_at = event.t0;
            self.pending.insert(
                seq,
                Pending {
                    event,
                    known_absent_at,
                    at: None,
                },
            );
            self.unplaced.insert(seq);
            if let Some((partition, offset)) = self.early.remove(&seq) {
                self.place(seq, partition, offset);
            }
        }
    }

    /// The Kafka read saw event `seq` at `offset` of `partition` (its first copy counts).
    pub(crate) fn place(&mut self, seq: i64, partition: i32, offset: i64) {
        if seq >= self.read_below {
            self.early.entry(seq).or_insert((partition, offset));
            return;
        }
        let Some(p) = self.pending.get_mut(&seq) else {
            return; // found already
        };
        if p.at.is_some() {
            return; // a later copy
        }
        p.at = Some((partition, offset));
        self.unplaced.remove(&seq);
        let lane = self.lanes.entry(partition).or_default();
        lane.queue.insert(offset, seq);
    }

    /// Every pending event, oldest first (the last look when following stops).
    pub(crate) fn all_pending(&self) -> Vec<Watched> {
        self.pending.values().map(|p| p.event.clone()).collect()
    }

    /// The events the next read looks for: the oldest unplaced ones, each partition's window,
    /// and the next round of passed-over ones.
    pub(crate) fn batch(&mut self) -> Vec<Watched> {
        let mut seqs: Vec<i64> = self.unplaced.iter().take(UNPLACED_CHECK).copied().collect();
        for lane in self.lanes.values() {
            seqs.extend(lane.queue.values().take(lane.window));
        }
        let round: Vec<i64> = self
            .passed
            .range(self.passed_cursor..)
            .chain(self.passed.range(..self.passed_cursor))
            .take(PASSED_CHECK)
            .copied()
            .collect();
        if let Some(last) = round.last() {
            self.passed_cursor = last + 1;
        }
        seqs.extend(round);
        seqs.iter().map(|s| self.pending[s].event.clone()).collect()
    }

    /// What the read of `batch` (from `started` to `ended`, µs) found: those events leave the
    /// list and are returned; the others were absent at `started`. In each partition, the
    /// events of the batch before the last one found are passed over; the window grows when
    /// the read found at least half of it, and shrinks when it found none.
    pub(crate) fn settle(
        &mut self,
        batch: &[Watched],
        found: &BTreeSet<i64>,
        (started, ended): (i64, i64),
    ) -> Vec<Found> {
        let mut out = Vec::with_capacity(found.len());
        // per partition: offsets looked at in its window, and the last one found
        let mut looked: BTreeMap<i32, (Vec<i64>, Option<i64>)> = BTreeMap::new();
        for e in batch {
            let Some(p) = self.pending.get_mut(&e.seq) else {
                continue;
            };
            let was_passed = self.passed.contains(&e.seq);
            if let (Some((partition, offset)), false) = (p.at, was_passed) {
                let l = looked.entry(partition).or_default();
                l.0.push(offset);
                if found.contains(&e.seq) {
                    l.1 = Some(l.1.map_or(offset, |m: i64| m.max(offset)));
                }
            }
            if !found.contains(&e.seq) {
                p.known_absent_at = started;
                continue;
            }
            let p = self.pending.remove(&e.seq).expect("pending");
            self.unplaced.remove(&e.seq);
            self.passed.remove(&e.seq);
            if let Some((partition, offset)) = p.at {
                if let Some(lane) = self.lanes.get_mut(&partition) {
                    lane.queue.remove(&offset);
                }
            }
            out.push(Found {
                resolution_us: (ended - p.known_absent_at).max(1),
                event: p.event,
            });
        }
        for (partition, (offsets, last_found)) in looked {
            self.adjust(partition, &offsets, last_found);
        }
        out
    }

    /// After a read of `offsets` of `partition`'s window: the ones still queued before
    /// `last_found` are passed over; the window follows what the read found.
    fn adjust(&mut self, partition: i32, offsets: &[i64], last_found: Option<i64>) {
        let Some(lane) = self.lanes.get_mut(&partition) else {
            return;
        };
        let mut still = 0;
        for o in offsets {
            if let Some(&seq) = lane.queue.get(o) {
                still += 1;
                if last_found.is_some_and(|last| *o < last) {
                    lane.queue.remove(o);
                    self.passed.insert(seq);
                }
            }
        }
        let found = offsets.len() - still;
        if found == 0 {
            lane.window = (lane.window / 2).max(WINDOW_MIN);
        } else if found * 2 >= lane.window {
            lane.window = (lane.window * 2).min(WINDOW_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use events::EventType;

    fn event(seq: i64) -> Watched {
        Watched {
            seq,
            event_id: format!("e{seq}"),
            event_type: EventType::UserCreated,
            entity_id: format!("u{seq}"),
            joiner: None,
            t_sched: None,
            t0: 1_000,
        }
    }

    /// `n` events, seq i at offset i of partition i % 3.
    fn placed(n: i64) -> Watchlist {
        let mut w = Watchlist::new();
        w.add((1..=n).map(event).collect());
        for seq in 1..=n {
            w.place(seq, (seq % 3) as i32, seq);
        }
        w
    }

    fn seqs(batch: &[Watched]) -> BTreeSet<i64> {
        batch.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn a_consumer_far_behind_costs_a_window_per_partition_not_the_oldest_thousand() {
        let mut w = placed(30_000);
        let batch = w.batch();
        assert_eq!(batch.len(), 3 * WINDOW_START, "a window per partition");
        let found = w.settle(&batch, &BTreeSet::new(), (2_000, 3_000));
        assert!(found.is_empty());
        assert_eq!(
            w.batch().len(),
            3 * WINDOW_START / 2,
            "nothing found: halved"
        );
        for _ in 0..10 {
            let b = w.batch();
            w.settle(&b, &BTreeSet::new(), (4_000, 5_000));
        }
        assert_eq!(w.batch().len(), 3 * WINDOW_MIN, "down to its floor");
    }

    #[test]
    fn events_that_never_arrive_are_passed_over_and_do_not_hide_the_rest() {
        // 1,500 events of partition 0 lost: the old rule (the oldest 1,000) never looked past them
        let mut w = Watchlist::new();
        w.add((1..=3_000).map(event).collect());
        for seq in 1..=3_000 {
            w.place(seq, i32::from(seq > 1_500), seq);
        }
        let lost = |s: i64| s <= 1_500;
        let mut found_all = BTreeSet::new();
        for poll in 0..200 {
            let b = w.batch();
            assert!(
                b.len() <= UNPLACED_CHECK + 2 * WINDOW_MAX + PASSED_CHECK,
                "poll {poll}: {} looked for",
                b.len()
            );
            // applied: every event not lost, the whole window of partition 1 each read
            let found: BTreeSet<i64> = seqs(&b).into_iter().filter(|s| !lost(*s)).collect();
            for f in w.settle(&b, &found, (poll * 10, poll * 10 + 5)) {
                found_all.insert(f.event.seq);
            }
        }
        assert_eq!(
            found_all,
            (1_501..=3_000).collect(),
            "every applied event found"
        );
        let rest = w.all_pending();
        assert_eq!(
            seqs(&rest),
            (1..=1_500).collect(),
            "the last look sees every lost one"
        );
        // a partition-0 event applied late, after the read passed it over, is still found
        let mut w = placed(9);
        let b = w.batch();
        let first = w.settle(&b, &[6, 9].into(), (10, 20));
        assert_eq!(first.len(), 2);
        assert_eq!(
            w.passed_over(),
            1,
            "3, before 9 in partition 0; the other partitions wait"
        );
        let b = w.batch();
        assert!(
            seqs(&b).contains(&3),
            "a passed-over event is looked for again"
        );
        let late = w.settle(&b, &[3].into(), (30, 40));
        assert_eq!(late.len(), 1);
        assert_eq!(
            late[0].resolution_us,
            40 - 10,
            "absent at the start of the read that passed it over"
        );
    }

    #[test]
    fn a_placement_read_before_its_event_is_kept_and_later_copies_ignored() {
        let mut w = Watchlist::new();
        w.place(2, 1, 50); // the Kafka read ahead of the outbox read
        w.add(vec![event(1), event(2)]);
        w.place(2, 2, 99); // a duplicate copy
        w.place(1, 0, 7);
        w.place(1, 0, 8);
        let b = w.batch();
        assert_eq!(seqs(&b), [1, 2].into());
        assert_eq!(w.lanes[&1].queue.get(&50), Some(&2));
        assert!(
            !w.lanes.contains_key(&2),
            "the duplicate copy is not placed"
        );
        let found = w.settle(&b, &[1, 2].into(), (1_500, 2_000));
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0].resolution_us, 1_000,
            "from created_at to the read's end"
        );
        assert!(w.is_empty());
        w.place(1, 0, 9); // a copy of an event already found
        assert!(w.is_empty() && w.batch().is_empty());
    }

    #[test]
    fn the_window_grows_while_the_consumer_keeps_ahead_of_it() {
        let mut w = placed(30_000);
        for _ in 0..3 {
            let b = w.batch();
            let all = seqs(&b);
            w.settle(&b, &all, (0, 1));
        }
        assert_eq!(w.batch().len(), 3 * WINDOW_START * 8, "doubled each read");
        for _ in 0..3 {
            let b = w.batch();
            let all = seqs(&b);
            w.settle(&b, &all, (0, 1));
        }
        assert_eq!(w.batch().len(), 3 * WINDOW_MAX, "up to its ceiling");
    }
}
