//! The join of one run's events across the three places they must reach: the outbox (the run
//! manifest says how many), the CDC topic (the verifier's own read) and MongoDB (the processor's
//! receipts). Keyed by `seq` (dense 1..n within a run), so the state is two bitsets of n bits
//! whatever the order, lateness or duplication of arrivals, plus a small count of unmatched
//! events per second of creation (for the age of the oldest).
//!
//! Stages are measured where they are observed: commit, capture and publish from the first copy
//! of each record on Kafka; queue, process and end to end from the receipt (which carries the
//! timestamps of the copy the processor applied).

use std::collections::{BTreeMap, VecDeque};

use events::stages::{PerStage, Stage, Stamps, T2Census, T2Kind};
use events::EventType;
use serde::{Deserialize, Serialize};

use crate::model::measure::{Measurements, Timeline};

/// A fixed-size set of seqs 1..=n.
#[derive(Debug, Clone)]
pub(crate) struct SeqSet {
    words: Vec<u64>,
    n: u64,
}

impl SeqSet {
    /// An empty set for seqs 1..=n.
    pub(crate) fn new(n: u64) -> Self {
        Self {
            words: vec![0; n.div_ceil(64) as usize],
            n,
        }
    }

    fn slot(&self, seq: i64) -> Option<(usize, u64)> {
        (seq >= 1 && seq as u64 <= self.n).then(|| {
            let i = (seq - 1) as u64;
            ((i / 64) as usize, 1 << (i % 64))
        })
    }

    /// Adds `seq`; false when it was already there. Panics on a seq outside 1..=n (callers
    /// check with [`SeqSet::in_range`]).
    pub(crate) fn insert(&mut self, seq: i64) -> bool {
        let (w, bit) = self.slot(seq).expect("seq in range");
        let new = self.words[w] & bit == 0;
        self.words[w] |= bit;
        new
    }

    /// Whether `seq` is in the set.
    pub(crate) fn contains(&self, seq: i64) -> bool {
        self.slot(seq)
            .is_some_and(|(w, bit)| self.words[w] & bit != 0)
    }

    /// Whether `seq` is within 1..=n.
    pub(crate) fn in_range(&self, seq: i64) -> bool {
        self.slot(seq).is_some()
    }

    /// Seqs from `from` upward that are in `self` but not in `other`, at most `limit`.
    pub(crate) fn difference(&self, other: &SeqSet, from: i64, limit: usize) -> Vec<i64> {
        (from.max(1)..=self.n as i64)
            .filter(|&s| self.contains(s) && !other.contains(s))
            .take(limit)
            .collect()
    }

    /// Seqs from `from` upward that are not in the set, at most `limit`.
    pub(crate) fn absent(&self, from: i64, limit: usize) -> Vec<i64> {
        (from.max(1)..=self.n as i64)
            .filter(|&s| !self.contains(s))
            .take(limit)
            .collect()
    }
}

/// A record of the run as the verifier read it from Kafka.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KafkaEvent {
    /// Position in the run.
    pub seq: i64,
    /// Its type.
    pub event_type: EventType,
    /// Its timestamps up to `t2`.
    pub stamps: Stamps,
    /// Its partition.
    pub partition: i32,
    /// Its offset in the partition.
    pub offset: i64,
    /// What its Kafka timestamp (`t2`) is.
    pub t2_kind: T2Kind,
}

/// Where the last copy of each event seen on Kafka sits, 8 bytes an event: partition in the top
/// 16 bits, offset below (`NONE`: not seen). Whether a consumer passed an event is decided
/// from it ([`crate::model::fate`]).
#[derive(Debug, Clone)]
struct LastCopies(Vec<u64>);

impl LastCopies {
    const NONE: u64 = u64::MAX;
    const OFFSET_BITS: u32 = 48;

    fn new(n: u64) -> Self {
        Self(vec![Self::NONE; n as usize])
    }

    /// Keeps the later copy: a consumer has passed an event only once it passed every copy.
    fn see(&mut self, seq: i64, partition: i32, offset: i64) {
        let packed = ((partition as u64) << Self::OFFSET_BITS)
            | (offset as u64 & ((1 << Self::OFFSET_BITS) - 1));
        let slot = &mut self.0[(seq - 1) as usize];
        if *slot == Self::NONE
            || (*slot >> Self::OFFSET_BITS) != (partition as u64)
            || packed > *slot
        {
            *slot = packed;
        }
    }

    fn get(&self, seq: i64) -> Option<(i32, i64)> {
        let v = *self.0.get(usize::try_from(seq - 1).ok()?)?;
        (v != Self::NONE).then(|| {
            let offset = v & ((1 << Self::OFFSET_BITS) - 1);
            ((v >> Self::OFFSET_BITS) as i32, offset as i64)
        })
    }
}

/// A receipt: when the consumer applied an event, from `processed_events` or a consumer's
/// metrics file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Receipt {
    /// Position in the run.
    pub seq: i64,
    /// Its type.
    pub event_type: EventType,
    /// The timestamps a receipt's stages start from.
    pub stamps: ReceiptStamps,
    /// The consumer received the record (`None`: not known, as in observe mode, where queue
    /// and process are then unmeasured).
    pub t3: Option<i64>,
    /// MongoDB acknowledged the write.
    pub t5: i64,
}

/// What a receipt's stages (queue, process, end to end) start from: the schedule, the insert,
/// and the Kafka timestamp of the copy the consumer applied (`None`: not known, and queue is
/// then unmeasured). Commit, capture and publish are measured from the verifier's own read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReceiptStamps {
    /// `scheduled_at`, rate mode only.
    pub t_sched: Option<i64>,
    /// `created_at`.
    pub t0: i64,
    /// The Kafka record timestamp.
    pub t2: Option<i64>,
}

impl From<Stamps> for ReceiptStamps {
    fn from(s: Stamps) -> Self {
        Self {
            t_sched: s.t_sched,
            t0: s.t0,
            t2: s.t2,
        }
    }
}

impl Receipt {
    /// The stages a receipt ends ([`Stage::ON_RECEIPT`]); the others are `None`.
    pub fn durations(&self) -> PerStage<Option<i64>> {
        let s = &self.stamps;
        PerStage::from_fn(|stage| match stage {
            Stage::Queue => s.t2.zip(self.t3).map(|(t2, t3)| t3 - t2),
            Stage::Process => self.t3.map(|t3| self.t5 - t3),
            Stage::EndToEnd => Some(self.t5 - s.t_sched.unwrap_or(s.t0)),
            Stage::Commit | Stage::Capture | Stage::Publish => None,
        })
    }
}

/// What the join made of a Kafka record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KafkaOutcome {
    /// First copy of the event.
    New,
    /// The event was already seen on Kafka: counted as a duplicate.
    Duplicate,
    /// A seq outside the run's 1..=n: counted as an anomaly.
    OutOfRange,
}

/// Where an event that has not finished got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LastStage {
    /// Written to the outbox (or expected there), never seen on Kafka.
    Outbox,
    /// Seen on Kafka, no receipt in MongoDB.
    Kafka,
}

/// A recently completed event, for the dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recent {
    /// Position in the run.
    pub seq: i64,
    /// Its type.
    pub event_type: String,
    /// End to end, ms.
    pub end_to_end_ms: f64,
    /// When it was written to MongoDB, µs since the epoch.
    pub t5: i64,
}

/// How many recent events the join keeps.
pub(crate) const RECENT: usize = 8;

/// Counts of the join, as reports show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Events the run must deliver: the manifest's `written` once the run is over, its `n`
    /// while it runs.
    pub expected: u64,
    /// Distinct events seen on Kafka.
    pub kafka: u64,
    /// Extra copies of events already seen on Kafka (at-least-once delivery; not a failure).
    pub kafka_duplicates: u64,
    /// Records of the run with a seq outside 1..=expected.
    pub out_of_range: u64,
    /// Distinct events with a receipt in MongoDB.
    pub receipts: u64,
    /// Events seen on Kafka and receipted.
    pub matched: u64,
    /// Receipts of events the verifier has not (yet) seen on Kafka.
    pub receipt_before_kafka: u64,
}

/// Width of the buckets of unmatched events by `t0`, µs: the age of the oldest unmatched event
/// is known to within it (0.1 s; a bucket per 0.1 s of the run at most).
pub(crate) const PENDING_BUCKET_US: i64 = 100_000;

/// The join of one run.
#[derive(Debug, Clone)]
pub struct Join {
    kafka: SeqSet,
    receipts: SeqSet,
    last_copies: LastCopies,
    /// The highest offset of the run's records seen, per partition.
    last_offsets: BTreeMap<i32, i64>,
    /// Every record of the run read, by the kind of its timestamp.
    t2: T2Census,
    counts: Counts,
    /// Unmatched events seen on Kafka, by [`PENDING_BUCKET_US`] of `t0`.
    pending: BTreeMap<i64, u64>,
    /// Measurements, per stage.
    pub measurements: Measurements,
    /// Events reaching Kafka per second (by `t1`).
    pub kafka_timeline: Timeline,
    /// Events written to MongoDB per second (by `t5`).
    pub done_timeline: Timeline,
    recent: VecDeque<Recent>,
    first_t0: Option<i64>,
    last_t0: Option<i64>,
    last_t5: Option<i64>,
}

impl Join {
    /// The join of a run of `expected` events started at `started_us` (µs since the epoch).
    pub fn new(expected: u64, started_us: i64) -> Self {
        let origin = started_us.div_euclid(1_000_000);
        Self {
            kafka: SeqSet::new(expected),
            receipts: SeqSet::new(expected),
            last_copies: LastCopies::new(expected),
            last_offsets: BTreeMap::new(),
            t2: T2Census::default(),
            counts: Counts {
                expected,
                ..Counts::default()
            },
            pending: BTreeMap::new(),
            measurements: Measurements::default(),
            kafka_timeline: Timeline::new(origin),
            done_timeline: Timeline::new(origin),
            recent: VecDeque::with_capacity(RECENT),
            first_t0: None,
            last_t0: None,
            last_t5: None,
        }
    }

    /// The counts so far.
    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Whether `seq` has a receipt.
    pub fn has_receipt(&self, seq: i64) -> bool {
        self.receipts.contains(seq)
    }

    /// Lowers the number of events expected to `n` (≤ the run's size): a run stopped early
    /// wrote fewer than it was asked for.
    pub fn set_expected(&mut self, n: u64) {
        self.counts.expected = n.min(self.kafka.n);
    }

    /// Whether every expected event is on Kafka and receipted.
    pub fn complete(&self) -> bool {
        self.counts.matched == self.counts.expected
    }

    fn see_t0(&mut self, t0: i64) {
        self.first_t0 = Some(self.first_t0.map_or(t0, |f| f.min(t0)));
        self.last_t0 = Some(self.last_t0.map_or(t0, |l| l.max(t0)));
    }

    /// Adds a record of the run read from Kafka.
    pub fn on_kafka(&mut self, e: &KafkaEvent) -> KafkaOutcome {
        if !self.kafka.in_range(e.seq) {
            self.counts.out_of_range += 1;
            return KafkaOutcome::OutOfRange;
        }
        self.t2.add(e.t2_kind);
        self.last_copies.see(e.seq, e.partition, e.offset);
        let last = self.last_offsets.entry(e.partition).or_insert(e.offset);
        *last = (*last).max(e.offset);
        if !self.kafka.insert(e.seq) {
            self.counts.kafka_duplicates += 1;
            return KafkaOutcome::Duplicate;
        }
        self.counts.kafka += 1;
        self.see_t0(e.stamps.t0);
        let m = &mut self.measurements;
        let d = e.stamps.kafka_durations();
        for stage in Stage::ON_KAFKA {
            m.stages[stage].record(stage, e.event_type, d[stage]);
        }
        if let Some(ts) = e.stamps.t_sched {
            m.generator_lag
                .record(Stage::EndToEnd, e.event_type, Some(e.stamps.t0 - ts));
        }
        self.kafka_timeline.add(e.stamps.t1);
        if self.receipts.contains(e.seq) {
            self.counts.matched += 1;
            self.counts.receipt_before_kafka -= 1;
        } else {
            *self
                .pending
                .entry(e.stamps.t0.div_euclid(PENDING_BUCKET_US))
                .or_default() += 1;
        }
        KafkaOutcome::New
    }

    /// Adds a receipt; false when the seq is out of range or already receipted.
    pub fn on_receipt(&mut self, r: &Receipt) -> bool {
        if !self.receipts.in_range(r.seq) {
            self.counts.out_of_range += 1;
            return false;
        }
        if !self.receipts.insert(r.seq) {
            return false;
        }
        self.counts.receipts += 1;
        self.see_t0(r.stamps.t0);
        self.last_t5 = Some(self.last_t5.map_or(r.t5, |l| l.max(r.t5)));
        let d = r.durations();
        let e2e = d[Stage::EndToEnd];
        for stage in Stage::ON_RECEIPT {
            self.measurements.stages[stage].record(stage, r.event_type, d[stage]);
        }
        self.done_timeline.add(r.t5);
        if self.kafka.contains(r.seq) {
            self.counts.matched += 1;
            self.unpend(r.stamps.t0);
        } else {
            self.counts.receipt_before_kafka += 1;
        }
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(Recent {
            seq: r.seq,
            event_type: r.event_type.as_str().to_owned(),
            end_to_end_ms: e2e.unwrap_or(0) as f64 / 1000.0,
            t5: r.t5,
        });
        true
    }

    /// Seqs seen on Kafka without a receipt yet, from `from` upward, at most `limit`: the
    /// receipts to look for next.
    pub fn awaiting_receipt(&self, from: i64, limit: usize) -> Vec<i64> {
        self.kafka.difference(&self.receipts, from, limit)
    }

    /// Seqs without a receipt, from `from` upward, at most `limit`, with the last stage each
    /// reached.
    pub fn unfinished(&self, from: i64, limit: usize) -> Vec<(i64, LastStage)> {
        self.receipts
            .absent(from, limit)
            .into_iter()
            .take_while(|s| *s <= self.counts.expected as i64)
            .map(|s| {
                let at = if self.kafka.contains(s) {
                    LastStage::Kafka
                } else {
                    LastStage::Outbox
                };
                (s, at)
            })
            .collect()
    }

    /// Every record of the run read, by the kind of its timestamp (what `t2` means).
    pub fn t2(&self) -> T2Census {
        self.t2
    }

    /// The highest offset of the run's records seen on each partition.
    pub fn last_offsets(&self) -> &BTreeMap<i32, i64> {
        &self.last_offsets
    }

    /// Where the last copy of `seq` seen on Kafka is: `(partition, offset)`.
    pub fn last_copy(&self, seq: i64) -> Option<(i32, i64)> {
        self.last_copies.get(seq)
    }

    /// Every expected event without a receipt, in seq order, with where its last copy on Kafka
    /// is (`None`: never seen there).
    pub fn unreceipted(&self) -> impl Iterator<Item = (i64, Option<(i32, i64)>)> + '_ {
        (1..=self.counts.expected as i64)
            .filter(|s| !self.receipts.contains(*s))
            .map(|s| (s, self.last_copies.get(s)))
    }

    /// Events without a receipt, by the last place seen: `(outbox, kafka)`.
    pub fn missing_by_stage(&self) -> (u64, u64) {
        let mut at_kafka = 0;
        for s in 1..=self.counts.expected as i64 {
            if !self.receipts.contains(s) && self.kafka.contains(s) {
                at_kafka += 1;
            }
        }
        let missing = self.counts.expected - self.counts.receipts.min(self.counts.expected);
        (missing - at_kafka.min(missing), at_kafka)
    }

    /// The lowest seq not yet seen on Kafka.
    pub fn first_not_on_kafka(&self) -> Option<i64> {
        self.kafka.absent(1, 1).first().copied()
    }

    /// `t0` of the oldest event seen on Kafka and not yet receipted, µs, to within
    /// [`PENDING_BUCKET_US`] (the start of its bucket: never later than it).
    pub fn oldest_pending_us(&self) -> Option<i64> {
        self.pending.keys().next().map(|b| b * PENDING_BUCKET_US)
    }

    /// A matched event leaves its bucket. A receipt's `t0` may differ from the record's by a
    /// rounding (a metrics file in float seconds): a bucket next to it then holds the event.
    fn unpend(&mut self, t0: i64) {
        let b = t0.div_euclid(PENDING_BUCKET_US);
        let Some(key) = [b, b - 1, b + 1]
            .into_iter()
            .find(|k| self.pending.contains_key(k))
        else {
            return;
        };
        let n = self.pending.get_mut(&key).expect("pending bucket");
        *n -= 1;
        if *n == 0 {
            self.pending.remove(&key);
        }
    }

    /// The most recently receipted events, oldest first.
    pub fn recent(&self) -> impl Iterator<Item = &Recent> {
        self.recent.iter()
    }

    /// `(first t0, last t0, last t5)` seen so far, µs.
    pub fn span(&self) -> (Option<i64>, Option<i64>, Option<i64>) {
        (self.first_t0, self.last_t0, self.last_t5)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps(seq: i64) -> Stamps {
        let t0 = 1_000_000_000 + seq * 1_000;
        Stamps {
            t_sched: None,
            t0,
            t0c: t0 + 100,
            t1: t0 + 5_000,
            t2: Some(t0 + 6_000),
        }
    }

    fn kafka(seq: i64) -> KafkaEvent {
        KafkaEvent {
            seq,
            event_type: EventType::UserCreated,
            stamps: stamps(seq),
            partition: (seq % 3) as i32,
            offset: 100 + seq,
            t2_kind: T2Kind::LogAppendTime,
        }
    }

    fn receipt(seq: i64) -> Receipt {
        let s = stamps(seq);
        Receipt {
            seq,
            event_type: EventType::UserCreated,
            stamps: s.into(),
            t3: Some(s.t0 + 10_000),
            t5: s.t0 + 12_000,
        }
    }

    #[test]
    fn a_receipt_without_t3_leaves_queue_and_process_unmeasured() {
        let r = Receipt {
            t3: None,
            stamps: ReceiptStamps {
                t2: None,
                ..receipt(1).stamps
            },
            ..receipt(1)
        };
        let d = r.durations();
        assert_eq!(
            (d[Stage::Queue], d[Stage::Process], d[Stage::EndToEnd]),
            (None, None, Some(12_000))
        );
        assert_eq!(
            d[Stage::Commit],
            None,
            "commit is the Kafka read's, not a receipt's"
        );
    }

    #[test]
    fn complete_run_in_order() {
        let mut j = Join::new(3, 1_000_000_000);
        for s in 1..=3 {
            assert_eq!(j.on_kafka(&kafka(s)), KafkaOutcome::New);
            assert!(j.on_receipt(&receipt(s)));
        }
        assert!(j.complete());
        assert_eq!(j.counts().matched, 3);
        assert_eq!(j.measurements.stages[Stage::EndToEnd].all.len(), 3);
        assert_eq!(j.measurements.stages[Stage::Commit].all.len(), 3);
        assert_eq!(j.oldest_pending_us(), None);
        assert_eq!(j.recent().count(), 3);
    }

    #[test]
    fn missing_duplicated_late_and_reordered_events_are_counted_exactly() {
        let mut j = Join::new(6, 1_000_000_000);
        // 6 never reaches Kafka; 5 reaches Kafka but gets no receipt; 2 arrives on Kafka twice;
        // 4's receipt comes before the verifier reads it on Kafka (late Kafka read); 3 is read
        // out of order.
        for s in [1, 2, 4, 2, 5] {
            j.on_kafka(&kafka(s));
        }
        assert!(j.on_receipt(&receipt(4)));
        j.on_receipt(&receipt(1));
        j.on_receipt(&receipt(2));
        j.on_receipt(&receipt(3)); // before its Kafka record
        assert!(
            !j.on_receipt(&receipt(3)),
            "a receipt read twice counts once"
        );
        j.on_kafka(&kafka(3));
        let c = j.counts().clone();
        assert_eq!(c.kafka, 5);
        assert_eq!(c.kafka_duplicates, 1);
        assert_eq!(c.receipts, 4);
        assert_eq!(c.matched, 4);
        assert_eq!(c.receipt_before_kafka, 0);
        assert!(!j.complete());
        assert_eq!(
            j.unfinished(1, 10),
            vec![(5, LastStage::Kafka), (6, LastStage::Outbox)]
        );
        assert_eq!(j.awaiting_receipt(1, 10), vec![5]);
        assert_eq!(j.missing_by_stage(), (1, 1));
        assert_eq!(j.first_not_on_kafka(), Some(6));
        // t0 of seq 5 is 1_000_005_000 µs: its 0.1 s bucket starts at 1_000_000_000
        assert_eq!(j.oldest_pending_us(), Some(1_000_000_000));
        // Kafka-side stages counted once per event, receipt-side once per receipt.
        assert_eq!(j.measurements.stages[Stage::Capture].all.len(), 5);
        assert_eq!(j.measurements.stages[Stage::Process].all.len(), 4);
    }

    #[test]
    fn out_of_range_seqs_are_anomalies_not_panics() {
        let mut j = Join::new(2, 0);
        assert_eq!(j.on_kafka(&kafka(3)), KafkaOutcome::OutOfRange);
        assert_eq!(j.on_kafka(&kafka(0)), KafkaOutcome::OutOfRange);
        assert!(!j.on_receipt(&receipt(9)));
        assert_eq!(j.counts().out_of_range, 3);
    }

    #[test]
    fn skewed_clocks_are_counted_not_dropped() {
        let mut j = Join::new(1, 0);
        let mut k = kafka(1);
        k.stamps.t1 = k.stamps.t0c - 2_000; // Debezium's clock behind PostgreSQL's
        j.on_kafka(&k);
        let mut r = receipt(1);
        r.t5 = r.t3.expect("t3") - 50; // MongoDB ack before receive
        j.on_receipt(&r);
        let m = &j.measurements.stages;
        assert_eq!(m[Stage::Capture].skewed, 1);
        assert_eq!(m[Stage::Capture].skew_min_us, -2_000);
        assert_eq!(m[Stage::Process].skewed, 1);
        assert_eq!(m[Stage::Capture].all.len() + m[Stage::Capture].skewed, 1);
    }

    #[test]
    fn rate_mode_measures_from_the_schedule_and_keeps_generator_lag() {
        let mut j = Join::new(1, 0);
        let mut k = kafka(1);
        k.stamps.t_sched = Some(k.stamps.t0 - 3_000);
        j.on_kafka(&k);
        let mut r = receipt(1);
        r.stamps.t_sched = k.stamps.t_sched;
        j.on_receipt(&r);
        let lag = j.measurements.generator_lag.all.max();
        assert!((2_995..=3_005).contains(&lag), "{lag}");
        // end to end = t5 - t_sched = 12 ms + 3 ms
        let e2e = j.measurements.stages[Stage::EndToEnd].all.max();
        assert!((14_990..=15_010).contains(&e2e), "{e2e}");
    }

    #[test]
    fn the_last_copy_of_each_event_is_where_a_consumer_must_pass() {
        let mut j = Join::new(4, 1_000_000_000);
        j.on_kafka(&kafka(1));
        let mut again = kafka(1);
        again.offset = 900; // re-sent later (a Connect restart)
        j.on_kafka(&again);
        let mut earlier = kafka(1);
        earlier.offset = 50;
        j.on_kafka(&earlier);
        let mut big = kafka(2);
        big.offset = (1 << 40) + 7;
        j.on_kafka(&big);
        assert_eq!(j.last_copy(1), Some((1, 900)));
        assert_eq!(j.last_copy(2), Some((2, (1 << 40) + 7)));
        assert_eq!(j.last_copy(3), None);
        assert_eq!(j.last_copy(0), None);
        j.on_receipt(&receipt(2));
        let left: Vec<_> = j.unreceipted().collect();
        assert_eq!(left, [(1, Some((1, 900))), (3, None), (4, None)]);
    }

    #[test]
    fn seqset_is_dense_and_bounded() {
        let mut s = SeqSet::new(130);
        assert!(s.insert(1) && s.insert(64) && s.insert(65) && s.insert(130));
        assert!(!s.insert(64));
        assert!(!s.in_range(131) && !s.in_range(0));
        assert_eq!(s.absent(1, 3), vec![2, 3, 4]);
        assert_eq!(s.words.len(), 3);
    }
}
