//! The event model shared by the generator, the processor, the verifier and the tests.
//!
//! - [`names`]: the names every part agrees on (topics, databases, collections, groups), from
//!   `docs/design.md`.
//! - [`envelope`]: decoding the Debezium change envelope of an `activity.event_outbox` row as it
//!   arrives on Kafka (JSON, schemas disabled).
//! - [`stages`]: the pipeline's stages ([`Stage`], [`PerStage`]), how timestamps become stage
//!   durations, and the one latency histogram shape.
//! - [`time`]: microsecond timestamps since the Unix epoch, the unit of every measurement.
//!
//! Pure logic only: no I/O, no clocks read except where a function says so.
#![forbid(unsafe_code)]

pub mod envelope;
pub mod names;
pub mod payload;
pub mod stages;
pub mod time;

pub use envelope::{decode_envelope, DecodeError, Envelope, Op, OutboxRow, Source};
pub use payload::{EventType, Payload};
pub use stages::{PerStage, Sample, Stage, Stamps, T2Census, T2Kind};
pub use time::{parse_timestamp_us, TimestampError};
