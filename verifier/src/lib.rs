//! `verifier`: follows every event of a generator run from PostgreSQL through Kafka into
//! MongoDB, measures every stage (T0 created … T5 written) with HdrHistogram, and proves that
//! nothing was lost or applied twice. Names: `docs/design.md`.
//!
//! The binary is thin: [`config::Config::from_cli`] validates the command line into the
//! command with its own configuration, [`run::run`] does the work and returns a typed
//! [`Error`] (exit 2) or the [`report::Verdict`] (exit 0, 1 or 3).
//!
//! One folder per layer, each depending only on the layers above it in this list
//! (`tests/layers.rs` checks it):
//!
//! 1. [`model`], pure: runs, the join, stage measures, fates, integrity rules, SLOs, faults.
//! 2. [`report`], pure but for writing its files: the report, its text, HTML and `.hlog` forms.
//! 3. Beside each other: [`live`], the live views, pure (the snapshot, `/status`, the dashboard,
//!    the progress line, the daemon's page); [`soak`], a soak's report from its folder; and
//!    [`sources`], the I/O: PostgreSQL, Kafka, MongoDB (one module each) and the state audit's
//!    reads.
//! 4. [`error`]: why the verifier could not run.
//! 5. [`follow`]: following a run, the loop and its tasks.
//! 6. The commands: [`daemon`] (`serve`), [`lag`], then [`capacity`] (its search is pure).
//! 7. The edges: [`cli`], [`config`], [`logging`], [`run`].
#![forbid(unsafe_code)]

mod model;

mod report;

mod live;
pub mod soak;
mod sources;

pub mod error;

mod follow;

mod daemon;
mod lag;

mod capacity;

pub mod cli;
pub mod config;
pub mod logging;
pub mod run;

pub use config::Config;
pub use error::Error;
pub use report::Verdict;
