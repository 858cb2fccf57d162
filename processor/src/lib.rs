//! `event-processor`: consumes `postgres.activity.event_outbox` (group `event-processor-group`)
//! and projects each event into MongoDB (`users`, `activities`, `statistics`), writing one
//! receipt per event into `processed_events` with every stage timestamp.
//!
//! Status: empty; the processor lands with its own issue. Names: `DESIGN.md`.
#![forbid(unsafe_code)]
