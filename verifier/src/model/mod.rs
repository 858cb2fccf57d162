//! The model, pure: what a run is, what happened to each of its events, and how it is judged.
//! No I/O; every layer above builds on it.
//!
//! - [`manifest`]: a run as `outbox_demo.runs` describes it, and which run to follow.
//! - [`join`]: the per-run join of outbox, Kafka and receipts, keyed by seq (bitsets).
//! - [`measure`]: stage histograms, skew and resolution accounting, throughput timelines;
//!   [`buckets`]: the same counted into the fixed buckets `/metrics` exports.
//! - [`fate`]: where an event without an effect is: lost, pending or undetermined.
//! - [`integrity`]: the rules MongoDB's state must satisfy.
//! - [`slo`]: objectives and their judgement.
//! - [`fault`]: a fault during a run, its phases and recovery.
//! - [`receipt_source`]: where receipts come from (`--receipts`) and what the report says of
//!   them; [`metrics_line`]: one line of a consumer's metrics file.

pub(crate) mod buckets;
pub(crate) mod fate;
pub(crate) mod fault;
pub(crate) mod integrity;
pub(crate) mod join;
pub(crate) mod manifest;
pub(crate) mod measure;
pub(crate) mod metrics_line;
pub(crate) mod receipt_source;
pub(crate) mod slo;
