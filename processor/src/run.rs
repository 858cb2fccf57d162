//! The consume → apply → commit loop, and its one shutdown path.
//!
//! Each round: receive a batch of records (at most `batch_size`, without waiting for more than
//! are already fetched), dead-letter the ones that cannot be applied, apply the rest to
//! MongoDB (retrying with backoff until the store acknowledges), write the receipts, and only
//! then store the batch's offsets for the next commit. The receipts are written in a task of
//! their own while the next batch is received and applied when `in_flight` is 2 or more (1, the
//! default, is one batch at a time); batches finish in the order they were received, so an
//! offset is never stored before the effects and receipts of every record before it. Offsets are committed every second,
//! before partitions are revoked, and at shutdown; so a record is never committed before its
//! effects are durable, and any record may be applied twice, which changes nothing
//! ([`crate::plan`]).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use mongodb::bson::Document;
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
use crate::error::Error;
use crate::metrics::{metrics_file_line, Metrics};
use crate::plan::{receipt, Plan, Position};
use crate::retry::{Retrier, Service};
use crate::store::Store;

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

/// One record of a batch with the time it was received (`t3`).
struct Received {
    message: OwnedMessage,
    t3: i64,
}

/// One applied event: what the metrics and the metrics file need once its receipt is written.
struct AppliedEvent {
    event: Event,
    t3: i64,
}

/// A batch whose projections the store acknowledged (at `t5`); its receipts are on their way.
/// `next_offsets`: per partition, the offset after its last record (dead letters included),
/// stored once the receipts are acknowledged too.
struct Applied {
    events: Vec<AppliedEvent>,
    t5: i64,
    next_offsets: BTreeMap<i32, i64>,
}

/// An [`Applied`] batch with its receipts acknowledged; `replayed` holds the indices (into
/// `events`) whose receipt already existed.
struct Written {
    applied: Applied,
    replayed: BTreeSet<usize>,
}

/// Batches whose receipts are being written, oldest first; they finish in this order.
type InFlight = VecDeque<tokio::task::JoinHandle<Result<Written, Error>>>;

/// What the processor did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    /// Consumed until a stop was asked for, finished the batches in flight and committed.
    Stopped,
    /// `--reset`: what was reset, in one line.
    Reset(String),
}

/// The processor as `event-processor` runs it: `--reset`; or serve `/metrics`, connect to
/// Kafka and the store, write the ready file, and consume until `shutdown` completes (the one
/// shutdown path: the batches in flight finish, in order, then the offsets are committed).
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Done, Error> {
    if config.reset {
        return reset(&config).await.map(Done::Reset);
    }
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("stop requested: finishing the batch in flight, then committing");
        let _ = stop_tx.send(true);
    });
    let metrics = Arc::new(Metrics::new());
    let bound = match config.metrics_addr {
        Some(addr) => Some(serve_metrics(addr, Arc::clone(&metrics), stop_rx.clone()).await?),
        None => None,
    };
    let ready_file = config.ready_file.clone();
    let processor = Processor::connect(config, metrics, stop_rx).await?;
    if let Some(path) = ready_file {
        telemetry::ready::write(&path, &[("metrics", bound)])
            .map_err(|source| Error::ReadyFile { path, source })?;
    }
    processor.run().await.map(|()| Done::Stopped)
}

/// Serves `/metrics` at `addr` until `stop`; returns the address bound (with port 0, the one the
/// OS picked).
async fn serve_metrics(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) -> Result<SocketAddr, Error> {
    let listener = telemetry::http::bind(addr)
        .await
        .map_err(|source| Error::Listen { addr, source })?;
    let bound = listener.local_addr().unwrap_or(addr);
    tokio::spawn(telemetry::http::serve(
        listener,
        move |path| {
            (path == "/metrics").then(|| {
                let mut body = metrics.render();
                telemetry::prom::heap_in_use(&mut body, "processor", memory::heap_in_use());
                telemetry::http::Response {
                    content_type: telemetry::prom::CONTENT_TYPE,
                    body,
                }
            })
        },
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    ));
    tracing::info!("metrics on http://{bound}/metrics");
    Ok(bound)
}

/// What the loop woke up for.
enum Wake {
    Stop,
    Summary,
    Written(Result<Written, Error>),
    Record(Received),
    KafkaError(KafkaError),
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
    retrier: Retrier,
}

impl Processor {
    /// Connects to Kafka and MongoDB, checks that the topic exists and the store answers.
    /// Errors name the service and address.
    pub async fn connect(
        config: Config,
        metrics: Arc<Metrics>,
        stop: watch::Receiver<bool>,
    ) -> Result<Self, Error> {
        let consumer = consumer(&config, &metrics)?;
        let producer: FutureProducer = ClientConfig::new()
            .set("bootstrap.servers", &config.bootstrap)
            .set("client.id", "event-processor-dlq")
            .set("enable.idempotence", "true")
            .set("linger.ms", "5")
            .create()
            .map_err(|source| kafka_error(&config, "creating the dead-letter producer", source))?;

        let store = Store::new(&config.mongodb_uri, config.store_writers).await?;
        store.ping().await?;

        let metrics_file = match &config.metrics_file {
            Some(path) => Some(std::io::BufWriter::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| Error::MetricsFile {
                        path: path.clone(),
                        source,
                    })?,
            )),
            None => None,
        };
        tracing::info!(
            "consuming {} as group {} from Kafka at {}; writing to MongoDB at {} (database {}); dead letters to {}; {} batches in flight",
            config.topic, config.group, config.bootstrap, store.address(), store.database(), config.dlq_topic, config.in_flight
        );
        let retrier = Retrier {
            metrics: Arc::clone(&metrics),
            stop: stop.clone(),
            store_address: store.address().to_owned(),
            bootstrap: config.bootstrap.clone(),
        };
        Ok(Self {
            config,
            consumer,
            producer,
            store,
            metrics,
            metrics_file,
            stop,
            retrier,
        })
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs until a stop is requested. Returns an error only when a batch in flight could not
    /// be applied before the stop deadline (its offsets, and those of any batch after it, are
    /// then not committed; they are re-read on restart).
    pub async fn run(mut self) -> Result<(), Error> {
        let mut summary = tokio::time::interval(self.config.summary_interval);
        summary.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        summary.tick().await;
        let mut in_flight = InFlight::new();
        let outcome = loop {
            if self.stopping() {
                break Ok(());
            }
            let first = match self.wake(&mut summary, &mut in_flight).await {
                Wake::Stop => continue,
                Wake::Summary => {
                    tracing::info!("summary: {}", self.metrics.take_summary().line());
                    memory::release_free();
                    continue;
                }
                Wake::Written(written) => match self.finish(written) {
                    Ok(()) => continue,
                    Err(e) => break Err(e),
                },
                Wake::KafkaError(e) => {
                    self.metrics.kafka_error();
                    tracing::error!("Kafka at {}: receiving failed: {e}", self.config.bootstrap);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                Wake::Record(first) => first,
            };
            let batch = self.fill_batch(first).await;
            if let Err(e) = self.start_batch(&batch, &mut in_flight).await {
                break Err(e);
            }
        };
        // One shutdown path: the batches in flight finish first, in order.
        let outcome = match outcome {
            Ok(()) => self.drain(&mut in_flight).await,
            Err(e) => Err(e),
        };
        self.shutdown(outcome.is_ok());
        outcome
    }

    /// Waits for a stop, the summary's tick, the oldest batch in flight to be written, or the
    /// next record.
    async fn wake(&self, summary: &mut tokio::time::Interval, in_flight: &mut InFlight) -> Wake {
        let mut stop = self.stop.clone();
        tokio::select! {
            biased;
            _ = stop.changed() => Wake::Stop,
            _ = summary.tick() => Wake::Summary,
            written = oldest(in_flight), if !in_flight.is_empty() => Wake::Written(written),
            first = self.consumer.recv() => match first {
                Ok(m) => Wake::Record(Received { message: m.detach(), t3: now_us() }),
                Err(e) => Wake::KafkaError(e),
            },
        }
    }

    /// Applies a batch's projections and starts writing its receipts; then finishes the oldest
    /// batches until fewer than `in_flight` remain (with 1, this batch itself, before the next
    /// is received).
    async fn start_batch(
        &mut self,
        batch: &[Received],
        in_flight: &mut InFlight,
    ) -> Result<(), Error> {
        let (applied, receipts) = self.apply(batch).await?;
        in_flight.push_back(self.write_receipts(applied, receipts));
        while in_flight.len() >= self.config.in_flight {
            let written = oldest(in_flight).await;
            self.finish(written)?;
        }
        Ok(())
    }

    /// Finishes every batch in flight, oldest first; stops at the first that failed, so that
    /// no later batch's offsets are stored past it.
    async fn drain(&mut self, in_flight: &mut InFlight) -> Result<(), Error> {
        while !in_flight.is_empty() {
            let written = oldest(in_flight).await;
            self.finish(written)?;
        }
        Ok(())
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

    /// Decodes a batch, dead-letters what cannot be applied, and applies the projections of
    /// the rest (retrying until the store acknowledges them). Returns the batch and its
    /// receipts, not yet written.
    async fn apply(&self, batch: &[Received]) -> Result<(Applied, Vec<Document>), Error> {
        self.metrics.batch(batch.len());
        let mut events: Vec<(Event, Position, i64)> = Vec::with_capacity(batch.len());
        for r in batch {
            let ts = r.message.timestamp().to_millis();
            self.metrics.timestamp(t2_kind(r.message.timestamp()));
            match decode_record(r.message.payload(), ts) {
                Ok(e) => events.push((e, position(&r.message), r.t3)),
                Err(rejection) => {
                    self.dead_letter(r, rejection.kind, &rejection.message)
                        .await?
                }
            }
        }
        let plan = Plan::new(events.iter().map(|(e, _, _)| e), self.config.early_joins);
        let store = &self.store;
        self.retrier
            .run(Service::Store, "applying the batch", || store.apply(&plan))
            .await?;
        let t5 = now_us();
        let receipts = events
            .iter()
            .map(|(e, at, t3)| receipt(e, *t3, t5, *at))
            .collect();
        let applied = Applied {
            events: events
                .into_iter()
                .map(|(event, _, t3)| AppliedEvent { event, t3 })
                .collect(),
            t5,
            next_offsets: next_offsets(batch.iter().map(|r| position(&r.message))),
        };
        Ok((applied, receipts))
    }

    /// Writes a batch's receipts in a task of its own (retrying until the store acknowledges
    /// them), so that the next batch can be received and applied meanwhile.
    fn write_receipts(
        &self,
        applied: Applied,
        receipts: Vec<Document>,
    ) -> tokio::task::JoinHandle<Result<Written, Error>> {
        let store = self.store.clone();
        let retrier = self.retrier.clone();
        tokio::spawn(async move {
            let replayed = retrier
                .run(Service::Store, "writing receipts", || {
                    store.insert(events::names::PROCESSED_EVENTS, &receipts)
                })
                .await?;
            Ok(Written {
                applied,
                replayed: replayed.into_iter().collect(),
            })
        })
    }

    /// A batch whose receipts are written: its events are counted (and written to the metrics
    /// file), and its offsets stored for the next commit.
    fn finish(&mut self, written: Result<Written, Error>) -> Result<(), Error> {
        let Written { applied, replayed } = written?;
        let mut lines = String::new();
        for (i, a) in applied.events.iter().enumerate() {
            let (e, t5) = (&a.event, applied.t5);
            let t = e.payload.event_type();
            self.metrics
                .event(t, &e.stamps, a.t3, t5, replayed.contains(&i));
            if self.metrics_file.is_some() {
                lines.push_str(&metrics_file_line(&e.id, t, &e.stamps, a.t3, t5));
            }
        }
        if let Some(f) = self.metrics_file.as_mut() {
            f.write_all(lines.as_bytes())
                .and_then(|()| f.flush())
                .map_err(|source| Error::MetricsFile {
                    path: self.config.metrics_file.clone().unwrap_or_default(),
                    source,
                })?;
        }
        self.store_offsets(&applied.next_offsets);
        Ok(())
    }

    async fn dead_letter(
        &self,
        r: &Received,
        kind: RejectionKind,
        reason: &str,
    ) -> Result<(), Error> {
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
        self.retrier
            .run(Service::Kafka, &what, || {
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

    /// Stores, per partition, the offset after a batch's last record, for the next commit.
    fn store_offsets(&self, next: &BTreeMap<i32, i64>) {
        let mut tpl = TopicPartitionList::new();
        for (&p, &o) in next {
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
        match std::fs::read_to_string("/proc/self/stat")
            .ok()
            .as_deref()
            .and_then(crate::metrics::cpu_seconds)
        {
            Some(cpu) => tracing::info!(
                "{}",
                crate::metrics::cpu_line(cpu, self.metrics.events_total())
            ),
            None => tracing::info!("cpu: /proc/self/stat is not readable here"),
        }
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

/// The CDC topic's consumer. Offsets are stored by the loop only after the store acknowledged
/// a batch's effects and receipts, and committed from there every second (and on revoke, and
/// at shutdown).
fn consumer(
    config: &Config,
    metrics: &Arc<Metrics>,
) -> Result<StreamConsumer<KafkaContext>, Error> {
    let context = KafkaContext {
        bootstrap: config.bootstrap.clone(),
        metrics: Arc::clone(metrics),
    };
    let consumer: StreamConsumer<KafkaContext> = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap)
        .set("group.id", &config.group)
        .set("client.id", "event-processor")
        // A new group starts at the beginning: events written before the first start are
        // not skipped. scripts/demo/setup.sh resets the group when the demo starts over.
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.offset.store", "false")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        // A crashed instance's partitions move to the others after 6 s, not 45 s.
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "2000")
        .set("fetch.wait.max.ms", config.fetch_wait_ms.to_string())
        // The prefetch (FETCH_QUEUE_KB): how much of a backlog is held ahead of the batches.
        .set(
            "queued.max.messages.kbytes",
            config.fetch_queue_kb.to_string(),
        )
        .set(
            "fetch.max.bytes",
            (config.fetch_queue_kb * 1024).to_string(),
        )
        .create_with_context(context)
        .map_err(|source| kafka_error(config, "creating the consumer", source))?;
    cdc_kafka::partitions(&consumer, &config.topic, Duration::from_secs(10))
        .map_err(|e| topic_error(config, e))?;
    consumer
        .subscribe(&[&config.topic])
        .map_err(|source| kafka_error(config, "subscribing to the CDC topic", source))?;
    Ok(consumer)
}

/// Waits for the oldest batch in flight to be written (a task that panicked is an error).
/// Cancel-safe: the batch leaves the queue only once it is done.
async fn oldest(in_flight: &mut InFlight) -> Result<Written, Error> {
    let Some(task) = in_flight.front_mut() else {
        return std::future::pending().await;
    };
    let written = match task.await {
        Ok(written) => written,
        Err(e) => Err(Error::Task(e.to_string())),
    };
    in_flight.pop_front();
    written
}

/// Where a record was read.
fn position(m: &OwnedMessage) -> Position {
    Position {
        partition: m.partition(),
        offset: m.offset(),
    }
}

/// Per partition, the offset after the last of `positions`: what to store once they are done.
fn next_offsets(positions: impl IntoIterator<Item = Position>) -> BTreeMap<i32, i64> {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for at in positions {
        let e = next.entry(at.partition).or_insert(0);
        *e = (*e).max(at.offset + 1);
    }
    next
}

/// What a failure to read the topic means for the user, with Kafka's address.
fn topic_error(config: &Config, e: cdc_kafka::TopicError) -> Error {
    match e {
        cdc_kafka::TopicError::NoTopic(_) => Error::NoTopic {
            topic: config.topic.clone(),
            addr: config.bootstrap.clone(),
        },
        e => Error::KafkaUnreachable {
            addr: config.bootstrap.clone(),
            reason: e.to_string(),
        },
    }
}

/// A step Kafka refused, with its address.
fn kafka_error(config: &Config, what: &str, source: KafkaError) -> Error {
    Error::Kafka {
        addr: config.bootstrap.clone(),
        what: what.to_owned(),
        source: Box::new(source),
    }
}

/// `event-processor --reset`: drops the projections and receipts in the store and commits the
/// consumer group's offsets at the end of every partition of the topic, so the next start
/// consumes only what is written after it. Returns a one-line account of what was done.
pub async fn reset(config: &Config) -> Result<String, Error> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &config.bootstrap)
        .set("group.id", &config.group)
        .set("client.id", "event-processor-reset")
        .set("enable.auto.commit", "false")
        .create()
        .map_err(|source| kafka_error(config, "creating a client", source))?;
    let ends_at = cdc_kafka::end_offsets(&consumer, &config.topic, Duration::from_secs(10))
        .map_err(|e| topic_error(config, e))?;
    let mut ends = TopicPartitionList::new();
    for (&p, &high) in &ends_at {
        ends.add_partition_offset(&config.topic, p, Offset::Offset(high))
            .map_err(|source| kafka_error(config, "listing the end offsets", source))?;
    }
    let at: Vec<String> = ends_at.iter().map(|(p, o)| format!("{p}:{o}")).collect();
    consumer.commit(&ends, CommitMode::Sync).map_err(|source| {
        let what = format!(
            "moving group {} to the end of {} (is an event-processor of that group still running? Stop it first)",
            config.group, config.topic
        );
        kafka_error(config, &what, source)
    })?;

    let store = Store::new(&config.mongodb_uri, 1).await?;
    let dropped = store.drop_projections().await?;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn written_after(
        delay_ms: u64,
        offset: i64,
    ) -> tokio::task::JoinHandle<Result<Written, Error>> {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            Ok(Written {
                applied: Applied {
                    events: Vec::new(),
                    t5: 0,
                    next_offsets: BTreeMap::from([(0, offset)]),
                },
                replayed: BTreeSet::new(),
            })
        })
    }

    #[tokio::test]
    async fn batches_in_flight_finish_in_the_order_they_were_received() {
        let mut in_flight = InFlight::new();
        // the older batch's receipts take longer than the newer one's
        in_flight.push_back(written_after(100, 10));
        in_flight.push_back(written_after(0, 20));
        let first = oldest(&mut in_flight).await.unwrap();
        assert_eq!(first.applied.next_offsets[&0], 10);
        let second = oldest(&mut in_flight).await.unwrap();
        assert_eq!(second.applied.next_offsets[&0], 20);
        assert!(in_flight.is_empty());
    }

    #[tokio::test]
    async fn a_batch_waited_for_in_vain_stays_in_flight() {
        let mut in_flight = InFlight::new();
        in_flight.push_back(written_after(200, 10));
        // a select! that another branch wins drops the wait: the batch must still be there
        let gave_up = tokio::time::timeout(Duration::from_millis(10), oldest(&mut in_flight)).await;
        assert!(gave_up.is_err());
        assert_eq!(in_flight.len(), 1);
        assert_eq!(
            oldest(&mut in_flight).await.unwrap().applied.next_offsets[&0],
            10
        );
    }

    #[test]
    fn the_offset_stored_is_the_one_after_each_partitions_last_record() {
        let at = |partition, offset| Position { partition, offset };
        let next = next_offsets([at(0, 5), at(1, 9), at(0, 7), at(0, 6)]);
        assert_eq!(next, BTreeMap::from([(0, 8), (1, 10)]));
    }
}
