//! `verifier`: follows every event of a generator run from PostgreSQL through Kafka into
//! MongoDB, measures every stage (T0 created … T5 written) with HdrHistogram, and proves that
//! nothing was lost or applied twice. Names: `docs/design.md`.
//!
//! The binary is thin: [`config::Config::from_cli`] validates the command line, [`run::run`]
//! does the work and returns a typed [`Error`] (exit 2) or the [`report::Verdict`] (exit 0 or 1).
//!
//! Pure logic:
//! - [`manifest`]: a run as `outbox_demo.runs` describes it, and which run to follow.
//! - [`join`]: the per-run join of outbox, Kafka and receipts, keyed by seq (bitsets).
//! - [`measure`]: stage histograms, skew and resolution accounting, throughput timelines.
//! - [`integrity`]: the rules MongoDB's state must satisfy.
//! - [`slo`]: objectives and their judgement.
//! - [`report`]: the report (text and `report.json`); [`html`] and [`hlog`] its other forms.
//! - [`view`]: the live snapshot, and [`status`], [`dashboard`] and the progress line that show it.
//! - [`follow::stop`]: when following stops.
//!
//! I/O at the edges: [`sources`] (PostgreSQL, Kafka, MongoDB, one module each), [`audit`] (the
//! state audit's reads), [`follow`] (the loop and its tasks), [`artifacts`], [`progress`],
//! [`logging`], and [`run`].
#![forbid(unsafe_code)]

pub mod integrity;
pub mod join;
pub mod manifest;
pub mod measure;
pub mod report;
pub mod slo;
pub mod view;

pub mod artifacts;
pub mod audit;
pub mod cli;
pub mod config;
pub mod dashboard;
pub mod error;
pub mod follow;
pub mod hlog;
pub mod html;
pub mod logging;
pub mod progress;
pub mod run;
pub mod sources;
pub mod status;

pub use config::Config;
pub use error::Error;
