//! The canary: with `serve --canary-rate R`, the daemon keeps a trickle of generated events
//! flowing on its own, for a pipeline left running (staging, a demo machine), the way Strimzi's
//! canary and LinkedIn's Xinfra Monitor keep theirs, but followed into the store and audited
//! there. It writes rate runs of `--canary-window-s` seconds back to back (`CALL demo_run`, on a
//! connection of its own), which the daemon follows like any other run; `/metrics` then always
//! has fresh end-to-end latencies, verified and lost counts, and the time of the last verified
//! event. A window that fails (PostgreSQL down) is counted and tried again after a rest.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::follow::Services;
use crate::sources::Pg;

/// What the canary writes.
#[derive(Debug, Clone, PartialEq)]
pub struct CanaryConfig {
    /// Events per second.
    pub rate: f64,
    /// Seconds each of its rate runs lasts.
    pub window_s: u64,
}

impl CanaryConfig {
    /// Events per window (at least one).
    pub(crate) fn events(&self) -> u64 {
        (self.rate * self.window_s as f64).ceil().max(1.0) as u64
    }

    /// The call each window makes.
    fn call(&self) -> String {
        format!("CALL demo_run({}, rate => {})", self.events(), self.rate)
    }
}

/// What `/metrics` says of the canary.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CanaryStats {
    /// Its configuration.
    pub config: Option<CanaryConfig>,
    /// Windows started.
    pub windows: u64,
    /// Windows that failed to start or ended in an error.
    pub failures: u64,
}

/// How long a failed window rests before the next.
const REST: Duration = Duration::from_secs(10);

/// Starts the canary; it stops (cancelling the window under way) when `stop` turns true.
pub(super) fn spawn(
    services: Arc<Services>,
    cfg: CanaryConfig,
    stats: Arc<Mutex<CanaryStats>>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tracing::info!(
        "canary: {} events/s in runs of {} s ({} events each), back to back",
        cfg.rate,
        cfg.window_s,
        cfg.events()
    );
    tokio::spawn(async move {
        let call = cfg.call();
        while !*stop.borrow() {
            let result = match Pg::connect_once(&services.endpoints).await {
                Ok(pg) => {
                    stats.lock().expect("canary stats").windows += 1;
                    pg.call_until(&call, "writing the canary's run (CALL demo_run)", &mut stop)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                stats.lock().expect("canary stats").failures += 1;
                tracing::warn!("canary: {e}; trying again in {} s", REST.as_secs());
                tokio::select! {
                    () = tokio::time::sleep(REST) => {}
                    _ = stop.wait_for(|s| *s) => {}
                }
            }
        }
        tracing::info!("canary: stopped");
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_writes_its_rate_for_its_length_and_at_least_one_event() {
        let c = CanaryConfig {
            rate: 2.5,
            window_s: 60,
        };
        assert_eq!(c.events(), 150);
        assert_eq!(c.call(), "CALL demo_run(150, rate => 2.5)");
        let tiny = CanaryConfig {
            rate: 0.001,
            window_s: 10,
        };
        assert_eq!(tiny.events(), 1);
    }
}
