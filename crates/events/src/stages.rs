//! The pipeline's stages and how one event's timestamps turn into stage durations
//! (`DESIGN.md`, "Timestamps"). Shared by the processor and the verifier so both measure alike.

/// Stage names, in pipeline order.
pub const STAGES: [&str; 6] = [
    "commit",
    "capture",
    "publish",
    "queue",
    "process",
    "end_to_end",
];

/// Index of each stage in [`STAGES`].
pub mod stage {
    /// `t0c - t0`: insert to commit in PostgreSQL.
    pub const COMMIT: usize = 0;
    /// `t1 - t0c`: commit to Debezium reading it.
    pub const CAPTURE: usize = 1;
    /// `t2 - t1`: Debezium read to the Kafka record timestamp.
    pub const PUBLISH: usize = 2;
    /// `t3 - t2`: in Kafka until the processor received it.
    pub const QUEUE: usize = 3;
    /// `t5 - t3`: received to written in MongoDB.
    pub const PROCESS: usize = 4;
    /// `t5 - t0` (from `t_sched` in rate mode).
    pub const END_TO_END: usize = 5;
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
    /// The duration of each stage in µs, given when the processor received the record (`t3`)
    /// and MongoDB acknowledged the write (`t5`). `None` where an end is unknown.
    pub fn durations(&self, t3: i64, t5: i64) -> [Option<i64>; 6] {
        let mut d = self.kafka_durations();
        d[stage::QUEUE] = self.t2.map(|t2| t3 - t2);
        d[stage::PROCESS] = Some(t5 - t3);
        d[stage::END_TO_END] = Some(t5 - self.t_sched.unwrap_or(self.t0));
        d
    }

    /// The stages measurable from the Kafka record alone (commit, capture, publish); the rest
    /// are `None`.
    pub fn kafka_durations(&self) -> [Option<i64>; 6] {
        [
            Some(self.t0c - self.t0),
            Some(self.t1 - self.t0c),
            self.t2.map(|t2| t2 - self.t1),
            None,
            None,
            None,
        ]
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

/// Judges the duration `d` µs of stage `stage` (an index into [`STAGES`]).
pub fn judge(stage: usize, d: i64) -> Sample {
    if d >= 0 {
        Sample::Measured(d)
    } else if stage == stage::PUBLISH && d > -1000 {
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
        assert_eq!(
            stamps().durations(6_000, 10_000),
            [
                Some(500),
                Some(1_500),
                Some(1_000),
                Some(2_000),
                Some(4_000),
                Some(9_000)
            ]
        );
        let rate = Stamps {
            t_sched: Some(500),
            ..stamps()
        };
        assert_eq!(rate.durations(6_000, 10_000)[5], Some(9_500));
        let no_ts = Stamps {
            t2: None,
            ..stamps()
        };
        assert_eq!(no_ts.durations(6_000, 10_000)[2..4], [None, None]);
        assert_eq!(stamps().kafka_durations()[3..], [None, None, None]);
    }

    #[test]
    fn negative_publish_within_a_millisecond_is_resolution_not_skew() {
        assert_eq!(judge(stage::PUBLISH, -999), Sample::BelowResolution);
        assert_eq!(judge(stage::PUBLISH, -1000), Sample::Skewed(-1000));
        assert_eq!(judge(stage::CAPTURE, -1), Sample::Skewed(-1));
        assert_eq!(judge(stage::QUEUE, 0), Sample::Measured(0));
    }
}
