//! Seeded fake-data generation and referential planning for the outbox generator.
//!
//! This crate will plan a run of `n` events (UserCreated, ActivityCreated, ParticipantJoined in a
//! given mix) from a seed, so that the same seed and parameters give byte-identical events and
//! every reference points to an entity created earlier. It never mentions pgrx and does no I/O:
//! the `outbox_demo` extension (`pg_extension/`) is thin glue over it.
//!
//! Status: empty; the generator lands with the `outbox_demo` issue.
#![forbid(unsafe_code)]
