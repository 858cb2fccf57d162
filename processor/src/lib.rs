//! `event-processor`: consumes `postgres.activity.event_outbox` (group `event-processor-group`)
//! and projects each event into MongoDB (`users`, `activities`, `statistics`), writing one
//! receipt per event into `processed_events` with every stage timestamp. Names: `docs/design.md`.
//!
//! - [`config`]: flags and environment, validated.
//! - [`decode`]: Kafka record → event, or the reason it is dead-lettered (pure).
//! - [`plan`]: events → MongoDB writes that are idempotent; the effectively-once mechanism is
//!   described there (pure).
//! - [`store`]: those writes as `insert` / `update` commands.
//! - [`metrics`]: Prometheus metrics, the summary line, `METRICS_FILE` lines.
//! - [`retry`]: retrying a failing step with backoff, bounded by a stop.
//! - [`run`]: the consume → apply → commit loop, its batches in flight, and its shutdown.
#![forbid(unsafe_code)]

pub mod config;
pub mod decode;
pub mod metrics;
pub mod plan;
pub mod retry;
pub mod run;
pub mod store;
