//! Kafka: the verifier's own read of the CDC topic (group `verifier-group`, positioned by time at
//! the run's start, never committing), how a record of it becomes a [`KafkaEvent`], and the
//! processor group's lag.

use std::collections::BTreeMap;
use std::time::Duration;

use events::stages::{Stamps, T2Kind};
use events::{decode_envelope, EventType};
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::{Endpoints, SourceError};
use crate::model::join::KafkaEvent;

/// How long one request to Kafka may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Parses a record of the CDC topic: `Some((run_id, event))` for an outbox row of a generator
/// run; `None` for anything else (other writers, tombstones, undecodable values: the processor
/// dead-letters those, the verifier does not follow them).
pub(crate) fn parse_record(
    value: Option<&[u8]>,
    timestamp: rdkafka::Timestamp,
    (partition, offset): (i32, i64),
) -> Option<(i64, KafkaEvent)> {
    let (timestamp_ms, t2_kind) = t2_of(timestamp);
    let env = decode_envelope(value).ok()?;
    let row = env.after;
    let run_id = row.run_id?;
    let seq = row.seq?;
    let event_type: EventType = row.event_type.parse().ok()?;
    let stamps = Stamps {
        t_sched: row.t_sched_us().ok()?,
        t0: row.t0_us().ok()?,
        t0c: env.source.ts_us,
        t1: env.ts_us,
        t2: timestamp_ms.map(|ms| ms * 1000),
    };
    Some((
        run_id,
        KafkaEvent {
            seq,
            event_type,
            stamps,
            partition,
            offset,
            t2_kind,
        },
    ))
}

/// A record's timestamp in ms and what it is: the broker's append time, the producer's create
/// time, or none.
pub(crate) fn t2_of(timestamp: rdkafka::Timestamp) -> (Option<i64>, T2Kind) {
    match timestamp {
        rdkafka::Timestamp::LogAppendTime(ms) => (Some(ms), T2Kind::LogAppendTime),
        rdkafka::Timestamp::CreateTime(ms) => (Some(ms), T2Kind::CreateTime),
        rdkafka::Timestamp::NotAvailable => (None, T2Kind::None),
    }
}

fn kafka_config(e: &Endpoints, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &e.bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // Bounded memory: librdkafka's prefetch queue defaults to 64 MB.
        .set("queued.max.messages.kbytes", "4096")
        .set("fetch.max.bytes", "4194304")
        .set("max.partition.fetch.bytes", "1048576")
        .set("fetch.wait.max.ms", "50")
        .set("socket.connection.setup.timeout.ms", "5000")
        .set("log_level", "3");
    c
}

fn kafka_error<'a>(
    e: &'a Endpoints,
    what: &'static str,
) -> impl FnOnce(rdkafka::error::KafkaError) -> SourceError + 'a {
    move |source| SourceError::Kafka {
        addr: e.bootstrap.clone(),
        what,
        source,
    }
}

fn topic_error(e: &Endpoints) -> impl FnOnce(cdc_kafka::TopicError) -> SourceError + '_ {
    move |source| SourceError::Topic {
        addr: e.bootstrap.clone(),
        source: Box::new(source),
    }
}

/// The verifier's reader of the CDC topic.
pub(crate) struct KafkaReader {
    /// The consumer, assigned to every partition.
    pub consumer: StreamConsumer,
    /// Per partition, the end offset when the reader started: once past it and every event is
    /// seen, the read is complete.
    pub end_at_start: BTreeMap<i32, i64>,
}

/// Opens a consumer on every partition of the topic at the first record written at or after
/// `from_us` (the run's start, less a margin for clock skew).
pub(crate) fn open_topic(e: &Endpoints, from_us: i64) -> Result<KafkaReader, SourceError> {
    let consumer: StreamConsumer = kafka_config(e, &e.group)
        .create()
        .map_err(kafka_error(e, "cannot create a consumer"))?;
    let end_at_start =
        cdc_kafka::end_offsets(&consumer, &e.topic, TIMEOUT).map_err(topic_error(e))?;
    let mut by_time = TopicPartitionList::new();
    for &p in end_at_start.keys() {
        by_time
            .add_partition_offset(&e.topic, p, Offset::Offset(from_us / 1000))
            .map_err(kafka_error(e, "cannot ask for offsets by time"))?;
    }
    let found = consumer
        .offsets_for_times(by_time, TIMEOUT)
        .map_err(kafka_error(e, "cannot look up offsets by time"))?;
    let mut assignment = TopicPartitionList::new();
    for el in found.elements() {
        let offset = match el.offset() {
            Offset::Offset(o) => o,
            // No record at or after the time yet: start at the end.
            _ => end_at_start[&el.partition()],
        };
        assignment
            .add_partition_offset(&e.topic, el.partition(), Offset::Offset(offset))
            .map_err(kafka_error(e, "cannot assign the topic's partitions"))?;
    }
    consumer
        .assign(&assignment)
        .map_err(kafka_error(e, "cannot assign the topic's partitions"))?;
    Ok(KafkaReader {
        consumer,
        end_at_start,
    })
}

/// Where the processor group is: its committed offset on each partition where it has one (the
/// next record it will read), and each partition's end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct GroupState {
    /// Committed offsets.
    pub(crate) committed: BTreeMap<i32, i64>,
    /// End offsets.
    pub(crate) ends: BTreeMap<i32, i64>,
}

impl GroupState {
    /// Records the group has not committed, over the partitions it has committed on (`None`
    /// when it has committed nothing).
    pub(crate) fn lag(&self) -> Option<i64> {
        let behind: Vec<i64> = self
            .committed
            .iter()
            .map(|(p, c)| (self.ends.get(p).copied().unwrap_or(*c) - c).max(0))
            .collect();
        (!behind.is_empty()).then(|| behind.iter().sum())
    }
}

/// Reads the processor group's committed offsets and the topic's ends. Blocking; one client
/// reused for every probe.
pub(crate) struct LagProbe {
    consumer: BaseConsumer,
    endpoints: Endpoints,
}

impl LagProbe {
    /// A client in the processor's group that never joins it (it only reads commits).
    pub(crate) fn new(e: &Endpoints) -> Result<Self, SourceError> {
        Ok(Self {
            consumer: kafka_config(e, &e.processor_group)
                .create()
                .map_err(kafka_error(e, "cannot create a client"))?,
            endpoints: e.clone(),
        })
    }

    /// The group's state now.
    pub(crate) fn state(&mut self) -> Result<GroupState, SourceError> {
        let e = &self.endpoints;
        let timeout = Duration::from_secs(3);
        let ends =
            cdc_kafka::end_offsets(&self.consumer, &e.topic, timeout).map_err(topic_error(e))?;
        let mut tpl = TopicPartitionList::new();
        for &p in ends.keys() {
            tpl.add_partition(&e.topic, p);
        }
        let committed = self
            .consumer
            .committed_offsets(tpl, timeout)
            .map_err(kafka_error(e, "cannot read the processor group's offsets"))?;
        let committed = committed
            .elements()
            .iter()
            .filter_map(|el| match el.offset() {
                Offset::Offset(o) => Some((el.partition(), o)),
                _ => None,
            })
            .collect();
        Ok(GroupState { committed, ends })
    }
}
