//! Where an event without an effect is (pure): a late event is not a lost one. An event is
//! *lost* only when something provably moved on without it: the consumer group committed past
//! every copy of it on Kafka, or (never on Kafka) Debezium confirmed the WAL past the run and the
//! verifier's own read reached the topic's end. Otherwise it is *pending*, with how far it got;
//! and where the consumer commits nothing the verifier can see, lost and pending cannot be told
//! apart, and the report says so rather than guess.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where one event without an effect is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fate", rename_all = "snake_case")]
pub enum Fate {
    /// On Kafka, and the consumer group committed past its last copy: it moved on without it.
    Lost {
        /// Its partition.
        partition: i32,
        /// Its (last copy's) offset.
        offset: i64,
        /// The group's committed offset there (the next record it will read).
        committed: i64,
    },
    /// On Kafka, and the consumer has not reached it yet.
    Pending {
        /// Its partition.
        partition: i32,
        /// Its (last copy's) offset.
        offset: i64,
        /// Records of its partition still ahead of it for the consumer.
        ahead: i64,
    },
    /// On Kafka, but the consumer group has committed nothing on its partition that the
    /// verifier can see: lost and pending cannot be told apart.
    Undetermined {
        /// Its partition.
        partition: i32,
        /// Its (last copy's) offset.
        offset: i64,
    },
    /// Never seen on Kafka, and Debezium or the verifier's read has not passed it yet.
    PendingBeforeKafka,
    /// Never seen on Kafka, though Debezium confirmed the WAL past the run and the verifier's
    /// read reached the end of every partition: lost before Kafka.
    LostBeforeKafka,
}

impl Fate {
    /// Whether it is proven lost.
    pub fn is_lost(self) -> bool {
        matches!(self, Fate::Lost { .. } | Fate::LostBeforeKafka)
    }
}

/// What the verifier knows, when following stops, about how far each part got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Reach {
    /// The consumer group's committed offsets by partition (`None`: not known at all).
    pub committed: Option<BTreeMap<i32, i64>>,
    /// Whether Debezium confirmed the WAL past everything the run wrote (`None`: not known).
    pub debezium_passed: Option<bool>,
    /// Whether the verifier's own read reached the end every partition has now.
    pub read_caught_up: bool,
}

/// The fate of an event last seen at `at` (partition, offset of its last copy on Kafka), or
/// never seen on Kafka (`None`).
pub(crate) fn fate(at: Option<(i32, i64)>, reach: &Reach) -> Fate {
    match at {
        Some((partition, offset)) => {
            match reach.committed.as_ref().and_then(|c| c.get(&partition)) {
                None => Fate::Undetermined { partition, offset },
                Some(&committed) if committed > offset => Fate::Lost {
                    partition,
                    offset,
                    committed,
                },
                Some(&committed) => Fate::Pending {
                    partition,
                    offset,
                    ahead: offset - committed,
                },
            }
        }
        None if reach.debezium_passed == Some(true) && reach.read_caught_up => {
            Fate::LostBeforeKafka
        }
        None => Fate::PendingBeforeKafka,
    }
}

/// How many events of each kind of fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FateCounts {
    /// Proven lost (at the consumer or before Kafka).
    pub lost: u64,
    /// Still on their way (at the consumer or before Kafka).
    pub pending: u64,
    /// Of those, not yet on Kafka.
    pub pending_before_kafka: u64,
    /// Lost and pending cannot be told apart (the consumer commits nothing visible).
    pub undetermined: u64,
}

impl FateCounts {
    /// Counts one more.
    pub fn add(&mut self, f: Fate) {
        match f {
            Fate::Lost { .. } | Fate::LostBeforeKafka => self.lost += 1,
            Fate::Pending { .. } => self.pending += 1,
            Fate::PendingBeforeKafka => {
                self.pending += 1;
                self.pending_before_kafka += 1;
            }
            Fate::Undetermined { .. } => self.undetermined += 1,
        }
    }
}

/// Whether the consumer group moved toward the run since `before`: a committed offset advanced
/// (or appeared) on a partition where the group had not yet passed the run's last record seen
/// there (`run_last`). A consumer draining the records ahead of a run is working toward it, so
/// following is not idle; one that moves on past the run's events is not.
pub(crate) fn moved_toward(
    before: &BTreeMap<i32, i64>,
    now: &BTreeMap<i32, i64>,
    run_last: &BTreeMap<i32, i64>,
) -> bool {
    now.iter().any(|(p, o)| {
        let was = before.get(p).copied();
        let advanced = was.is_none_or(|b| *o > b);
        let short_of_run = run_last
            .get(p)
            .is_some_and(|last| was.is_none_or(|b| b <= *last));
        advanced && short_of_run
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reach(committed: &[(i32, i64)]) -> Reach {
        Reach {
            committed: Some(committed.iter().copied().collect()),
            debezium_passed: Some(true),
            read_caught_up: true,
        }
    }

    #[test]
    fn lost_only_when_the_consumer_committed_past_it() {
        let r = reach(&[(0, 100), (1, 5)]);
        assert_eq!(
            fate(Some((0, 99)), &r),
            Fate::Lost {
                partition: 0,
                offset: 99,
                committed: 100
            }
        );
        // the committed offset is the next record to read: offset 100 is not passed yet
        assert_eq!(
            fate(Some((0, 100)), &r),
            Fate::Pending {
                partition: 0,
                offset: 100,
                ahead: 0
            }
        );
        assert_eq!(
            fate(Some((1, 505)), &r),
            Fate::Pending {
                partition: 1,
                offset: 505,
                ahead: 500
            }
        );
        // no commit on partition 2, or none known at all: cannot tell
        assert_eq!(
            fate(Some((2, 3)), &r),
            Fate::Undetermined {
                partition: 2,
                offset: 3
            }
        );
        let unknown = Reach {
            committed: None,
            ..r.clone()
        };
        assert!(matches!(
            fate(Some((0, 1)), &unknown),
            Fate::Undetermined { .. }
        ));
    }

    #[test]
    fn never_on_kafka_is_lost_only_once_debezium_and_the_read_passed_it() {
        let mut r = reach(&[]);
        assert_eq!(fate(None, &r), Fate::LostBeforeKafka);
        r.read_caught_up = false;
        assert_eq!(fate(None, &r), Fate::PendingBeforeKafka);
        r.read_caught_up = true;
        r.debezium_passed = Some(false);
        assert_eq!(fate(None, &r), Fate::PendingBeforeKafka);
        r.debezium_passed = None;
        assert_eq!(fate(None, &r), Fate::PendingBeforeKafka);
    }

    #[test]
    fn counts_and_the_idle_rule_over_a_known_series() {
        let mut c = FateCounts::default();
        for f in [
            Fate::LostBeforeKafka,
            Fate::PendingBeforeKafka,
            Fate::Pending {
                partition: 0,
                offset: 1,
                ahead: 1,
            },
            Fate::Undetermined {
                partition: 0,
                offset: 1,
            },
        ] {
            c.add(f);
        }
        assert_eq!(
            (c.lost, c.pending, c.pending_before_kafka, c.undetermined),
            (1, 2, 1, 1)
        );
        // The run's last records sit at offset 50 on partition 0 and 30 on partition 1; the
        // consumer drains the backlog ahead of them, then passes them.
        let run_last: BTreeMap<i32, i64> = [(0, 50), (1, 30)].into();
        let series: [BTreeMap<i32, i64>; 6] = [
            [(0, 10), (1, 10)].into(),
            [(0, 10), (1, 10)].into(),         // nothing moved
            [(0, 10), (1, 25)].into(),         // toward the run on 1
            [(0, 51), (1, 25)].into(),         // reached past the run's end on 0, from before it
            [(0, 90), (1, 25)].into(),         // already past the run on 0: not toward it
            [(0, 90), (1, 25), (2, 7)].into(), // a partition without the run's events
        ];
        let moved: Vec<bool> = series
            .windows(2)
            .map(|w| moved_toward(&w[0], &w[1], &run_last))
            .collect();
        assert_eq!(moved, [false, true, true, false, false]);
        assert!(
            !moved_toward(&series[2], &series[1], &run_last),
            "going back (a reset) is not progress"
        );
    }
}
