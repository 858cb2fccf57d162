//! The backlog probes, refreshed every second off the follow loop (a slow service must not
//! delay the join): the replication slot's lag in PostgreSQL and the processor group's lag in
//! Kafka. A probe whose service fails says so once in the log, shows its figure as unknown, and
//! keeps trying; it says so again when the figure is back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;

use crate::sources::{Endpoints, GroupState, LagProbe, Pg, SourceError};

/// The latest figures (`None`: unknown).
#[derive(Debug, Clone, Default)]
pub(crate) struct Lags {
    /// WAL bytes the slot has not confirmed.
    pub(crate) slot_bytes: Option<i64>,
    /// The processor group's committed offsets and the topic's ends.
    pub(crate) group: Option<GroupState>,
}

impl Lags {
    /// Records the processor group has not committed.
    pub(crate) fn processor(&self) -> Option<i64> {
        self.group.as_ref().and_then(GroupState::lag)
    }
}

/// The latest [`Lags`], written by the probes and read by the follow loop.
#[derive(Debug, Default)]
pub(crate) struct SharedLags(Mutex<Lags>);

impl SharedLags {
    /// The latest figures.
    pub(crate) fn get(&self) -> Lags {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn update(&self, f: impl FnOnce(&mut Lags)) {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }
}

/// Logs a probe's failure once, and its recovery once.
#[derive(Debug)]
struct Health {
    what: &'static str,
    failing: bool,
}

impl Health {
    fn new(what: &'static str) -> Self {
        Self {
            what,
            failing: false,
        }
    }

    fn result<T>(&mut self, r: Result<Option<T>, SourceError>) -> Option<T> {
        match r {
            Ok(v) => {
                if std::mem::take(&mut self.failing) {
                    tracing::info!("{} is known again", self.what);
                }
                v
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    tracing::warn!("{} is unknown until this succeeds again: {e}", self.what);
                }
                None
            }
        }
    }
}

/// Starts both probes; they stop when `stop` turns true.
pub(crate) fn spawn(endpoints: &Endpoints, stop: watch::Receiver<bool>) -> Arc<SharedLags> {
    let lags = Arc::new(SharedLags::default());
    tokio::spawn(slot(Arc::clone(&lags), endpoints.clone(), stop.clone()));
    let (l, e) = (Arc::clone(&lags), endpoints.clone());
    // librdkafka's calls block: the processor-lag probe has a thread of its own.
    std::thread::spawn(move || processor(&l, &e, &stop));
    lags
}

async fn slot(lags: Arc<SharedLags>, e: Endpoints, mut stop: watch::Receiver<bool>) {
    let mut health = Health::new("the replication slot's lag");
    let mut pg: Option<Pg> = None;
    while !*stop.borrow_and_update() {
        let lag = match &pg {
            Some(pg) => pg.slot_lag_bytes().await,
            None => match Pg::connect(&e).await {
                Ok(c) => {
                    let lag = c.slot_lag_bytes().await;
                    pg = Some(c);
                    lag
                }
                Err(err) => Err(err),
            },
        };
        if lag.is_err() {
            pg = None; // connect again next time
        }
        let v = health.result(lag);
        lags.update(|l| l.slot_bytes = v);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

fn processor(lags: &SharedLags, e: &Endpoints, stop: &watch::Receiver<bool>) {
    let mut health = Health::new("the processor group's lag");
    let mut probe: Option<LagProbe> = None;
    while !*stop.borrow() {
        let state = match probe.as_mut() {
            Some(p) => p.state(),
            None => LagProbe::new(e).and_then(|mut p| {
                let state = p.state();
                probe = Some(p);
                state
            }),
        };
        let v = health.result(state.map(Some));
        lags.update(|l| l.group = v);
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_probe_is_unknown_not_zero() {
        let mut h = Health::new("x");
        assert_eq!(h.result(Ok(Some(5))), Some(5));
        assert_eq!(h.result::<i64>(Err(SourceError::NoRun)), None);
        assert!(h.failing);
        assert_eq!(h.result(Ok(Some(0))), Some(0));
        assert!(!h.failing);
    }
}
