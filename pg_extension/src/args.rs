//! The SQL arguments of `demo_generate` and `demo_run`, validated into a typed run description
//! before anything is written. Every refusal is SQLSTATE 22023 with a detail and a hint.

use datagen::{GeneratorConfig, Mix};

use crate::error::invalid_argument;
use crate::gucs::MAX_EVENTS;

/// Largest `batch_size` and `txn_size`: one statement's arrays stay well under a gigabyte.
pub const MAX_BATCH: i32 = 100_000;
/// Highest `rate`, events per second.
pub const MAX_RATE: f64 = 1_000_000.0;

/// What a call asked for, checked.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Generator configuration (n, mix, seed, …).
    pub generator: GeneratorConfig,
    /// Whether the run continues the entities of earlier runs.
    pub reuse_entities: bool,
}

/// A required argument, or SQLSTATE 22023 naming it when it is NULL (`hint`: how to give it).
pub fn required<T>(name: &str, value: Option<T>, hint: &str) -> T {
    value.unwrap_or_else(|| {
        invalid_argument(
            format!("{name} must not be NULL"),
            format!("NULL is not a value for {name} (an argument with a default may be left out instead); nothing was written."),
            hint,
        )
    })
}

/// Checks `n`, `mix` and `seed` (a missing seed is drawn at random).
pub fn run_args(n: i64, mix: &str, seed: Option<i64>, reuse_entities: bool) -> RunArgs {
    let cap = i64::from(MAX_EVENTS.get());
    if n <= 0 {
        invalid_argument(
            format!("n must be a positive number of events, got {n}"),
            "n is how many events to write into activity.event_outbox.".into(),
            "Call it with n of 1 or more, e.g. SELECT * FROM demo_generate(10000).",
        );
    }
    if n > cap {
        invalid_argument(
            format!("n = {n} is over the cap outbox_demo.max_events = {cap}"),
            "The cap bounds what one call may write.".into(),
            "Write fewer events per call, or have a superuser raise it: SET outbox_demo.max_events = ...",
        );
    }
    let mix: Mix = mix.parse().unwrap_or_else(|e: datagen::MixError| {
        invalid_argument(
            format!("invalid mix {mix:?}"),
            format!("{}.", e.reason),
            "Give three whole percentages of UserCreated/ActivityCreated/ParticipantJoined that sum to 100, e.g. '50/30/20'.",
        )
    });
    let seed = seed.unwrap_or_else(|| {
        let bytes = uuid::Uuid::new_v4().into_bytes();
        i64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ])
    });
    let mut generator = GeneratorConfig::new(n as u64, seed as u64);
    generator.mix = mix;
    RunArgs {
        generator,
        reuse_entities,
    }
}

/// Checks a batch or transaction size argument.
pub fn size(name: &str, value: i32) -> usize {
    if !(1..=MAX_BATCH).contains(&value) {
        invalid_argument(
            format!("{name} must be between 1 and {MAX_BATCH}, got {value}"),
            format!("{name} is how many events go into one statement or transaction."),
            "Leave it out for the default, or give a value from 1 to 100000.",
        );
    }
    value as usize
}

/// Checks a rate in events per second.
pub fn rate(rate: f64) -> f64 {
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
        invalid_argument(
            format!("rate must be a number of events per second above 0 and at most {MAX_RATE}, got {rate}"),
            "In rate mode event k is due at start + k / rate.".into(),
            "Give a positive rate, e.g. CALL demo_run(10000, rate => 500).",
        );
    }
    rate
}
