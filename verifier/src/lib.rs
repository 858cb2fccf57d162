//! `verifier`: follows every event of a generator run from PostgreSQL through Kafka into
//! MongoDB, measures every stage (T0 created … T5 written) with HdrHistogram, and proves that
//! nothing was lost or applied twice. Names: `DESIGN.md`.
//!
//! Pure logic:
//! - [`measure`]: stage histograms, skew and resolution accounting, throughput timelines.
//! - [`join`]: the per-run join of outbox, Kafka and receipts, keyed by seq (bitsets).
//! - [`integrity`]: the rules MongoDB's state must satisfy.
//! - [`slo`]: objectives and their verdict.
//! - [`report`]: the report (text and `report.json`).
//!
//! I/O at the edges: [`sources`] (PostgreSQL, Kafka, MongoDB), [`watch`] (the loop), and the
//! `verifier` binary.
#![forbid(unsafe_code)]

pub mod integrity;
pub mod join;
pub mod measure;
pub mod report;
pub mod slo;

pub mod cli;
pub mod dashboard;
pub mod follow;
pub mod hlog;
pub mod html;
pub mod sources;
pub mod status;
