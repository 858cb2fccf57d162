//! The three places the verifier reads, one module each: [`postgres`] (the run manifest, the
//! outbox, the replication slot), [`kafka`] (its own read of the CDC topic, positioned by time at
//! the run's start, and the processor group's lag), and [`mongo`] (receipts and projections).
//! Every error is a [`SourceError`] that names the service, its address and the cause.
//! [`audit`] reads what the state audit judges.

pub(crate) mod audit;
pub(crate) mod kafka;
pub(crate) mod mongo;
pub(crate) mod postgres;

pub(crate) use kafka::{open_topic, parse_record, GroupState, KafkaReader, LagProbe};
pub(crate) use mongo::{redacted_uri, Mongo, IN_CHUNK};
pub(crate) use postgres::Pg;

/// Where the services are.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// PostgreSQL host.
    pub pg_host: String,
    /// PostgreSQL port.
    pub pg_port: u16,
    /// PostgreSQL role.
    pub pg_user: String,
    /// Its password (`None`: none was given or found).
    pub pg_password: Option<String>,
    /// Database.
    pub pg_database: String,
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// MongoDB connection string (path = database).
    pub mongodb_uri: String,
    /// Kafka Connect's REST address, probed so that the progress line can say when it is down
    /// (`None`: not probed).
    pub connect: Option<String>,
    /// The CDC topic.
    pub topic: String,
    /// The verifier's consumer group.
    pub group: String,
    /// The processor's consumer group (for its lag).
    pub processor_group: String,
}

impl Endpoints {
    /// PostgreSQL's address as messages name it.
    pub fn pg_addr(&self) -> String {
        format!(
            "{}:{} (database {}, role {})",
            self.pg_host, self.pg_port, self.pg_database, self.pg_user
        )
    }
}

/// A service the verifier could not read, or a run it could not find: exit code 2. Each
/// variant names the service and its address, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// PostgreSQL refused or did not answer the connection.
    #[error("PostgreSQL at {addr} is not reachable: {source}; is the stack up (stack/up.sh)? (PGHOST, PGPORT; the password comes from PGPASSWORD, else PGPASSFILE or ~/.pgpass: the local stack's is .stack/secrets/pgpass)")]
    PgConnect {
        /// Host, port, database and role.
        addr: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// PostgreSQL wanted a password, and none was given or found.
    #[error("PostgreSQL at {addr} refused the connection ({source}) and no password was found for it: set PGPASSWORD, or PGPASSFILE to a password file with a line for this host, port, database and role (the local stack writes .stack/secrets/pgpass)")]
    PgNoPassword {
        /// Host, port, database and role.
        addr: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The run manifest could not be read.
    #[error("cannot read the run manifest outbox_demo.runs in PostgreSQL at {addr}: {source}; is the extension installed (CREATE EXTENSION outbox_demo)?")]
    Manifest {
        /// Host, port, database and role.
        addr: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// A manifest row holds a value this verifier does not know.
    #[error("run {run_id} in outbox_demo.runs (PostgreSQL at {addr}): {source}; is this verifier older than the extension?")]
    ManifestValue {
        /// Host, port, database and role.
        addr: String,
        /// The run.
        run_id: i64,
        /// The value.
        #[source]
        source: crate::model::manifest::UnknownValue,
    },
    /// Another query failed.
    #[error("PostgreSQL at {addr}: {what}: {source}")]
    PgQuery {
        /// Host, port, database and role.
        addr: String,
        /// What was being read.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// The fault log (`--fault-log`) could not be read.
    #[error("the fault log {path} (--fault-log): {problem}")]
    FaultLog {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The manifest holds no run at all.
    #[error("no generator run yet in outbox_demo.runs; start one with SELECT * FROM demo_generate(1000)")]
    NoRun,
    /// The run asked for is not in the manifest.
    #[error("run {0} is not in outbox_demo.runs; list the runs with SELECT * FROM demo_status()")]
    UnknownRun(i64),
    /// `--run next`: no run started in time.
    #[error("no run started after run {after} within {seconds} s (--idle-timeout); start one with CALL demo_run(1000, 150)")]
    NoRunAfter {
        /// The highest run id when the verifier started.
        after: i64,
        /// How long it waited.
        seconds: u64,
    },
    /// `--run next`: stopped before a run started.
    #[error("stopped while waiting for the run after run {0}")]
    StoppedWaiting(i64),
    /// Kafka did not answer, or refused a request.
    #[error("Kafka at {addr} (KAFKA_BOOTSTRAP): {what}: {source}; is the stack up (stack/up.sh)?")]
    Kafka {
        /// Bootstrap servers.
        addr: String,
        /// What was being done.
        what: &'static str,
        /// The client's error.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// The CDC topic could not be read.
    #[error("Kafka at {addr} (KAFKA_BOOTSTRAP): {source}; stack/up.sh creates the topic and starts Kafka (CDC_TOPIC names it)")]
    Topic {
        /// Bootstrap servers.
        addr: String,
        /// What could not be read.
        #[source]
        source: Box<cdc_kafka::TopicError>,
    },
    /// The store refused or did not answer the connection.
    #[error("the MongoDB store at {uri} (MONGODB_URI) is not reachable: {source}; is the stack up (stack/up.sh)?")]
    MongoConnect {
        /// The connection string.
        uri: String,
        /// The driver's error.
        #[source]
        source: Box<mongodb::error::Error>,
    },
    /// A read from the store failed.
    #[error("the MongoDB store at {uri}: {what}: {source}")]
    Mongo {
        /// The connection string.
        uri: String,
        /// What was being read.
        what: String,
        /// The driver's error.
        #[source]
        source: Box<mongodb::error::Error>,
    },
    /// A receipt lacks a field the join needs.
    #[error("receipt {id} in processed_events of the store at {uri}: {problem}; was it written by a consumer that follows docs/design.md?")]
    BadReceipt {
        /// The connection string.
        uri: String,
        /// The receipt's `_id`.
        id: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A row of the outbox the verifier cannot read.
    #[error("PostgreSQL at {addr} (PGHOST:PGPORT): the outbox: {problem}")]
    OutboxRow {
        /// host:port.
        addr: String,
        /// What is wrong.
        problem: String,
    },
    /// The consumer's metrics file (`--receipts metrics-file:PATH`) could not be read.
    #[error("the metrics file {path} (--receipts metrics-file:PATH): {source}")]
    MetricsFile {
        /// The file.
        path: std::path::PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// A task of the follow loop ended (it only does when its service failed for good).
    #[error("the {0} stopped")]
    TaskEnded(&'static str),
}
