//! The pipeline's stages and how one event's timestamps turn into stage durations
//! (`docs/design.md`, "Timestamps"). Shared by the processor and the verifier so both measure
//! alike: a [`Stage`] names a stage, a [`PerStage`] holds one value for each, and
//! [`latency_histogram`] is the one histogram shape every latency is recorded in.

use std::fmt;
use std::ops::{Index, IndexMut};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// A stage of the pipeline, in pipeline order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// `t0c − t0`: insert to commit in PostgreSQL.
    Commit,
    /// `t1 − t0c`: commit to Debezium reading it.
    Capture,
    /// `t2 − t1`: Debezium read to the Kafka record timestamp.
    Publish,
    /// `t3 − t2`: in Kafka until the processor received it.
    Queue,
    /// `t5 − t3`: received to written in MongoDB.
    Process,
    /// `t5 − t0` (from `t_sched` in rate mode).
    EndToEnd,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 6] = [
        Stage::Commit,
        Stage::Capture,
        Stage::Publish,
        Stage::Queue,
        Stage::Process,
        Stage::EndToEnd,
    ];

    /// The stages measurable from the Kafka record alone.
    pub const ON_KAFKA: [Stage; 3] = [Stage::Commit, Stage::Capture, Stage::Publish];

    /// The stages that need the consumer's receipt (`t3`, `t5`).
    pub const ON_RECEIPT: [Stage; 3] = [Stage::Queue, Stage::Process, Stage::EndToEnd];

    /// The name reports, metrics and logs use.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stage::Commit => "commit",
            Stage::Capture => "capture",
            Stage::Publish => "publish",
            Stage::Queue => "queue",
            Stage::Process => "process",
            Stage::EndToEnd => "end_to_end",
        }
    }

    /// Position in [`Stage::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value per stage, indexed by [`Stage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PerStage<T>([T; 6]);

impl<T> PerStage<T> {
    /// The value of each stage from `f`.
    pub fn from_fn(mut f: impl FnMut(Stage) -> T) -> Self {
        Self(Stage::ALL.map(&mut f))
    }

    /// `(stage, value)` in pipeline order.
    pub fn iter(&self) -> impl Iterator<Item = (Stage, &T)> {
        Stage::ALL.into_iter().zip(&self.0)
    }

    /// `(stage, value)` in pipeline order, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Stage, &mut T)> {
        Stage::ALL.into_iter().zip(&mut self.0)
    }

    /// The values in pipeline order.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter()
    }

    /// Each value mapped.
    pub fn map<U>(self, mut f: impl FnMut(Stage, T) -> U) -> PerStage<U> {
        let mut next = 0;
        PerStage(self.0.map(|v| {
            next += 1;
            f(Stage::ALL[next - 1], v)
        }))
    }
}

impl<T> Index<Stage> for PerStage<T> {
    type Output = T;
    fn index(&self, s: Stage) -> &T {
        &self.0[s.index()]
    }
}

impl<T> IndexMut<Stage> for PerStage<T> {
    fn index_mut(&mut self, s: Stage) -> &mut T {
        &mut self.0[s.index()]
    }
}

/// Highest value a latency histogram holds: one hour in µs. Larger samples are recorded at it
/// (and counted by whoever records them).
pub const MAX_US: u64 = 3_600_000_000;

/// An empty latency histogram of µs: 1 µs to one hour, 3 significant digits, so it has a fixed
/// size whatever the load. Every latency of the project is recorded in one of these.
pub fn latency_histogram() -> Histogram<u64> {
    // The bounds are constants that HdrHistogram accepts (1 ≤ low, high ≥ 2·low, 3 digits).
    Histogram::new_with_bounds(1, MAX_US, 3).expect("1 µs to 1 h at 3 digits are valid bounds")
}

/// What a Kafka record's timestamp (`t2`) is: the boundary between `publish` and `queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum T2Kind {
    /// `message.timestamp.type=LogAppendTime`: the broker stamped its append.
    LogAppendTime,
    /// `CreateTime` (Kafka's default): the producer stamped the record when it created it,
    /// before its linger, its request and the broker's append.
    CreateTime,
    /// The record has no timestamp: publish and queue cannot be measured for it.
    None,
}

impl T2Kind {
    /// Every kind.
    pub const ALL: [T2Kind; 3] = [T2Kind::LogAppendTime, T2Kind::CreateTime, T2Kind::None];

    /// The name reports and metrics use.
    pub const fn as_str(self) -> &'static str {
        match self {
            T2Kind::LogAppendTime => "log_append_time",
            T2Kind::CreateTime => "create_time",
            T2Kind::None => "none",
        }
    }

    /// What `t2` means for records of this kind, in words.
    pub const fn meaning(self) -> &'static str {
        match self {
            T2Kind::LogAppendTime => "T2 = broker append time (LogAppendTime)",
            T2Kind::CreateTime => "T2 = producer create time (CreateTime: publish ends, and queue begins, before the broker has the record)",
            T2Kind::None => "no Kafka timestamp: publish and queue are not measured",
        }
    }
}

/// How many records of each [`T2Kind`] were read, and what `t2` therefore means for the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct T2Census {
    /// Records stamped by the broker.
    pub log_append_time: u64,
    /// Records stamped by their producer.
    pub create_time: u64,
    /// Records without a timestamp.
    pub none: u64,
}

impl T2Census {
    /// Counts one record.
    pub fn add(&mut self, kind: T2Kind) {
        match kind {
            T2Kind::LogAppendTime => self.log_append_time += 1,
            T2Kind::CreateTime => self.create_time += 1,
            T2Kind::None => self.none += 1,
        }
    }

    /// The one kind every record had (`None` when there were none, or several kinds).
    pub fn kind(&self) -> Option<T2Kind> {
        let present: Vec<T2Kind> = T2Kind::ALL
            .into_iter()
            .filter(|k| self.count(*k) > 0)
            .collect();
        match present[..] {
            [one] => Some(one),
            _ => None,
        }
    }

    /// The run's `t2` in one word: the one kind every record had, `mixed`, or `unknown` when
    /// no record was read.
    pub fn label(&self) -> &'static str {
        match self.kind() {
            Some(k) => k.as_str(),
            None if self.log_append_time + self.create_time + self.none == 0 => "unknown",
            None => "mixed",
        }
    }

    /// Records of `kind`.
    pub fn count(&self, kind: T2Kind) -> u64 {
        match kind {
            T2Kind::LogAppendTime => self.log_append_time,
            T2Kind::CreateTime => self.create_time,
            T2Kind::None => self.none,
        }
    }

    /// What `t2` means for the run, with the counts: nothing is relabelled.
    pub fn meaning(&self) -> String {
        let total = self.log_append_time + self.create_time + self.none;
        match self.kind() {
            _ if total == 0 => "T2: no record read".to_owned(),
            Some(k) => format!("{} for all {total} records", k.meaning()),
            None => format!(
                "T2 is mixed: {} records with the broker's append time (LogAppendTime), {} with the producer's create time (CreateTime), {} without a timestamp; publish and queue mix both boundaries",
                self.log_append_time, self.create_time, self.none
            ),
        }
    }
}

/// Every timestamp of an event known once it is on Kafka (µs since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamps {
    /// `scheduled_at`, rate mode only.
    pub t_sched: Option<i64>,
    /// `created_at`: the insert into the outbox.
    pub t0: i64,
    /// Commit in PostgreSQL (`source.ts_us`).
    pub t0c: i64,
    /// Debezium read the change (envelope `ts_us`).
    pub t1: i64,
    /// Kafka record timestamp (ms resolution, in µs); `None` when the record has none.
    pub t2: Option<i64>,
}

impl Stamps {
    /// The duration of each stage in µs, given when the consumer received the record (`t3`)
    /// and MongoDB acknowledged the write (`t5`). `None` where an end is unknown.
    pub fn durations(&self, t3: i64, t5: i64) -> PerStage<Option<i64>> {
        let mut d = self.kafka_durations();
        d[Stage::Queue] = self.t2.map(|t2| t3 - t2);
        d[Stage::Process] = Some(t5 - t3);
        d[Stage::EndToEnd] = Some(t5 - self.t_sched.unwrap_or(self.t0));
        d
    }

    /// The stages measurable from the Kafka record alone ([`Stage::ON_KAFKA`]); the rest are
    /// `None`.
    pub fn kafka_durations(&self) -> PerStage<Option<i64>> {
        PerStage::from_fn(|s| match s {
            Stage::Commit => Some(self.t0c - self.t0),
            Stage::Capture => Some(self.t1 - self.t0c),
            Stage::Publish => self.t2.map(|t2| t2 - self.t1),
            Stage::Queue | Stage::Process | Stage::EndToEnd => None,
        })
    }
}

/// A stage duration judged: measured, within the Kafka timestamp's resolution, or skewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// A duration ≥ 0 µs.
    Measured(i64),
    /// A publish duration between -999 µs and 0: `t2` is Kafka's millisecond timestamp,
    /// truncated, so it is up to 999 µs below Debezium's µs read time. Resolution, not skew;
    /// recorded as 0 and counted.
    BelowResolution,
    /// A negative duration: the clocks disagree. Counted with its magnitude, never dropped.
    Skewed(i64),
}

/// Judges the duration `d` µs of `stage`.
pub fn judge(stage: Stage, d: i64) -> Sample {
    if d >= 0 {
        Sample::Measured(d)
    } else if stage == Stage::Publish && d > -1000 {
        Sample::BelowResolution
    } else {
        Sample::Skewed(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps() -> Stamps {
        Stamps {
            t_sched: None,
            t0: 1_000,
            t0c: 1_500,
            t1: 3_000,
            t2: Some(4_000),
        }
    }

    #[test]
    fn durations_follow_the_design() {
        let d = stamps().durations(6_000, 10_000);
        let want = [500, 1_500, 1_000, 2_000, 4_000, 9_000].map(Some);
        assert_eq!(d.values().copied().collect::<Vec<_>>(), want);
        assert_eq!(d[Stage::Queue], Some(2_000));
        let rate = Stamps {
            t_sched: Some(500),
            ..stamps()
        };
        assert_eq!(rate.durations(6_000, 10_000)[Stage::EndToEnd], Some(9_500));
        let no_ts = Stamps {
            t2: None,
            ..stamps()
        };
        let d = no_ts.durations(6_000, 10_000);
        assert_eq!((d[Stage::Publish], d[Stage::Queue]), (None, None));
        let k = stamps().kafka_durations();
        assert!(Stage::ON_RECEIPT.iter().all(|s| k[*s].is_none()));
        assert!(Stage::ON_KAFKA.iter().all(|s| k[*s].is_some()));
    }

    #[test]
    fn stages_have_their_names_and_order() {
        let names: Vec<&str> = Stage::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(
            names,
            [
                "commit",
                "capture",
                "publish",
                "queue",
                "process",
                "end_to_end"
            ]
        );
        assert_eq!(
            serde_json::to_string(&Stage::EndToEnd).unwrap(),
            "\"end_to_end\""
        );
        let p = PerStage::from_fn(Stage::index);
        assert_eq!(p.iter().map(|(s, i)| s.index() - i).sum::<usize>(), 0);
        assert_eq!(p.map(|s, _| s.as_str())[Stage::Queue], "queue");
    }

    #[test]
    fn negative_publish_within_a_millisecond_is_resolution_not_skew() {
        assert_eq!(judge(Stage::Publish, -999), Sample::BelowResolution);
        assert_eq!(judge(Stage::Publish, -1000), Sample::Skewed(-1000));
        assert_eq!(judge(Stage::Capture, -1), Sample::Skewed(-1));
        assert_eq!(judge(Stage::Queue, 0), Sample::Measured(0));
    }

    #[test]
    fn the_t2_boundary_is_named_from_the_records_kinds() {
        let mut c = T2Census::default();
        assert_eq!(c.meaning(), "T2: no record read");
        for _ in 0..3 {
            c.add(T2Kind::LogAppendTime);
        }
        assert_eq!(c.kind(), Some(T2Kind::LogAppendTime));
        assert_eq!(
            c.meaning(),
            "T2 = broker append time (LogAppendTime) for all 3 records"
        );
        c.add(T2Kind::CreateTime);
        assert_eq!((c.kind(), c.label()), (None, "mixed"));
        assert!(
            c.meaning().starts_with("T2 is mixed: 3 records"),
            "{}",
            c.meaning()
        );
        assert_eq!(T2Census::default().label(), "unknown");
        let create = T2Census {
            create_time: 2,
            ..T2Census::default()
        };
        assert!(
            create.meaning().contains("producer create time"),
            "{}",
            create.meaning()
        );
        assert_eq!(
            serde_json::to_string(&T2Kind::CreateTime).unwrap(),
            "\"create_time\""
        );
    }

    #[test]
    fn the_latency_histogram_spans_a_microsecond_to_an_hour() {
        let mut h = latency_histogram();
        h.record(1).unwrap();
        h.record(MAX_US).unwrap();
        assert!(h.record(MAX_US * 2).is_err());
        assert_eq!(h.len(), 2);
    }
}
