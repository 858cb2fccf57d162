//! The consume → apply → commit loop, and its one shutdown path.
//!
//! Each round: receive a batch of records (at most `batch_size`, without waiting for more than
//! are already fetched), dead-letter the ones that cannot be applied, apply the rest to
//! MongoDB (retrying with backoff until the store acknowledges), write the receipts, and only
//! then store the batch's offsets for the next commit. Offsets are committed every second,
//! before partitions are revoked, and at shutdown; so a record is never committed before its
//! effects are durable, and any record may be applied twice, which changes nothing
//! ([`crate::plan`]).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Message as _, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::sync::watch;

use crate::config::Config;
use crate::decode::{decode_record, Event, RejectionKind};
use crate::metrics::{metrics_file_line, Metrics};
use crate::plan::{receipt, Plan, Position};
use crate::store::Store;

/// How long the loop keeps retrying a failing batch after a stop was requested, so that the
/// process exits within 5 s.
const STOP_GRACE: Duration = Duration::from_secs(4);
/// Longest pause between two attempts at a failing batch.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What a record's timestamp is: the broker's append time, the producer's create time, or none.
fn t2_kind(timestamp: rdkafka::Timestamp) -> events::T2Kind {
    match timestamp {
        rdkafka::Timestamp::LogAppendTime(_) => events::T2Kind::LogAppendTime,
        rdkafka::Timestamp::CreateTime(_) => events::T2Kind::CreateTime,
        rdkafka::Timestamp::NotAvailable => events::T2Kind::None,
    }
}

/// The current time in µs since the epoch.
pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Kafka client callbacks: errors are logged with the broker address; before partitions are
/// revoked, the offsets stored so far are committed synchronously.
struct KafkaContext {
    bootstrap: String,
    metrics: Arc<Metrics>,
}

impl ClientContext for KafkaContext {
    fn error(&self, error: KafkaError, reason: &str) {
        self.metrics.kafka_error();
        tracing::error!("Kafka at {}: {error}: {reason}", self.bootstrap);
    }
}

impl ConsumerContext for KafkaContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            tracing::info!(
                "partitions revoked: {}; committing stored offsets",
                describe(tpl)
            );
            self.metrics.assigned(0);
            if let Err(e) = consumer.commit_consumer_state(CommitMode::Sync) {
                // Nothing stored since the last commit is the usual reason; anything else only
                // means a replay for the next owner, which changes nothing.
                tracing::debug!("commit on revoke: {e}");
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            tracing::info!("partitions assigned: {}", describe(tpl));
            self.metrics.assigned(tpl.count());
        }
    }

    fn commit_callback(&self, result: rdkafka::error::KafkaResult<()>, _: &TopicPartitionList) {
        match result {
            Ok(())
            | Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {}
            Err(e) => tracing::warn!("Kafka at {}: offset commit failed: {e}", self.bootstrap),
        }
    }
}

fn describe(tpl: &TopicPartitionList) -> String {
    let parts: Vec<String> = tpl
        .elements()
        .iter()
        .map(|e| e.partition().to_string())
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        format!("{} [{}]", tpl.elements()[0].topic(), parts.join(","))
    }
}

/// The service a failing step depends on, for messages and counters.
#[derive(Debug, Clone, Copy)]
enum Service {
    Store,
    Kafka,
}

/// One record of a batch with the time it was received (`t3`).
struct Received {
    message: OwnedMessage,
    t3: i64,
}

/// The running processor.
pub struct Processor {
    config: Config,
    consumer: StreamConsumer<KafkaContext>,
    producer: FutureProducer,
    store: Store,
    metrics: Arc<Metrics>,
    metrics_file: Option<std::io::BufWriter<std::fs::File>>,
    stop: watch::Receiver<bool>,
}

impl Processor {
    /// Connects to Kafka and MongoDB, checks that the topic exists and the store answers.
    /// Errors name the service and address.
    pub async fn connect(
        config: Config,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        let context = KafkaContext {
            bootstrap: config.bootstrap.clone(),
            metrics: Arc::clone(&metrics),
        };
        let consumer: StreamConsumer<KafkaContext> = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap)
            .set("group.id", &config.group)
            .set("client.id", "event-processor")
            // A new group starts at the beginning: events written before the first start are
            // not skipped. scripts/demo/setup.sh resets the group when the demo starts over.
            .set("auto.offset.reset", "earliest")
            // Offsets are stored by the loop only after MongoDB acknowledged the batch, and
            // committed from there every second (and on revoke, and at shutdown).
            .set("enable.auto.offset.store", "false")
            .set("enable.auto.commit", "true")
            .set("auto.commit.interval.ms", "1000")
            // A crashed instance's partitions move to the others after 6 s, not 45 s.
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "2000")
            .set("fetch.wait.max.ms", "50")
            .create_with_context(context)
            .with_context(|| format!("creating the Kafka consumer for {}", config.bootstrap))?;
        cdc_kafka::partitions(&consumer, &config.topic, Duration::from_secs(10))
            .map_err(|e| topic_error(&config, e))?;
        consumer
            .subscribe(&[&config.topic])
            .context("subscribing to the CDC topic")?;

        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap)
            .set("client.id", "event-processor-dlq")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .with_context(|| {
                format!("creating the dead-letter producer for {}", config.bootstrap)
            })?;

        let store = Store::new(&config.mongodb_uri).await?;
        store
            .ping()
            .await
            .with_context(|| "is the stack up (stack/up.sh)? MONGODB_URI names the store")?;

        let metrics_file = match &config.metrics_file {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open METRICS_FILE {}", path.display()))?,
            )),
            None => None,
        };
        tracing::info!(
            "consuming {} as group {} from Kafka at {}; writing to MongoDB at {} (database {}); dead letters to {}",
            config.topic, config.group, config.bootstrap, store.address(), store.database(), config.dlq_topic
        );
        Ok(Self {
            config,
            consumer,
            producer,
            store,
            metrics,
            metrics_file,
            stop,
        })
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs until a stop is requested. Returns an error only when the batch in flight could not
    /// be applied before the stop deadline (its offsets are then not committed; it is re-read
    /// on restart).
    pub async fn run(mut self) -> anyhow::Result<()> {
        let mut summary = tokio::time::interval(self.config.summary_interval);
        summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        summary.tick().await;
        let mut stop = self.stop.clone();
        let outcome = loop {
            if self.stopping() {
                break Ok(());
            }
            let batch = tokio::select! {
                biased;
                _ = stop.changed() => continue,
                _ = summary.tick() => {
                    tracing::info!("summary: {}", self.metrics.take_summary().line());
                    continue;
                }
                first = self.consumer.recv() => match first {
                    Ok(m) => Received { message: m.detach(), t3: now_us() },
                    Err(e) => {
                        self.metrics.kafka_error();
                        tracing::error!("Kafka at {}: receiving failed: {e}", self.config.bootstrap);
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                },
            };
            let batch = self.fill_batch(batch).await;
            if let Err(e) = self.process(&batch).await {
                break Err(e);
            }
        };
        self.shutdown(outcome.is_ok());
        outcome
    }

    /// Takes whatever else is already fetched, up to the batch size, without waiting: a
    /// zero timeout still polls the receive once, which returns a record already in the
    /// client's queue.
    async fn fill_batch(&self, first: Received) -> Vec<Received> {
        let mut batch = vec![first];
        while batch.len() < self.config.batch_size {
            match tokio::time::timeout(Duration::ZERO, self.consumer.recv()).await {
                Ok(Ok(m)) => batch.push(Received {
                    message: m.detach(),
                    t3: now_us(),
                }),
                Ok(Err(e)) => {
                    self.metrics.kafka_error();
                    tracing::warn!("Kafka at {}: {e}", self.config.bootstrap);
                    break;
                }
                Err(_) => break,
            }
        }
        batch
    }

    async fn process(&mut self, batch: &[Received]) -> anyhow::Result<()> {
        self.metrics.batch(batch.len());
        let mut events: Vec<(Event, &Received)> = Vec::with_capacity(batch.len());
        for r in batch {
            let ts = r.message.timestamp().to_millis();
            self.metrics.timestamp(t2_kind(r.message.timestamp()));
            match decode_record(r.message.payload(), ts) {
                Ok(e) => events.push((e, r)),
                Err(rejection) => {
                    self.dead_letter(r, rejection.kind, &rejection.message)
                        .await?
                }
            }
        }
        let plan = Plan::new(events.iter().map(|(e, _)| e));
        let store = self.store.clone();
        self.retry(Service::Store, "applying the batch", || store.apply(&plan))
            .await?;
        let t5 = now_us();
        let receipts: Vec<_> = events
            .iter()
            .map(|(e, r)| {
                receipt(
                    e,
                    r.t3,
                    t5,
                    Position {
                        partition: r.message.partition(),
                        offset: r.message.offset(),
                    },
                )
            })
            .collect();
        let replayed = self
            .retry(Service::Store, "writing receipts", || {
                store.insert(events::names::PROCESSED_EVENTS, &receipts)
            })
            .await?;
        let replayed: std::collections::BTreeSet<usize> = replayed.into_iter().collect();
        for (i, (e, r)) in events.iter().enumerate() {
            let again = replayed.contains(&i);
            let t = e.payload.event_type();
            self.metrics.event(t, &e.stamps, r.t3, t5, again);
            if let Some(f) = self.metrics_file.as_mut() {
                f.write_all(metrics_file_line(&e.id, t, &e.stamps, r.t3, t5).as_bytes())
                    .context("writing METRICS_FILE")?;
            }
        }
        if let Some(f) = self.metrics_file.as_mut() {
            f.flush().context("writing METRICS_FILE")?;
        }
        self.store_offsets(batch);
        Ok(())
    }

    /// Retries `attempt` with exponential backoff until it succeeds, or until the stop grace
    /// period after a stop request has passed. Each failure is logged (the error names the
    /// service and its address) and counted against `service`.
    async fn retry<T, E, F, Fut>(
        &self,
        service: Service,
        what: &str,
        mut attempt: F,
    ) -> anyhow::Result<T>
    where
        E: std::fmt::Display,
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, E>>,
    {
        let mut backoff = Duration::from_millis(100);
        let mut tries = 0u32;
        let mut stop_seen: Option<Instant> = None;
        loop {
            match attempt().await {
                Ok(v) => {
                    if tries > 0 {
                        tracing::info!(
                            "{} is back: {what} succeeded after {tries} failed attempts",
                            self.address(service)
                        );
                    }
                    return Ok(v);
                }
                Err(e) => {
                    tries += 1;
                    match service {
                        Service::Store => self.metrics.store_retry(),
                        Service::Kafka => self.metrics.kafka_error(),
                    }
                    if self.stopping() {
                        let since = *stop_seen.get_or_insert_with(Instant::now);
                        if since.elapsed() >= STOP_GRACE {
                            anyhow::bail!("stopping with a batch not applied ({what}: {e}); its offsets were not committed, so it is re-read on restart");
                        }
                    }
                    tracing::warn!("{what} failed (attempt {tries}): {e}; retrying in {} ms; offsets do not advance", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    fn address(&self, service: Service) -> String {
        match service {
            Service::Store => format!("MongoDB store at {}", self.store.address()),
            Service::Kafka => format!("Kafka at {}", self.config.bootstrap),
        }
    }

    async fn dead_letter(
        &self,
        r: &Received,
        kind: RejectionKind,
        reason: &str,
    ) -> anyhow::Result<()> {
        let m = &r.message;
        tracing::warn!(
            "dead-lettering {}[{}]@{}: {kind}: {reason}",
            m.topic(),
            m.partition(),
            m.offset()
        );
        let partition = m.partition().to_string();
        let offset = m.offset().to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "dlq.reason",
                value: Some(reason),
            })
            .insert(Header {
                key: "dlq.reason.kind",
                value: Some(kind.as_str()),
            })
            .insert(Header {
                key: "dlq.source.topic",
                value: Some(m.topic()),
            })
            .insert(Header {
                key: "dlq.source.partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "dlq.source.offset",
                value: Some(&offset),
            });
        let what = format!("writing a dead letter to {}", self.config.dlq_topic);
        self.retry(Service::Kafka, &what, || {
            let mut record =
                FutureRecord::<[u8], [u8]>::to(&self.config.dlq_topic).headers(headers.clone());
            if let Some(k) = m.key() {
                record = record.key(k);
            }
            if let Some(p) = m.payload() {
                record = record.payload(p);
            }
            let send = self.producer.send(record, Duration::from_secs(5));
            async move {
                send.await
                    .map(|_| ())
                    .map_err(|(e, _)| format!("Kafka at {}: {e}", self.config.bootstrap))
            }
        })
        .await?;
        self.metrics.dead_lettered(kind);
        Ok(())
    }

    /// Stores, per partition, the offset after the batch's last record, for the next commit.
    fn store_offsets(&self, batch: &[Received]) {
        let mut next: BTreeMap<i32, i64> = BTreeMap::new();
        for r in batch {
            let e = next.entry(r.message.partition()).or_insert(0);
            *e = (*e).max(r.message.offset() + 1);
        }
        let mut tpl = TopicPartitionList::new();
        for (p, o) in next {
            if let Err(e) = tpl.add_partition_offset(&self.config.topic, p, Offset::Offset(o)) {
                tracing::warn!("offset {o} of partition {p}: {e}");
            }
        }
        if let Err(e) = self.consumer.store_offsets(&tpl) {
            // The partition was revoked meanwhile: its new owner re-reads the batch, and
            // applying it again changes nothing.
            tracing::info!("offsets of a revoked partition not stored ({e}); its new owner replays them harmlessly");
        }
    }

    fn shutdown(self, clean: bool) {
        tracing::info!("summary: {}", self.metrics.take_summary().line());
        if clean {
            match self.consumer.commit_consumer_state(CommitMode::Sync) {
                Ok(()) | Err(KafkaError::ConsumerCommit(rdkafka::types::RDKafkaErrorCode::NoOffset)) => {
                    tracing::info!("offsets committed");
                }
                Err(e) => tracing::warn!("Kafka at {}: final commit failed: {e}; the last batches are re-read on restart (harmless)", self.config.bootstrap),
            }
        }
        use rdkafka::producer::Producer as _;
        let _ = self.producer.flush(Duration::from_secs(1));
        drop(self.consumer);
    }
}

/// What a failure to read the topic means for the user, with Kafka's address.
fn topic_error(config: &Config, e: cdc_kafka::TopicError) -> anyhow::Error {
    match e {
        cdc_kafka::TopicError::NoTopic(_) => anyhow::anyhow!(
            "topic {} does not exist on Kafka at {}; stack/up.sh creates it (CDC_TOPIC)",
            config.topic,
            config.bootstrap
        ),
        e => anyhow::anyhow!(
            "Kafka at {} is not reachable (KAFKA_BOOTSTRAP): {e}; is the stack up (stack/up.sh)?",
            config.bootstrap
        ),
    }
}

/// `event-processor --reset`: drops the projections and receipts in the store and commits the
/// consumer group's offsets at the end of every partition of the topic, so the next start
/// consumes only what is written after it. Returns a one-line account of what was done.
pub async fn reset(config: &Config) -> anyhow::Result<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap)
        .set("group.id", &config.group)
        .set("client.id", "event-processor-reset")
        .set("enable.auto.commit", "false")
        .create()
        .with_context(|| format!("creating a Kafka client for {}", config.bootstrap))?;
    let ends_at = cdc_kafka::end_offsets(&consumer, &config.topic, Duration::from_secs(10))
        .map_err(|e| topic_error(config, e))?;
    let mut ends = TopicPartitionList::new();
    for (&p, &high) in &ends_at {
        ends.add_partition_offset(&config.topic, p, Offset::Offset(high))?;
    }
    let at: Vec<String> = ends_at.iter().map(|(p, o)| format!("{p}:{o}")).collect();
    consumer.commit(&ends, CommitMode::Sync).with_context(|| {
        format!(
            "moving group {} to the end of {}: is an event-processor of that group still running? Stop it first",
            config.group, config.topic
        )
    })?;

    let store = Store::new(&config.mongodb_uri).await?;
    let dropped = store
        .drop_projections()
        .await
        .with_context(|| "is the stack up (stack/up.sh)? MONGODB_URI names the store")?;
    Ok(format!(
        "group {} now starts at the end of {} (partition:offset {}); dropped {} in database {} of the store at {}",
        config.group,
        config.topic,
        at.join(" "),
        if dropped.is_empty() { "nothing".to_owned() } else { dropped.join(", ") },
        store.database(),
        store.address()
    ))
}
