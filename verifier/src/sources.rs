//! The three places the verifier reads: the run manifest and the outbox in PostgreSQL, the CDC
//! topic in Kafka (its own consumer, positioned by time at the run's start), and the receipts
//! and projections in MongoDB. Every connection error names the service and its address.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use events::stages::Stamps;
use events::{decode_envelope, EventType};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use futures_util::TryStreamExt as _;
use mongodb::bson::{doc, Bson, Document};
use rdkafka::consumer::{BaseConsumer, Consumer as _, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::integrity::{ActivityDoc, Audit, Expected, State, StatisticsDoc};
use crate::join::{KafkaEvent, Receipt};
use crate::report::RunInfo;

/// Where the services are.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// PostgreSQL host.
    pub pg_host: String,
    /// PostgreSQL port.
    pub pg_port: u16,
    /// PostgreSQL role.
    pub pg_user: String,
    /// Its password.
    pub pg_password: String,
    /// Database.
    pub pg_database: String,
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// MongoDB connection string (path = database).
    pub mongodb_uri: String,
    /// The CDC topic.
    pub topic: String,
    /// The verifier's consumer group.
    pub group: String,
    /// The processor's consumer group (for its lag).
    pub processor_group: String,
}

/// Which run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSpec {
    /// The run with the highest id.
    Latest,
    /// This run.
    Id(i64),
    /// The first run started after the verifier (`watch` only): it waits for it.
    Next,
}

impl std::str::FromStr for RunSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "latest" => return Ok(RunSpec::Latest),
            "next" => return Ok(RunSpec::Next),
            _ => {}
        }
        s.parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(RunSpec::Id)
            .ok_or_else(|| format!("{s:?} is not a run id (a positive number), `latest` or `next`"))
    }
}

/// A failure to reach a service or find the run: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

/// PostgreSQL: the manifest, the outbox and the replication slot.
pub struct Pg {
    client: tokio_postgres::Client,
    addr: String,
}

const RUN_COLUMNS: &str = "run_id, mode, status, n, written, seed, mix, rate, \
    (extract(epoch from started_at) * 1e6)::bigint, (extract(epoch from finished_at) * 1e6)::bigint";

impl Pg {
    /// Connects.
    pub async fn connect(e: &Endpoints) -> anyhow::Result<Self> {
        let addr = format!(
            "{}:{} (database {}, role {})",
            e.pg_host, e.pg_port, e.pg_database, e.pg_user
        );
        let mut config = tokio_postgres::Config::new();
        config
            .host(&e.pg_host)
            .port(e.pg_port)
            .user(&e.pg_user)
            .password(&e.pg_password)
            .dbname(&e.pg_database)
            .application_name("verifier")
            // The audit's DROP TABLE IF EXISTS would log a NOTICE for every run.
            .options("-c client_min_messages=warning")
            .connect_timeout(Duration::from_secs(5));
        let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(|err| {
            Unavailable(format!(
                "PostgreSQL at {addr} is not reachable: {err}; is the stack up (stack/up.sh)? (PGHOST, PGPORT)"
            ))
        })?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::error!("PostgreSQL connection closed: {err}");
            }
        });
        Ok(Self { client, addr })
    }

    fn run_info(row: &tokio_postgres::Row) -> RunInfo {
        RunInfo {
            run_id: row.get(0),
            mode: row.get(1),
            status: row.get(2),
            n: row.get(3),
            written: row.get(4),
            seed: row.get(5),
            mix: row.get(6),
            rate: row.get(7),
            started_us: row.get(8),
            finished_us: row.get(9),
        }
    }

    /// The run's manifest.
    pub async fn run(&self, spec: RunSpec) -> anyhow::Result<RunInfo> {
        let (q, after) = match spec {
            RunSpec::Latest => (
                format!("SELECT {RUN_COLUMNS} FROM outbox_demo.runs ORDER BY run_id DESC LIMIT 1"),
                None,
            ),
            RunSpec::Id(id) => (
                format!("SELECT {RUN_COLUMNS} FROM outbox_demo.runs WHERE run_id = $1"),
                Some(id),
            ),
            RunSpec::Next => {
                return Err(Unavailable(
                    "`--run next` is resolved by waiting for the run (watch only)".into(),
                )
                .into())
            }
        };
        let rows = match after {
            None => self.client.query(&q, &[]).await,
            Some(id) => self.client.query(&q, &[&id]).await,
        }
        .map_err(|err| {
            Unavailable(format!(
                "cannot read the run manifest outbox_demo.runs in PostgreSQL at {}: {err}; is the extension installed (CREATE EXTENSION outbox_demo)?",
                self.addr
            ))
        })?;
        match (rows.first(), spec) {
            (Some(r), _) => Ok(Self::run_info(r)),
            (None, RunSpec::Latest) => Err(Unavailable(
                "no generator run yet in outbox_demo.runs; start one with SELECT * FROM demo_generate(1000)".into(),
            )
            .into()),
            (None, RunSpec::Id(id)) => Err(Unavailable(format!(
                "run {id} is not in outbox_demo.runs; list the runs with SELECT * FROM demo_status()"
            ))
            .into()),
            (None, RunSpec::Next) => unreachable!("returned above"),
        }
    }

    /// The highest run id in the manifest (0 when it is empty).
    pub async fn max_run_id(&self) -> anyhow::Result<i64> {
        let row = self
            .client
            .query_one("SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs", &[])
            .await
            .map_err(|err| {
                Unavailable(format!(
                    "cannot read the run manifest outbox_demo.runs in PostgreSQL at {}: {err}; is the extension installed (CREATE EXTENSION outbox_demo)?",
                    self.addr
                ))
            })?;
        Ok(row.get(0))
    }

    /// The first run with an id above `id`, if one exists yet.
    pub async fn run_after(&self, id: i64) -> anyhow::Result<Option<RunInfo>> {
        let q = format!(
            "SELECT {RUN_COLUMNS} FROM outbox_demo.runs WHERE run_id > $1 ORDER BY run_id LIMIT 1"
        );
        let rows = self.client.query(&q, &[&id]).await.map_err(|err| {
            Unavailable(format!(
                "cannot read the run manifest outbox_demo.runs in PostgreSQL at {}: {err}",
                self.addr
            ))
        })?;
        Ok(rows.first().map(Self::run_info))
    }

    /// Rows of the run in the outbox.
    pub async fn outbox_rows(&self, run_id: i64) -> anyhow::Result<u64> {
        let n: i64 = self
            .client
            .query_one(
                "SELECT count(*) FROM activity.event_outbox WHERE run_id = $1",
                &[&run_id],
            )
            .await?
            .get(0);
        Ok(n as u64)
    }

    /// Event ids of the given seqs of a run (seqs without an outbox row are left out).
    pub async fn ids(&self, run_id: i64, seqs: &[i64]) -> anyhow::Result<BTreeMap<i64, String>> {
        let rows = self
            .client
            .query(
                "SELECT seq, id::text FROM activity.event_outbox WHERE run_id = $1 AND seq = ANY($2)",
                &[&run_id, &seqs],
            )
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// `created_at` of one event of the run, µs.
    pub async fn created_us(&self, run_id: i64, seq: i64) -> anyhow::Result<Option<i64>> {
        Ok(self
            .client
            .query_opt(
                "SELECT (extract(epoch from created_at) * 1e6)::bigint FROM activity.event_outbox WHERE run_id = $1 AND seq = $2",
                &[&run_id, &seq],
            )
            .await?
            .map(|r| r.get(0)))
    }

    /// Bytes of WAL the replication slot has not confirmed (`None`: no such slot).
    pub async fn slot_lag_bytes(&self) -> anyhow::Result<Option<i64>> {
        Ok(self
            .client
            .query_opt(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint \
                 FROM pg_replication_slots WHERE slot_name = $1",
                &[&events::names::REPLICATION_SLOT],
            )
            .await?
            .and_then(|r| r.get(0)))
    }
}

/// Parses a record of the CDC topic: `Some((run_id, event))` for an outbox row of a generator
/// run; `None` for anything else (other writers, tombstones, undecodable values: the processor
/// dead-letters those, the verifier does not follow them).
pub fn parse_record(value: Option<&[u8]>, timestamp_ms: Option<i64>) -> Option<(i64, KafkaEvent)> {
    let env = decode_envelope(value).ok()?;
    let row = env.after?;
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
        },
    ))
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

/// The verifier's reader of the CDC topic.
pub struct KafkaReader {
    /// The consumer, assigned to every partition.
    pub consumer: StreamConsumer,
    /// Per partition, the end offset when the reader started: once past it and every event is
    /// seen, the read is complete.
    pub end_at_start: BTreeMap<i32, i64>,
}

/// Opens a consumer on every partition of the topic at the first record written at or after
/// `from_us` (the run's start, less a margin for clock skew).
pub fn open_topic(e: &Endpoints, from_us: i64) -> anyhow::Result<KafkaReader> {
    let unreachable = |what: &str, err: &dyn std::fmt::Display| {
        Unavailable(format!(
            "Kafka at {} (KAFKA_BOOTSTRAP): {what}: {err}; is the stack up (stack/up.sh)?",
            e.bootstrap
        ))
    };
    let consumer: StreamConsumer = kafka_config(e, &e.group)
        .create()
        .map_err(|err| unreachable("cannot create a consumer", &err))?;
    let timeout = Duration::from_secs(10);
    let md = consumer
        .fetch_metadata(Some(&e.topic), timeout)
        .map_err(|err| unreachable("no answer", &err))?;
    let partitions: Vec<i32> = md
        .topics()
        .first()
        .filter(|t| t.error().is_none())
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    if partitions.is_empty() {
        bail!(Unavailable(format!(
            "topic {} does not exist on Kafka at {}; stack/up.sh creates it (CDC_TOPIC)",
            e.topic, e.bootstrap
        )));
    }
    let mut by_time = TopicPartitionList::new();
    let mut end_at_start = BTreeMap::new();
    for &p in &partitions {
        by_time.add_partition_offset(&e.topic, p, Offset::Offset(from_us / 1000))?;
        let (_, high) = consumer
            .fetch_watermarks(&e.topic, p, timeout)
            .map_err(|err| unreachable("cannot read the topic's offsets", &err))?;
        end_at_start.insert(p, high);
    }
    let found = consumer
        .offsets_for_times(by_time, timeout)
        .map_err(|err| unreachable("cannot look up offsets by time", &err))?;
    let mut assignment = TopicPartitionList::new();
    for el in found.elements() {
        let offset = match el.offset() {
            Offset::Offset(o) => Offset::Offset(o),
            // No record at or after the time yet: start at the end.
            _ => Offset::Offset(end_at_start[&el.partition()]),
        };
        assignment.add_partition_offset(&e.topic, el.partition(), offset)?;
    }
    consumer.assign(&assignment)?;
    Ok(KafkaReader {
        consumer,
        end_at_start,
    })
}

/// Reads the processor group's lag: sum over partitions of end offset minus committed offset.
/// Blocking; one client reused for every probe.
pub struct LagProbe {
    consumer: BaseConsumer,
    topic: String,
}

impl LagProbe {
    /// A client in the processor's group that never joins it (it only reads commits).
    pub fn new(e: &Endpoints) -> anyhow::Result<Self> {
        Ok(Self {
            consumer: kafka_config(e, &e.processor_group).create()?,
            topic: e.topic.clone(),
        })
    }

    /// The lag (`None` when the group has committed nothing).
    pub fn lag(&mut self) -> anyhow::Result<Option<i64>> {
        let timeout = Duration::from_secs(3);
        let md = self.consumer.fetch_metadata(Some(&self.topic), timeout)?;
        let mut tpl = TopicPartitionList::new();
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition(&self.topic, p.id());
            }
        }
        let committed = self.consumer.committed_offsets(tpl, timeout)?;
        let mut lag = 0;
        let mut any = false;
        for el in committed.elements() {
            if let Offset::Offset(o) = el.offset() {
                let (_, high) =
                    self.consumer
                        .fetch_watermarks(&self.topic, el.partition(), timeout)?;
                lag += (high - o).max(0);
                any = true;
            }
        }
        Ok(any.then_some(lag))
    }
}

/// MongoDB: receipts and projections.
#[derive(Clone)]
pub struct Mongo {
    db: mongodb::Database,
    uri: String,
}

/// Largest `$in` list sent in one query.
pub const IN_CHUNK: usize = 1000;

fn strings(d: &Document, key: &str) -> Vec<String> {
    d.get_array(key)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn int(d: &Document, key: &str) -> Option<i64> {
    match d.get(key)? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Double(v) => Some(*v as i64),
        _ => None,
    }
}

impl Mongo {
    /// Connects and checks that the store answers.
    pub async fn connect(e: &Endpoints) -> anyhow::Result<Self> {
        let unreachable = |err: &dyn std::fmt::Display| {
            Unavailable(format!(
                "the MongoDB store at {} (MONGODB_URI) is not reachable: {err}; is the stack up (stack/up.sh)?",
                e.mongodb_uri
            ))
        };
        let mut opts = mongodb::options::ClientOptions::parse(&e.mongodb_uri)
            .await
            .map_err(|err| unreachable(&err))?;
        opts.server_selection_timeout = Some(Duration::from_secs(5));
        opts.app_name = Some("verifier".into());
        let db_name = opts
            .default_database
            .clone()
            .unwrap_or_else(|| events::names::MONGO_DATABASE.into());
        let client = mongodb::Client::with_options(opts).map_err(|err| unreachable(&err))?;
        client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(|err| unreachable(&err))?;
        Ok(Self {
            db: client.database(&db_name),
            uri: e.mongodb_uri.clone(),
        })
    }

    async fn by_ids(
        &self,
        coll: &str,
        ids: &[String],
        projection: Document,
    ) -> anyhow::Result<Vec<Document>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let cursor = self
                .db
                .collection::<Document>(coll)
                .find(doc! { "_id": { "$in": chunk } })
                .projection(projection.clone())
                .batch_size(IN_CHUNK as u32)
                .await
                .with_context(|| format!("reading {coll} from {}", self.uri))?;
            out.extend(cursor.try_collect::<Vec<_>>().await?);
        }
        Ok(out)
    }

    /// Receipts of the given event ids (`seq` → receipt), where present.
    pub async fn receipts(&self, ids: &[String]) -> anyhow::Result<Vec<Receipt>> {
        let docs = self
            .by_ids(
                events::names::PROCESSED_EVENTS,
                ids,
                doc! { "partition": 0, "offset": 0 },
            )
            .await?;
        docs.iter()
            .map(|d| {
                let get = |k: &str| {
                    int(d, k).ok_or_else(|| {
                        anyhow!(
                            "receipt {} in {} has no integer {k}",
                            d.get_str("_id").unwrap_or("?"),
                            self.uri
                        )
                    })
                };
                let t = d.get_str("event_type").unwrap_or("");
                Ok(Receipt {
                    seq: get("seq")?,
                    event_type: t
                        .parse()
                        .map_err(|_| anyhow!("receipt with event_type {t:?}"))?,
                    stamps: Stamps {
                        t_sched: int(d, "t_sched"),
                        t0: get("t0")?,
                        t0c: get("t0c")?,
                        t1: get("t1")?,
                        t2: int(d, "t2"),
                    },
                    t3: get("t3")?,
                    t5: get("t5")?,
                })
            })
            .collect()
    }

    /// Which of `ids` exist in `coll`. Counts first: when all exist (the usual case) no
    /// document is transferred.
    async fn existing(
        &self,
        coll: &str,
        ids: &[String],
        read: &mut u64,
    ) -> anyhow::Result<BTreeSet<String>> {
        let mut out = BTreeSet::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let c = self.db.collection::<Document>(coll);
            let n = c
                .count_documents(doc! { "_id": { "$in": chunk } })
                .await
                .with_context(|| format!("counting in {coll} at {}", self.uri))?;
            *read += n;
            if n as usize == chunk.len() {
                out.extend(chunk.iter().cloned());
            } else {
                let docs = self.by_ids(coll, chunk, doc! { "_id": 1 }).await?;
                out.extend(
                    docs.iter()
                        .filter_map(|d| d.get_str("_id").ok().map(str::to_owned)),
                );
            }
        }
        Ok(out)
    }

    /// The documents the integrity rules read for one chunk of expectations.
    pub async fn state(&self, expected: &Expected, read: &mut u64) -> anyhow::Result<State> {
        use events::names::{ACTIVITIES, STATISTICS, USERS};
        let ids: Vec<String> = expected.joins.keys().cloned().collect();
        let activity_docs = self
            .by_ids(
                ACTIVITIES,
                &ids,
                doc! { "organizer_id": 1, "participants": 1, "applied_events": 1 },
            )
            .await?;
        let stats_docs = self
            .by_ids(
                STATISTICS,
                &ids,
                doc! { "participant_count": 1, "applied_events": 1 },
            )
            .await?;
        *read += (activity_docs.len() + stats_docs.len()) as u64;
        let activities: Vec<ActivityDoc> = activity_docs
            .iter()
            .map(|d| ActivityDoc {
                id: d.get_str("_id").unwrap_or("").to_owned(),
                organizer_id: d.get_str("organizer_id").ok().map(str::to_owned),
                participants: strings(d, "participants"),
                applied_events: strings(d, "applied_events"),
            })
            .collect();
        let statistics = stats_docs
            .iter()
            .map(|d| {
                let id = d.get_str("_id").unwrap_or("").to_owned();
                let s = StatisticsDoc {
                    id: id.clone(),
                    participant_count: int(d, "participant_count").unwrap_or(0),
                    applied_events: strings(d, "applied_events"),
                };
                (id, s)
            })
            .collect();
        let want: Vec<String> = State::users_to_check(expected, &activities)
            .into_iter()
            .collect();
        let users = self.existing(USERS, &want, read).await?;
        Ok(State {
            users,
            activities: activities.into_iter().map(|a| (a.id.clone(), a)).collect(),
            statistics,
        })
    }
}

/// Chunks audited at once: FerretDB on 2 cores reads 1.6x as many documents per second with
/// two requests in flight as with one.
const AUDIT_CONCURRENCY: usize = 2;

/// Audits MongoDB's state after a run, [`IN_CHUNK`] entities at a time so that memory stays
/// bounded whatever the run's size: first the users the run created, then every activity it
/// touched with every join of it in the outbox (from any run).
pub async fn audit(pg: &Pg, mongo: &Mongo, run_id: i64) -> anyhow::Result<Audit> {
    let started = std::time::Instant::now();
    let mut auditor = Auditor {
        mongo,
        audit: Audit::default(),
        in_flight: FuturesUnordered::new(),
    };
    let rows = pg
        .client
        .query_raw(
            "SELECT aggregate_id::text FROM activity.event_outbox WHERE run_id = $1 AND event_type = 'UserCreated'",
            [&run_id],
        )
        .await?;
    futures_util::pin_mut!(rows);
    let mut expected = Expected::default();
    while let Some(row) = rows.try_next().await? {
        expected.users.insert(row.get(0));
        if expected.users.len() == IN_CHUNK {
            auditor.submit(std::mem::take(&mut expected)).await?;
        }
    }
    auditor.submit(std::mem::take(&mut expected)).await?;
    // The activities the run touched, in a temporary table with statistics: joined with the
    // whole outbox, a CTE's guessed row count can make the planner loop over jsonb rows.
    pg.client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS pg_temp.verifier_touched;
             CREATE TEMP TABLE verifier_touched AS
               SELECT aggregate_id, bool_or(event_type = 'ActivityCreated') AS created
               FROM activity.event_outbox WHERE run_id = {run_id} AND aggregate_type = 'activity'
               GROUP BY aggregate_id;
             ANALYZE verifier_touched;"
        ))
        .await?;
    let rows = pg
        .client
        .query_raw(
            "SELECT t.aggregate_id::text, j.payload->>'user_id', t.created
             FROM verifier_touched t
             LEFT JOIN activity.event_outbox j
               ON j.aggregate_id = t.aggregate_id AND j.event_type = 'ParticipantJoined'
             ORDER BY t.aggregate_id",
            std::iter::empty::<i64>(),
        )
        .await?;
    futures_util::pin_mut!(rows);
    while let Some(row) = rows.try_next().await? {
        let id: String = row.get(0);
        if !expected.joins.contains_key(&id) && expected.joins.len() == IN_CHUNK {
            auditor.submit(std::mem::take(&mut expected)).await?;
        }
        let joined: Option<String> = row.get(1);
        if row.get::<_, bool>(2) {
            expected.activities.insert(id.clone());
        }
        expected.joins.entry(id).or_default().extend(joined);
    }
    auditor.submit(expected).await?;
    while auditor.finish_one().await? {}
    pg.client
        .batch_execute("DROP TABLE IF EXISTS pg_temp.verifier_touched")
        .await?;
    let mut audit = auditor.audit;
    audit.seconds = started.elapsed().as_secs_f64();
    Ok(audit)
}

type ChunkResult = anyhow::Result<(Vec<crate::integrity::Finding>, u64)>;

/// Audits chunks, [`AUDIT_CONCURRENCY`] at a time.
struct Auditor<'a> {
    mongo: &'a Mongo,
    audit: Audit,
    in_flight: FuturesUnordered<BoxFuture<'a, ChunkResult>>,
}

impl<'a> Auditor<'a> {
    async fn submit(&mut self, chunk: Expected) -> anyhow::Result<()> {
        if self.in_flight.len() == AUDIT_CONCURRENCY {
            self.finish_one().await?;
        }
        self.in_flight
            .push(Box::pin(audit_chunk(self.mongo, chunk)));
        Ok(())
    }

    /// Waits for one chunk; false when none was in flight.
    async fn finish_one(&mut self) -> anyhow::Result<bool> {
        match self.in_flight.next().await {
            None => Ok(false),
            Some(done) => {
                let (findings, read) = done?;
                self.audit.add(findings);
                self.audit.documents_read += read;
                Ok(true)
            }
        }
    }
}

async fn audit_chunk(
    mongo: &Mongo,
    expected: Expected,
) -> anyhow::Result<(Vec<crate::integrity::Finding>, u64)> {
    if expected.users.is_empty() && expected.joins.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut read = 0;
    let state = mongo.state(&expected, &mut read).await?;
    Ok((crate::integrity::audit(&expected, &state), read))
}
