//! End-to-end tests against the real local stack started by `stack/up.sh`: PostgreSQL, Kafka,
//! Kafka Connect with Debezium, and the MongoDB-compatible store. Nothing here is mocked.
//!
//! This library holds what the tests share: connections built from the environment of
//! `DESIGN.md` (`PG*`, `KAFKA_BOOTSTRAP`, `MONGODB_URI`) with the local stack's defaults, and
//! errors that name the service and address that could not be reached.
#![forbid(unsafe_code)]

use std::time::Duration;

use anyhow::{bail, Context as _};
use events::names::defaults;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Where each part of the stack is, from the environment, with the local defaults.
#[derive(Debug, Clone)]
pub struct StackEnv {
    /// PostgreSQL host (`PGHOST`).
    pub pg_host: String,
    /// PostgreSQL port (`PGPORT`).
    pub pg_port: u16,
    /// PostgreSQL role (`PGUSER`).
    pub pg_user: String,
    /// Its password (`PGPASSWORD`).
    pub pg_password: String,
    /// Database (`PGDATABASE`).
    pub pg_database: String,
    /// Kafka bootstrap servers (`KAFKA_BOOTSTRAP`).
    pub kafka_bootstrap: String,
    /// MongoDB connection string (`MONGODB_URI`).
    pub mongodb_uri: String,
    /// The CDC topic (`CDC_TOPIC`).
    pub cdc_topic: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

impl StackEnv {
    /// Reads the environment.
    pub fn from_env() -> anyhow::Result<Self> {
        let port = env_or("PGPORT", &defaults::PGPORT.to_string());
        Ok(Self {
            pg_host: env_or("PGHOST", defaults::PGHOST),
            pg_port: port
                .parse()
                .with_context(|| format!("PGPORT={port:?} is not a port number"))?,
            pg_user: env_or("PGUSER", defaults::PGUSER),
            pg_password: env_or("PGPASSWORD", defaults::PGPASSWORD),
            pg_database: env_or("PGDATABASE", events::names::PG_DATABASE),
            kafka_bootstrap: env_or("KAFKA_BOOTSTRAP", defaults::KAFKA_BOOTSTRAP),
            mongodb_uri: env_or("MONGODB_URI", defaults::MONGODB_URI),
            cdc_topic: env_or("CDC_TOPIC", events::names::CDC_TOPIC),
        })
    }

    /// Connects to PostgreSQL and drives the connection on a task.
    pub async fn postgres(&self) -> anyhow::Result<tokio_postgres::Client> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.pg_host)
            .port(self.pg_port)
            .user(&self.pg_user)
            .password(&self.pg_password)
            .dbname(&self.pg_database)
            .application_name("e2e-tests");
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .with_context(|| {
                format!(
                    "PostgreSQL at {}:{} (database {}, role {}) is not reachable; is the stack up (stack/up.sh)?",
                    self.pg_host, self.pg_port, self.pg_database, self.pg_user
                )
            })?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("PostgreSQL connection closed: {e}");
            }
        });
        Ok(client)
    }

    /// A Kafka client configuration pointing at the bootstrap servers.
    pub fn kafka_config(&self) -> ClientConfig {
        let mut config = ClientConfig::new();
        config.set("bootstrap.servers", &self.kafka_bootstrap);
        config
    }

    /// Connects to the MongoDB-compatible store and checks that it answers.
    pub async fn mongodb(&self) -> anyhow::Result<mongodb::Client> {
        let client = mongodb::Client::with_uri_str(&self.mongodb_uri)
            .await
            .with_context(|| format!("MONGODB_URI={} is not a usable URI", self.mongodb_uri))?;
        client
            .database("admin")
            .run_command(mongodb::bson::doc! { "ping": 1 })
            .await
            .with_context(|| {
                format!(
                    "the MongoDB store at {} is not reachable; is the stack up (stack/up.sh)?",
                    self.mongodb_uri
                )
            })?;
        Ok(client)
    }

    /// A consumer assigned to every partition of `topic` at its current end, so that it sees
    /// exactly what is produced after this call.
    pub fn consumer_at_end(&self, topic: &str) -> anyhow::Result<StreamConsumer> {
        let consumer: StreamConsumer = self
            .kafka_config()
            .set("group.id", format!("e2e-{}", uuid::Uuid::now_v7()))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .context("creating a Kafka consumer")?;
        let ends = end_offsets(self, topic)?;
        if ends.is_empty() {
            bail!(
                "topic {topic} does not exist on {}; stack/up.sh creates it",
                self.kafka_bootstrap
            );
        }
        let mut assignment = TopicPartitionList::new();
        for (p, high) in ends {
            assignment.add_partition_offset(topic, p, Offset::Offset(high))?;
        }
        consumer.assign(&assignment)?;
        Ok(consumer)
    }
}

/// Offsets of each partition of `topic`: `(partition, end offset)`.
pub fn end_offsets(env: &StackEnv, topic: &str) -> anyhow::Result<Vec<(i32, i64)>> {
    let timeout = Duration::from_secs(10);
    let consumer: rdkafka::consumer::BaseConsumer = env
        .kafka_config()
        .create()
        .context("creating a Kafka client")?;
    let metadata = consumer
        .fetch_metadata(Some(topic), timeout)
        .with_context(|| format!("Kafka at {} is not reachable", env.kafka_bootstrap))?;
    let partitions = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().len())
        .unwrap_or(0);
    let mut out = Vec::new();
    for p in 0..i32::try_from(partitions)? {
        let (_, high) = consumer.fetch_watermarks(topic, p, timeout)?;
        out.push((p, high));
    }
    Ok(out)
}

/// Commits `offsets` of `topic` for consumer group `group` (which must have no active
/// members), so that the group's next consumer starts there.
pub fn commit_group(
    env: &StackEnv,
    group: &str,
    topic: &str,
    offsets: &[(i32, i64)],
) -> anyhow::Result<()> {
    let consumer: rdkafka::consumer::BaseConsumer = env
        .kafka_config()
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .context("creating a Kafka consumer")?;
    let mut tpl = TopicPartitionList::new();
    for &(p, o) in offsets {
        tpl.add_partition_offset(topic, p, Offset::Offset(o))?;
    }
    consumer
        .commit(&tpl, rdkafka::consumer::CommitMode::Sync)
        .with_context(|| {
            format!(
                "committing offsets of group {group} on {}",
                env.kafka_bootstrap
            )
        })?;
    Ok(())
}
