//! Command line and environment, validated into a typed [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use events::names::{self, defaults};

/// Consumes the Debezium change events of the outbox from Kafka and projects them into
/// MongoDB (users, activities, statistics), writing one receipt per event with every stage
/// timestamp into processed_events. Effects are applied effectively once: replays change
/// nothing. Records that cannot be applied go to the dead-letter topic with the reason in a
/// header.
///
/// Stop it with SIGTERM or Ctrl-C: it finishes the batch in flight, commits, and exits 0.
#[derive(Debug, Clone, Parser)]
#[command(name = "event-processor", version)]
pub struct Args {
    /// Kafka bootstrap servers.
    #[arg(long, env = "KAFKA_BOOTSTRAP", default_value = defaults::KAFKA_BOOTSTRAP)]
    pub bootstrap: String,

    /// MongoDB connection string; its path names the database (default `activity`).
    #[arg(long, env = "MONGODB_URI", default_value = defaults::MONGODB_URI)]
    pub mongodb_uri: String,

    /// The CDC topic to consume.
    #[arg(long, env = "CDC_TOPIC", default_value = names::CDC_TOPIC)]
    pub topic: String,

    /// Dead-letter topic [default: the CDC topic followed by `.dlq`].
    #[arg(long, env = "DLQ_TOPIC")]
    pub dlq_topic: Option<String>,

    /// Kafka consumer group.
    #[arg(long, env = "PROCESSOR_GROUP", default_value = names::PROCESSOR_GROUP)]
    pub group: String,

    /// Most records applied in one batch (one round of MongoDB writes).
    #[arg(long, env = "BATCH_SIZE", default_value_t = 1000)]
    pub batch_size: usize,

    /// Batches between being received and having their offsets stored. 1 (the default) applies
    /// one batch at a time: projections, then receipts, then the next batch. With 2, a batch's
    /// receipts are written while the next batch is received and its projections applied;
    /// offsets are still stored in order, each only after its batch's effects and receipts are
    /// acknowledged. On FerretDB's SQLite backend 2 was measured faster only with the store
    /// overloaded, and slower below that (BENCHMARKS.md, bench/latency.sh).
    #[arg(long, env = "IN_FLIGHT", default_value_t = 1)]
    pub in_flight: usize,

    /// Longest time (ms) the broker holds a fetch open while it has no new record for the
    /// processor (librdkafka's fetch.wait.max.ms). A record that arrives meanwhile is returned
    /// at once, so this bounds idle round trips, not latency.
    #[arg(long, env = "FETCH_WAIT_MS", default_value_t = 50)]
    pub fetch_wait_ms: u32,

    /// Most kilobytes of records fetched ahead of the batches (librdkafka's
    /// queued.max.messages.kbytes, and the largest fetch). The default is librdkafka's, 64 MiB:
    /// a bound of 8 MiB drained a backlog 0.74x as fast (smaller batches, more store commands
    /// per event) for a peak RSS 0.63x (bench/processor.sh, BENCHMARKS.md); what a burst takes
    /// goes back after it either way (memory::long_running). Lower it where memory is scarcer
    /// than drain speed.
    #[arg(long, env = "FETCH_QUEUE_KB", default_value_t = 65536)]
    pub fetch_queue_kb: u32,

    /// Commands the processor has at the store at once. 3 (the default): the three collections
    /// of a batch at once; 1 sends one command at a time; more lets EARLY_JOINS' commands go
    /// beside them (up to five per batch, and the receipts before it). Measured on FerretDB's
    /// SQLite backend (one write transaction at a time per database): 1 was no faster, and
    /// five at once slower (BENCHMARKS.md, bench/latency.sh).
    #[arg(long, env = "STORE_WRITERS", default_value_t = 3)]
    pub store_writers: usize,

    /// Send a batch's joins on activities created in earlier batches alongside its creations
    /// (true or 1; a round trip less, for a store that applies concurrent writes in parallel,
    /// with STORE_WRITERS 5 or more), or every join after the creations (false, the default:
    /// on FerretDB's SQLite backend the concurrent writes wait for each other and were measured
    /// slower). Joins on an activity created in the same batch always wait for it.
    #[arg(long, env = "EARLY_JOINS", default_value_t = false, action = clap::ArgAction::Set,
          value_parser = clap::builder::BoolishValueParser::new())]
    pub early_joins: bool,

    /// Address of the HTTP endpoint serving /metrics (Prometheus text); `off` disables it.
    #[arg(long, env = "METRICS_ADDR", default_value = "127.0.0.1:9101")]
    pub metrics_addr: String,

    /// Append one JSON line per applied event to this file (event_id, event_type,
    /// t0_created, t1_kafka, t3_start, t5_end in µs since the epoch; kafka_lag_ms,
    /// processing_time_ms, total_latency_ms; timestamp).
    #[arg(long, env = "METRICS_FILE")]
    pub metrics_file: Option<PathBuf>,

    /// Once connected to Kafka and the store and subscribed, write this file: one JSON object
    /// with the pid and the address /metrics bound (null when off), e.g.
    /// `{"pid": 4242, "metrics": "127.0.0.1:40123"}`. It appears whole (written, then renamed),
    /// so a script waits for the file instead of reading the log; remove it before a start.
    #[arg(long, env = "READY_FILE")]
    pub ready_file: Option<PathBuf>,

    /// Seconds between summary lines in the log (throughput, p50/p95/p99, error rate).
    #[arg(long, env = "SUMMARY_INTERVAL_S", default_value_t = 10)]
    pub summary_interval_s: u64,

    /// Log level: ERROR, WARNING (or WARN), INFO, DEBUG or TRACE, any case.
    #[arg(long, env = "LOG_LEVEL", default_value = "INFO")]
    pub log_level: String,

    /// Start over instead of consuming: drop the projections and receipts (users, activities,
    /// statistics, processed_events) in the MongoDB database, move the consumer group to the
    /// end of the topic, print what was done and exit. Fails while another member of the group
    /// is running. scripts/demo/setup.sh and cleanup.sh use it.
    #[arg(long)]
    pub reset: bool,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Kafka bootstrap servers.
    pub bootstrap: String,
    /// MongoDB connection string.
    pub mongodb_uri: String,
    /// The CDC topic.
    pub topic: String,
    /// The dead-letter topic.
    pub dlq_topic: String,
    /// Consumer group.
    pub group: String,
    /// Most records per batch.
    pub batch_size: usize,
    /// Batches between being received and having their offsets stored (1 to 8).
    pub in_flight: usize,
    /// librdkafka's fetch.wait.max.ms.
    pub fetch_wait_ms: u32,
    /// librdkafka's queued.max.messages.kbytes (and fetch.max.bytes, in kB).
    pub fetch_queue_kb: u32,
    /// Commands at the store at once (1 to 16).
    pub store_writers: usize,
    /// Joins on earlier documents go alongside the creations.
    pub early_joins: bool,
    /// Where /metrics listens, if anywhere.
    pub metrics_addr: Option<SocketAddr>,
    /// Per-event JSON lines file.
    pub metrics_file: Option<PathBuf>,
    /// Where to say that it is ready, and its addresses.
    pub ready_file: Option<PathBuf>,
    /// Period of the summary log line.
    pub summary_interval: Duration,
    /// Log level.
    pub log_level: tracing::Level,
    /// Reset the store and the group instead of consuming.
    pub reset: bool,
}

impl Args {
    /// Validates the arguments. Each error names the flag, its environment variable, the bad
    /// value and what is accepted.
    pub fn validate(self) -> Result<Config, String> {
        if self.bootstrap.trim().is_empty() {
            return Err("--bootstrap (KAFKA_BOOTSTRAP) is empty; give host:port".into());
        }
        if !(1..=100_000).contains(&self.batch_size) {
            return Err(format!(
                "--batch-size (BATCH_SIZE) = {} is out of range; use 1 to 100000",
                self.batch_size
            ));
        }
        if !(1..=8).contains(&self.in_flight) {
            return Err(format!(
                "--in-flight (IN_FLIGHT) = {} is out of range; use 1 (one batch at a time) to 8",
                self.in_flight
            ));
        }
        if !(1..=10_000).contains(&self.fetch_wait_ms) {
            return Err(format!(
                "--fetch-wait-ms (FETCH_WAIT_MS) = {} is out of range; use 1 to 10000",
                self.fetch_wait_ms
            ));
        }
        if !(1024..=2_097_151).contains(&self.fetch_queue_kb) {
            return Err(format!(
                "--fetch-queue-kb (FETCH_QUEUE_KB) = {} is out of range; use 1024 (one partition's fetch, 1 MiB) to 2097151",
                self.fetch_queue_kb
            ));
        }
        if !(1..=16).contains(&self.store_writers) {
            return Err(format!(
                "--store-writers (STORE_WRITERS) = {} is out of range; use 1 to 16",
                self.store_writers
            ));
        }
        if self.summary_interval_s == 0 {
            return Err("--summary-interval-s (SUMMARY_INTERVAL_S) must be at least 1".into());
        }
        if !self.mongodb_uri.starts_with("mongodb://")
            && !self.mongodb_uri.starts_with("mongodb+srv://")
        {
            return Err(format!(
                "--mongodb-uri (MONGODB_URI) = {:?} is not a MongoDB connection string; e.g. {}",
                self.mongodb_uri,
                defaults::MONGODB_URI
            ));
        }
        let metrics_addr = telemetry::http::parse_listen(
            &self.metrics_addr,
            "--metrics-addr (METRICS_ADDR)",
            "127.0.0.1:9101",
        )?;
        let log_level = parse_level(&self.log_level)?;
        let dlq_topic = self
            .dlq_topic
            .unwrap_or_else(|| format!("{}.dlq", self.topic));
        Ok(Config {
            bootstrap: self.bootstrap,
            mongodb_uri: self.mongodb_uri,
            topic: self.topic,
            dlq_topic,
            group: self.group,
            batch_size: self.batch_size,
            in_flight: self.in_flight,
            fetch_wait_ms: self.fetch_wait_ms,
            fetch_queue_kb: self.fetch_queue_kb,
            store_writers: self.store_writers,
            early_joins: self.early_joins,
            metrics_addr,
            metrics_file: self.metrics_file,
            ready_file: self.ready_file,
            summary_interval: Duration::from_secs(self.summary_interval_s),
            log_level,
            reset: self.reset,
        })
    }
}

pub use telemetry::parse_level;

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory as _, FromArgMatches as _};

    /// Parses `extra` as the command line with no environment variable read, so that what the
    /// tests see is the flags and the defaults alone, whatever the environment of the test run.
    fn args(extra: &[&str]) -> Result<Config, String> {
        let mut cmd = Args::command();
        let ids: Vec<clap::Id> = cmd.get_arguments().map(|a| a.get_id().clone()).collect();
        for id in ids {
            cmd = cmd.mut_arg(id, |a| a.env(None::<&str>));
        }
        let mut argv = vec!["event-processor"];
        argv.extend_from_slice(extra);
        let matches = cmd.try_get_matches_from(argv).map_err(|e| e.to_string())?;
        Args::from_arg_matches(&matches)
            .map_err(|e| e.to_string())?
            .validate()
    }

    #[test]
    fn defaults_follow_the_design() {
        let c = args(&[]).unwrap();
        assert_eq!(c.bootstrap, "127.0.0.1:9092");
        assert_eq!(c.mongodb_uri, "mongodb://127.0.0.1:27017/activity");
        assert_eq!(c.topic, names::CDC_TOPIC);
        assert_eq!(c.dlq_topic, names::DLQ_TOPIC);
        assert_eq!(c.group, names::PROCESSOR_GROUP);
        assert_eq!(c.batch_size, 1000);
        assert_eq!(c.in_flight, 1);
        assert_eq!(c.store_writers, 3);
        assert!(!c.early_joins);
        assert!(args(&["--early-joins", "1"]).unwrap().early_joins);
        assert!(args(&["--early-joins", "true"]).unwrap().early_joins);
        assert!(!args(&["--early-joins", "0"]).unwrap().early_joins);
        assert_eq!(c.fetch_wait_ms, 50);
        assert_eq!(c.fetch_queue_kb, 65536);
        assert_eq!(c.metrics_addr, Some("127.0.0.1:9101".parse().unwrap()));
        assert_eq!(c.metrics_file, None);
        assert_eq!(c.log_level, tracing::Level::INFO);
        assert_eq!(c.summary_interval, Duration::from_secs(10));
        assert!(!c.reset);
        // every flag still reads its variable when the tests do not take it away
        let env: Vec<String> = Args::command()
            .get_arguments()
            .filter_map(|a| Some(a.get_env()?.to_string_lossy().into_owned()))
            .collect();
        for var in [
            "KAFKA_BOOTSTRAP",
            "MONGODB_URI",
            "CDC_TOPIC",
            "BATCH_SIZE",
            "IN_FLIGHT",
            "STORE_WRITERS",
            "FETCH_WAIT_MS",
            "FETCH_QUEUE_KB",
            "EARLY_JOINS",
            "METRICS_FILE",
        ] {
            assert!(env.iter().any(|e| e == var), "{var} in {env:?}");
        }
    }

    #[test]
    fn bad_values_are_named() {
        let e = args(&["--batch-size", "0"]).unwrap_err();
        assert!(e.contains("BATCH_SIZE") && e.contains("1 to 100000"), "{e}");
        let e = args(&["--in-flight", "0"]).unwrap_err();
        assert!(e.contains("IN_FLIGHT") && e.contains("1 (one batch"), "{e}");
        assert_eq!(args(&["--in-flight", "2"]).unwrap().in_flight, 2);
        let e = args(&["--store-writers", "17"]).unwrap_err();
        assert!(e.contains("STORE_WRITERS") && e.contains("1 to 16"), "{e}");
        let e = args(&["--fetch-wait-ms", "0"]).unwrap_err();
        assert!(e.contains("FETCH_WAIT_MS"), "{e}");
        let e = args(&["--fetch-queue-kb", "512"]).unwrap_err();
        assert!(e.contains("FETCH_QUEUE_KB") && e.contains("1024"), "{e}");
        let e = args(&["--metrics-addr", "nine"]).unwrap_err();
        assert!(e.contains("METRICS_ADDR") && e.contains("\"nine\""), "{e}");
        let e = args(&["--mongodb-uri", "http://x"]).unwrap_err();
        assert!(e.contains("MONGODB_URI"), "{e}");
        let e = args(&["--log-level", "loud"]).unwrap_err();
        assert!(e.contains("LOG_LEVEL") && e.contains("WARNING"), "{e}");
        assert_eq!(args(&["--metrics-addr", "off"]).unwrap().metrics_addr, None);
    }
}
