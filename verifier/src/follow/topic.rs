//! The Kafka read, on its own task: every record of the run, and the position reached in each
//! partition (so the follow loop knows when the read has caught up with the topic).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::Message as _;
use tokio::sync::mpsc;

use crate::model::join::KafkaEvent;
use crate::sources;

/// What the reader hands the follow loop.
#[derive(Debug)]
pub(crate) enum TopicItem {
    /// A record of the run (with its partition and offset).
    Event(KafkaEvent),
    /// The read reached this offset of this partition (records of other runs).
    Position(i32, i64),
}

/// Reads the topic until the receiver is gone, sending the run's events and, throttled, the
/// positions reached.
pub(crate) async fn read(
    consumer: StreamConsumer,
    run_id: i64,
    end_at_start: BTreeMap<i32, i64>,
    tx: mpsc::Sender<TopicItem>,
) {
    // Partitions already at their end have nothing to read: report them caught up.
    for (p, o) in assigned_offsets(&consumer) {
        if tx.send(TopicItem::Position(p, o - 1)).await.is_err() {
            return;
        }
    }
    let mut last_position = Instant::now();
    loop {
        let m = match consumer.recv().await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!("Kafka: {e}");
                continue;
            }
        };
        let at = (m.partition(), m.offset());
        let item = match sources::parse_record(m.payload(), m.timestamp(), at) {
            Some((r, e)) if r == run_id => TopicItem::Event(e),
            // Other runs' records: only the position matters, and not for each one; but always
            // the record that reaches the end the topic had at the start, or the read would
            // never count as caught up when nothing follows it.
            _ if position_due(
                &end_at_start,
                m.partition(),
                m.offset(),
                last_position.elapsed(),
            ) =>
            {
                last_position = Instant::now();
                TopicItem::Position(m.partition(), m.offset())
            }
            _ => continue,
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// The offset each partition's read starts at.
fn assigned_offsets(consumer: &StreamConsumer) -> Vec<(i32, i64)> {
    consumer
        .assignment()
        .map(|a| {
            a.elements()
                .iter()
                .filter_map(|el| match el.offset() {
                    rdkafka::Offset::Offset(o) => Some((el.partition(), o)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the reader reports the position of a record of another run: at most every 100 ms,
/// and always for the record just before the end the partition had when the read started.
fn position_due(
    end_at_start: &BTreeMap<i32, i64>,
    partition: i32,
    offset: i64,
    since_last: Duration,
) -> bool {
    since_last >= Duration::from_millis(100)
        || end_at_start
            .get(&partition)
            .is_some_and(|end| offset + 1 == *end)
}

/// How far the read got in each partition, and which partitions it has caught up with: read
/// past the end they had at the start.
#[derive(Debug, Clone)]
pub(crate) struct CaughtUp {
    end_at_start: BTreeMap<i32, i64>,
    done: BTreeMap<i32, bool>,
    reached: BTreeMap<i32, i64>,
}

impl CaughtUp {
    /// None caught up yet.
    pub(crate) fn new(end_at_start: BTreeMap<i32, i64>) -> Self {
        let done = end_at_start.keys().map(|p| (*p, false)).collect();
        Self {
            end_at_start,
            done,
            reached: BTreeMap::new(),
        }
    }

    /// The read reached `offset` of `partition`.
    pub(crate) fn reached(&mut self, partition: i32, offset: i64) {
        let r = self.reached.entry(partition).or_insert(offset);
        *r = (*r).max(offset);
        if self
            .end_at_start
            .get(&partition)
            .is_some_and(|end| offset + 1 >= *end)
        {
            self.done.insert(partition, true);
        }
    }

    /// Whether every partition is caught up.
    pub(crate) fn all(&self) -> bool {
        self.done.values().all(|c| *c)
    }

    /// Whether the read reached `ends` (the end offset of each partition now): then every
    /// record on the topic, the run's included, has been read.
    pub(crate) fn covers(&self, ends: &BTreeMap<i32, i64>) -> bool {
        ends.iter()
            .all(|(p, end)| *end == 0 || self.reached.get(p).is_some_and(|r| r + 1 >= *end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_that_reaches_the_start_end_is_always_reported() {
        let end: BTreeMap<i32, i64> = [(0, 10), (1, 7)].into();
        let soon = Duration::from_millis(5);
        assert!(!position_due(&end, 0, 8, soon), "throttled");
        assert!(
            position_due(&end, 0, 9, soon),
            "the last record before the end"
        );
        assert!(
            !position_due(&end, 1, 9, soon),
            "past the end: throttled again"
        );
        assert!(position_due(&end, 0, 3, Duration::from_millis(100)));
        let mut caught_up = CaughtUp::new(end);
        caught_up.reached(0, 9);
        assert!(!caught_up.all());
        caught_up.reached(1, 6);
        assert!(caught_up.all());
        assert!(caught_up.covers(&[(0, 10), (1, 7)].into()));
        assert!(
            !caught_up.covers(&[(0, 12), (1, 7)].into()),
            "records arrived since"
        );
        assert!(
            caught_up.covers(&[(0, 10), (1, 7), (2, 0)].into()),
            "an empty partition"
        );
    }
}
