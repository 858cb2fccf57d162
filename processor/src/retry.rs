//! Retrying a failing step until it succeeds, or until a stop's grace period has passed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::error::Error;
use crate::metrics::Metrics;

/// How long a failing step is still retried after a stop was requested, so that the process
/// exits within 5 s.
const STOP_GRACE: Duration = Duration::from_secs(4);
/// Longest pause between two attempts at a failing step.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The service a failing step depends on, for messages and counters.
#[derive(Debug, Clone, Copy)]
pub enum Service {
    /// The MongoDB store.
    Store,
    /// Kafka.
    Kafka,
}

/// Retries steps against the store or Kafka; cloned into the tasks that write receipts.
#[derive(Clone)]
pub struct Retrier {
    /// Counts the failures.
    pub metrics: Arc<Metrics>,
    /// Set when a stop is requested.
    pub stop: watch::Receiver<bool>,
    /// The store's address, for messages.
    pub store_address: String,
    /// Kafka's bootstrap servers, for messages.
    pub bootstrap: String,
}

impl Retrier {
    fn address(&self, service: Service) -> String {
        match service {
            Service::Store => format!("MongoDB store at {}", self.store_address),
            Service::Kafka => format!("Kafka at {}", self.bootstrap),
        }
    }

    /// Retries `attempt` with exponential backoff until it succeeds, or until the stop grace
    /// period after a stop request has passed. Each failure is logged (the error names the
    /// service and its address) and counted against `service`.
    pub async fn run<T, E, F, Fut>(
        &self,
        service: Service,
        what: &str,
        mut attempt: F,
    ) -> Result<T, Error>
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
                    if *self.stop.borrow() {
                        let since = *stop_seen.get_or_insert_with(Instant::now);
                        if since.elapsed() >= STOP_GRACE {
                            return Err(Error::NotApplied {
                                what: what.to_owned(),
                                reason: e.to_string(),
                            });
                        }
                    }
                    tracing::warn!("{what} failed (attempt {tries}): {e}; retrying in {} ms; offsets do not advance", backoff.as_millis());
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}
