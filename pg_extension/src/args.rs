//! The SQL arguments of `demo_generate` and `demo_run`: checked by `outbox_logic::args` (where
//! their tests run without PostgreSQL), a refusal raised here as SQLSTATE 22023 with its detail
//! and hint, before anything is written.

use outbox_logic::args::{self as check, ArgError};
pub use outbox_logic::args::{RunArgs, MAX_BATCH, MAX_RATE};

use crate::error::invalid_argument;
use crate::gucs::MAX_EVENTS;

fn or_raise<T>(checked: Result<T, ArgError>) -> T {
    checked.unwrap_or_else(|e| invalid_argument(e.message, e.detail, &e.hint))
}

/// A required argument, or SQLSTATE 22023 naming it when it is NULL (`hint`: how to give it).
pub fn required<T>(name: &str, value: Option<T>, hint: &str) -> T {
    or_raise(check::required(name, value, hint))
}

/// Checks `n` (against `outbox_demo.max_events`), `mix` and `seed` (a missing seed is drawn at
/// random).
pub fn run_args(n: i64, mix: &str, seed: Option<i64>, reuse_entities: bool) -> RunArgs {
    or_raise(check::run_args(
        n,
        mix,
        seed,
        reuse_entities,
        MAX_EVENTS.get(),
    ))
}

/// Checks a batch or transaction size argument.
pub fn size(name: &str, value: i32) -> usize {
    or_raise(check::size(name, value))
}

/// Checks a rate in events per second.
pub fn rate(rate: f64) -> f64 {
    or_raise(check::rate(rate))
}
