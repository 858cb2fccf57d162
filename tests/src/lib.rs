//! End-to-end tests against the real local stack started by `stack/up.sh`: PostgreSQL, Kafka,
//! Kafka Connect with Debezium, and the MongoDB-compatible store. Nothing here is mocked.
//!
//! This library is the one harness of every real-stack test (processor, verifier, generator):
//! connections built from the environment of `docs/design.md` (`PG*`, `KAFKA_BOOTSTRAP`,
//! `MONGODB_URI`) with the local stack's defaults and errors that name the service and address
//! that could not be reached; a [`Scratch`] per test (its own MongoDB database, a consumer group
//! at the topic's end, the binaries started against them, metrics on ports the OS picks); one
//! lock, [`exclusive`], for tests that share the topic's processors or load the pipeline
//! heavily; and [`wait::until`], so that a test waits for a condition, never for a guessed
//! duration.
#![forbid(unsafe_code)]

pub mod markdown;
pub mod promql;
pub mod scratch;
pub mod wait;

use std::path::PathBuf;
use std::time::Duration;

pub use scratch::{Proc, RateRun, Scratch};

use anyhow::Context as _;
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
    /// Its password: `PGPASSWORD`, else the password file (`PGPASSFILE`, `~/.pgpass`), else the
    /// local stack's (`.stack/secrets/pgpass` of this repository).
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
        let mut env = Self::addresses()?;
        env.pg_password = env.find_password()?;
        Ok(env)
    }

    fn find_password(&self) -> anyhow::Result<String> {
        if let Ok(p) = std::env::var("PGPASSWORD") {
            return Ok(p);
        }
        let target = cdc_pgpass::Target {
            host: &self.pg_host,
            port: self.pg_port,
            database: &self.pg_database,
            user: &self.pg_user,
        };
        if let Some(p) = cdc_pgpass::find(&target) {
            return Ok(p);
        }
        let stack = concat!(env!("CARGO_MANIFEST_DIR"), "/../.stack/secrets/pgpass");
        let text = std::fs::read_to_string(stack).with_context(|| {
            format!("no password for role {} of PostgreSQL at {}:{}: set PGPASSWORD or PGPASSFILE, or start the local stack (stack/up.sh writes {stack})", self.pg_user, self.pg_host, self.pg_port)
        })?;
        cdc_pgpass::lookup(&text, &target).with_context(|| {
            format!(
                "{stack} has no line for role {} at {}:{}/{}",
                self.pg_user, self.pg_host, self.pg_port, self.pg_database
            )
        })
    }

    fn addresses() -> anyhow::Result<Self> {
        let port = env_or("PGPORT", &defaults::PGPORT.to_string());
        Ok(Self {
            pg_host: env_or("PGHOST", defaults::PGHOST),
            pg_port: port
                .parse()
                .with_context(|| format!("PGPORT={port:?} is not a port number"))?,
            pg_user: env_or("PGUSER", defaults::PGUSER),
            pg_password: String::new(),
            pg_database: env_or("PGDATABASE", events::names::PG_DATABASE),
            kafka_bootstrap: env_or("KAFKA_BOOTSTRAP", defaults::KAFKA_BOOTSTRAP),
            mongodb_uri: env_or("MONGODB_URI", defaults::MONGODB_URI),
            cdc_topic: env_or("CDC_TOPIC", events::names::CDC_TOPIC),
        })
    }

    /// The MongoDB URI of database `db` on the same store.
    pub fn mongodb_uri_for(&self, db: &str) -> String {
        let base = self
            .mongodb_uri
            .rsplit_once('/')
            .map_or(self.mongodb_uri.as_str(), |(b, _)| b);
        format!("{base}/{db}")
    }

    /// Whether the store is the local FerretDB that `stack/up.sh` runs (and `stack/down.sh`
    /// can stop).
    pub fn store_is_local(&self) -> bool {
        self.mongodb_uri.starts_with("mongodb://127.0.0.1:27017")
            || self.mongodb_uri.starts_with("mongodb://localhost:27017")
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
    let consumer: rdkafka::consumer::BaseConsumer = env
        .kafka_config()
        .create()
        .context("creating a Kafka client")?;
    let ends = cdc_kafka::end_offsets(&consumer, topic, Duration::from_secs(10))
        .with_context(|| format!("Kafka at {}", env.kafka_bootstrap))?;
    Ok(ends.into_iter().collect())
}

/// Creates `topic` with `partitions` and topic `configs` (a test's scratch topic); an existing
/// one is an error.
pub async fn create_topic(
    env: &StackEnv,
    topic: &str,
    partitions: i32,
    configs: &[(&str, &str)],
) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = env
        .kafka_config()
        .create()
        .context("creating a Kafka admin client")?;
    let mut new = NewTopic::new(topic, partitions, TopicReplication::Fixed(1));
    for (k, v) in configs {
        new = new.set(k, v);
    }
    let results = admin
        .create_topics([&new], &AdminOptions::new())
        .await
        .with_context(|| format!("creating topic {topic} on Kafka at {}", env.kafka_bootstrap))?;
    for r in results {
        r.map_err(|(t, e)| anyhow::anyhow!("creating topic {t}: {e}"))?;
    }
    Ok(())
}

/// Deletes `topic` (a test's scratch topic).
pub async fn delete_topic(env: &StackEnv, topic: &str) -> anyhow::Result<()> {
    use rdkafka::admin::{AdminClient, AdminOptions};
    let admin: AdminClient<rdkafka::client::DefaultClientContext> = env
        .kafka_config()
        .create()
        .context("creating a Kafka admin client")?;
    for r in admin.delete_topics(&[topic], &AdminOptions::new()).await? {
        r.map_err(|(t, e)| anyhow::anyhow!("deleting topic {t}: {e}"))?;
    }
    Ok(())
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

/// The pipeline lock: held by every test that runs `event-processor` on the shared topic (each
/// [`Scratch`] holds it) and by tests that load the pipeline heavily, so that no test's
/// processor applies another test's run and two cores are not shared by two loads.
pub async fn exclusive() -> tokio::sync::MutexGuard<'static, ()> {
    static PIPELINE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    PIPELINE.lock().await
}

/// The highest run id in the manifest (0 when empty): "the run created after this point" is
/// the first run above it.
pub async fn max_run_id(pg: &tokio_postgres::Client) -> anyhow::Result<i64> {
    Ok(pg
        .query_one("SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs", &[])
        .await
        .context("reading outbox_demo.runs")?
        .get(0))
}

/// The first run with an id above `before`, if one exists yet.
pub async fn run_after(pg: &tokio_postgres::Client, before: i64) -> anyhow::Result<Option<i64>> {
    Ok(pg
        .query_opt(
            "SELECT run_id FROM outbox_demo.runs WHERE run_id > $1 ORDER BY run_id LIMIT 1",
            &[&before],
        )
        .await
        .context("reading outbox_demo.runs")?
        .map(|r| r.get(0)))
}

/// The built binary `name` of the workspace, next to the test executable's profile folder
/// (`target/debug/<name>`).
pub fn binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating the test executable")?;
    let profile = exe
        .parent()
        .and_then(|deps| deps.parent())
        .context("the test executable is not in target/<profile>/deps")?;
    let path = profile.join(name);
    anyhow::ensure!(
        path.exists(),
        "{} is not built; build the workspace in the tests' profile first (scripts/test.sh runs cargo test --release --workspace, which builds it)",
        path.display()
    );
    Ok(path)
}

/// `target/tmp/e2e`, where the tests keep their logs and artifacts.
pub fn target_tmp() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.join("tmp").join("e2e")))
        .unwrap_or_else(|| std::env::temp_dir().join("e2e"))
}

/// `GET path` from an HTTP endpoint at `addr` (`host:port`); the whole response, headers
/// included.
pub async fn http_get(addr: &str, path: &str) -> anyhow::Result<String> {
    http_request(addr, "GET", path, &[], "").await
}

/// `METHOD path` with `headers` (`Name: value` lines) and `body` to `addr`; the whole response,
/// headers included.
pub async fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> anyhow::Result<String> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to http://{addr}"))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    if !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    s.write_all(format!("{head}\r\n{body}").as_bytes()).await?;
    let mut text = String::new();
    s.read_to_string(&mut text).await?;
    Ok(text)
}

/// The sum of the Prometheus samples in `text` whose line starts with `prefix`.
pub fn metric_sum(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The `host:port` a binary's ready file (`--ready-file`) names for `endpoint` (`metrics`,
/// `status`), once the file is there.
pub fn ready_addr(ready_file: &std::path::Path, endpoint: &str) -> Option<String> {
    let text = std::fs::read_to_string(ready_file).ok()?;
    let ready: serde_json::Value = serde_json::from_str(&text).ok()?;
    ready.get(endpoint)?.as_str().map(str::to_owned)
}

/// Waits for `ready_file` and returns the `host:port` it names for `endpoint`.
pub async fn wait_ready_addr(
    ready_file: &std::path::Path,
    endpoint: &str,
) -> anyhow::Result<String> {
    wait::until(
        &format!("{} naming {endpoint}", ready_file.display()),
        Duration::from_secs(30),
        || async {
            let addr = ready_addr(ready_file, endpoint);
            Ok(wait::Step::when(
                addr.is_some(),
                addr.unwrap_or_default(),
                || "not written yet".into(),
            ))
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_address_is_read_from_the_ready_file() {
        let path = std::env::temp_dir().join(format!("e2e-ready-{}.json", std::process::id()));
        assert_eq!(ready_addr(&path, "metrics"), None);
        std::fs::write(
            &path,
            r#"{"pid": 1, "metrics": "127.0.0.1:40123", "status": null}"#,
        )
        .unwrap();
        assert_eq!(
            ready_addr(&path, "metrics").as_deref(),
            Some("127.0.0.1:40123")
        );
        assert_eq!(ready_addr(&path, "status"), None);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn metric_lines_are_summed_by_prefix() {
        let text = "# HELP a\nx_total{k=\"a\"} 2\nx_total{k=\"b\"} 3.5\ny 9\n";
        assert_eq!(metric_sum(text, "x_total{"), 5.5);
        assert_eq!(metric_sum(text, "z"), 0.0);
    }
}
