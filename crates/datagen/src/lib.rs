//! Seeded fake-data generation and referential planning for the outbox generator.
//!
//! [`Generator`] plans a run of `n` events (UserCreated, ActivityCreated, ParticipantJoined in a
//! [`Mix`], 50/30/20 by default) from a seed: the same seed, parameters and starting [`World`]
//! give byte-identical events, and every reference points to an entity created earlier (in the
//! run or in the world it continues). It never mentions pgrx and does no I/O: the `outbox_demo`
//! extension (`pg_extension/`) is thin glue over it. See [`generator`] for the rules and how the
//! mix is kept.
#![forbid(unsafe_code)]

pub mod generator;
pub mod mix;
mod vocab;
pub mod world;

pub use generator::{Generator, GeneratorConfig, PlanError, PlannedEvent, DEFAULT_EPOCH_US};
pub use mix::{Mix, MixError};
pub use world::{Activity, World, WorldError};
