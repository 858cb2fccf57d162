//! `verifier`: tails Kafka and MongoDB, joins each event with the generator's run manifest in
//! PostgreSQL, measures every stage (T0 created … T5 written) and proves that nothing was lost or
//! applied twice.
//!
//! Status: empty; the verifier lands with its own issue. Names: `DESIGN.md`.
#![forbid(unsafe_code)]
