//! Waiting for a condition, never for a guessed duration.

use std::future::Future;
use std::time::Duration;

use anyhow::bail;
use tokio::time::Instant;

/// How often [`until`] looks again.
pub const POLL: Duration = Duration::from_millis(100);

/// Calls `probe` every [`POLL`] until it returns `Some`, and returns that value; fails after
/// `within` with `what` and the last state `probe` described (`Err` from the probe fails at
/// once). `within` is a bound for a machine far slower than expected, not a guess of the pace.
pub async fn until<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Step<T>>>,
{
    let deadline = Instant::now() + within;
    loop {
        let last = match probe().await? {
            Step::Done(v) => return Ok(v),
            Step::Waiting(state) => state,
        };
        if Instant::now() >= deadline {
            bail!("{what}: not within {within:?} (last seen: {last})");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What one probe of [`until`] found.
#[derive(Debug)]
pub enum Step<T> {
    /// The condition holds, with this value.
    Done(T),
    /// Not yet: what was seen, for the error message if the wait fails.
    Waiting(String),
}

impl<T> Step<T> {
    /// `Done(value)` when `done`, else `Waiting(state)`.
    pub fn when(done: bool, value: T, state: impl FnOnce() -> String) -> Self {
        if done {
            Step::Done(value)
        } else {
            Step::Waiting(state())
        }
    }
}
