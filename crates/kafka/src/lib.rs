//! Kafka helpers shared by `event-processor`, the verifier and the end-to-end tests, so that
//! what they ask of a topic is asked one way: [`partitions`] and [`end_offsets`].
//!
//! Errors say what could not be read; callers add the service's address (they know which
//! variable named it).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::consumer::{Consumer, ConsumerContext};
use rdkafka::error::KafkaError;

/// What could not be read of a topic.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The cluster did not answer the metadata request.
    #[error("no answer to a metadata request: {0}")]
    NoAnswer(#[source] KafkaError),
    /// The topic does not exist (or has no partitions).
    #[error("topic {0} does not exist")]
    NoTopic(String),
    /// The end of one partition could not be read.
    #[error("cannot read the end offset of {topic} [{partition}]: {source}")]
    Watermarks {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// Why.
        #[source]
        source: KafkaError,
    },
}

/// The partition ids of `topic`, in order.
pub fn partitions<X: ConsumerContext, C: Consumer<X>>(
    client: &C,
    topic: &str,
    timeout: Duration,
) -> Result<Vec<i32>, TopicError> {
    let md = client
        .fetch_metadata(Some(topic), timeout)
        .map_err(TopicError::NoAnswer)?;
    let mut ids: Vec<i32> = md
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    ids.sort_unstable();
    if ids.is_empty() {
        return Err(TopicError::NoTopic(topic.to_owned()));
    }
    Ok(ids)
}

/// The end offset (high watermark: the offset the next record will get) of every partition of
/// `topic`.
pub fn end_offsets<X: ConsumerContext, C: Consumer<X>>(
    client: &C,
    topic: &str,
    timeout: Duration,
) -> Result<BTreeMap<i32, i64>, TopicError> {
    partitions(client, topic, timeout)?
        .into_iter()
        .map(|p| {
            let (_, high) = client
                .fetch_watermarks(topic, p, timeout)
                .map_err(|source| TopicError::Watermarks {
                    topic: topic.to_owned(),
                    partition: p,
                    source,
                })?;
            Ok((p, high))
        })
        .collect()
}
