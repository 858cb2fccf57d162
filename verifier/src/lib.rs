//! `verifier`: follows every event of a generator run from PostgreSQL through Kafka into
//! MongoDB, measures every stage (T0 created … T5 written) with HdrHistogram, and proves that
//! nothing was lost or applied twice. Names: `docs/design.md`.
//!
//! The binary is thin: [`config::Config::from_cli`] validates the command line, [`run::run`]
//! does the work and returns a typed [`Error`] (exit 2) or the [`report::Verdict`] (exit 0 or 1).
//!
//! Pure logic:
//! - [`manifest`]: a run as `outbox_demo.runs` describes it, and which run to follow.
//! - [`fate`]: where an event without an effect is: lost, pending or undetermined.
//! - [`join`]: the per-run join of outbox, Kafka and receipts, keyed by seq (bitsets).
//! - [`measure`]: stage histograms, skew and resolution accounting, throughput timelines;
//!   [`buckets`]: the same counted into the fixed buckets `/metrics` exports.
//! - [`integrity`]: the rules MongoDB's state must satisfy.
//! - [`slo`]: objectives and their judgement.
//! - [`report`]: the report (text and `report.json`); [`html`] and [`hlog`] its other forms.
//! - [`view`]: the live snapshot, and [`status`], [`dashboard`] and the progress line that show it.
//! - [`follow::stop`]: when following stops; [`fault`]: a fault during a run, its phases and
//!   recovery.
//!
//! The daemon, `verifier serve`: [`daemon`] (its book of runs and routes are pure, its folder
//! and loop I/O).
//!
//! I/O at the edges: [`sources`] (PostgreSQL, Kafka, MongoDB, one module each), [`audit`] (the
//! state audit's reads), [`follow`] (the loop and its tasks), [`artifacts`], [`progress`],
//! [`logging`], and [`run`].
#![forbid(unsafe_code)]

mod buckets;
mod fate;
mod fault;
mod integrity;
mod join;
mod manifest;
mod measure;
mod metrics_line;
mod receipt_source;
mod report;
mod slo;
pub mod soak;
mod view;

mod artifacts;
mod audit;
mod capacity;
pub mod cli;
pub mod config;
mod daemon;
mod dashboard;
pub mod error;
mod follow;
mod hlog;
mod html;
mod lag;
pub mod logging;
mod progress;
pub mod run;
mod sources;
mod status;

pub use config::Config;
pub use error::Error;
pub use report::Verdict;
