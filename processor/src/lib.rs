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
//! - [`run`](mod@run): the consume → apply → commit loop, its batches in flight, and its one
//!   shutdown path; [`run()`] is the whole processor, as the binary runs it.
//! - [`error`]: why it stopped or could not start, naming the service and its address.
#![forbid(unsafe_code)]

pub mod config;
pub mod decode;
pub mod error;
pub mod metrics;
pub mod plan;
pub mod retry;
pub mod run;
pub mod store;

pub use error::Error;
pub use run::{run, Done};
