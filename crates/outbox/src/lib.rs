//! The logic of the `outbox_demo` extension that needs no PostgreSQL, so that its tests run
//! with `cargo test` anywhere:
//! - [`args`]: the SQL arguments of `demo_generate` and `demo_run`, checked into a typed run
//!   description, or refused with the message, detail and hint of SQLSTATE 22023;
//! - [`schedule`]: rate mode's open-loop schedule and the generator lag it measures;
//! - [`jsonb`]: PostgreSQL's binary `jsonb` format, built in Rust.
//!
//! `pg_extension/` is the glue: it reads the settings, raises the errors and writes with SPI.
#![forbid(unsafe_code)]

pub mod args;
pub mod jsonb;
pub mod schedule;
