//! Why the processor stopped or could not start. Each error names the service and its address
//! and what to do; `main` turns it into exit code 2 (could not start) or 1 (stopped on a
//! failure), as [`Error::exit_code`] says.

use std::net::SocketAddr;
use std::path::PathBuf;

use rdkafka::error::KafkaError;

use crate::store::StoreError;

/// A failure of the processor.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Kafka refused or failed a step.
    #[error("Kafka at {addr}: {what}: {source}")]
    Kafka {
        /// `KAFKA_BOOTSTRAP`.
        addr: String,
        /// The step.
        what: String,
        /// rdkafka's error.
        #[source]
        source: Box<KafkaError>,
    },
    /// The CDC topic is not there.
    #[error("topic {topic} does not exist on Kafka at {addr}; stack/up.sh creates it (CDC_TOPIC)")]
    NoTopic {
        /// `CDC_TOPIC`.
        topic: String,
        /// `KAFKA_BOOTSTRAP`.
        addr: String,
    },
    /// Kafka did not answer.
    #[error("Kafka at {addr} is not reachable (KAFKA_BOOTSTRAP): {reason}; is the stack up (stack/up.sh)?")]
    KafkaUnreachable {
        /// `KAFKA_BOOTSTRAP`.
        addr: String,
        /// What the client saw.
        reason: String,
    },
    /// The store refused or failed a step (the error names its address).
    #[error("{0}; is the stack up (stack/up.sh)? MONGODB_URI names the store")]
    Store(#[from] StoreError),
    /// `METRICS_ADDR` cannot be bound.
    #[error("{source}; set METRICS_ADDR to another address, or off")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// `METRICS_FILE` cannot be opened or written.
    #[error("METRICS_FILE {}: {source}", path.display())]
    MetricsFile {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// `READY_FILE` cannot be written.
    #[error("READY_FILE {}: {source}", path.display())]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// A stop came while a batch could not be applied: its offsets are not committed.
    #[error("stopping with a batch not applied ({what}: {reason}); its offsets were not committed, so it is re-read on restart")]
    NotApplied {
        /// The step that kept failing.
        what: String,
        /// Its last error.
        reason: String,
    },
    /// The task writing a batch's receipts panicked or was cancelled.
    #[error("the task writing receipts failed: {0}")]
    Task(String),
}

impl Error {
    /// 2 when the processor could not start (a service or a setting), 1 when it stopped on a
    /// failure while running.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::NotApplied { .. } | Error::Task(_) => 1,
            _ => 2,
        }
    }
}
