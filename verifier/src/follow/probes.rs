//! The backlog probes, refreshed every second off the follow loop (a slow service must not
//! delay the join): the replication slot's lag in PostgreSQL, the processor group's lag in
//! Kafka, and whether Kafka Connect's REST API answers. A probe whose service fails says so once
//! in the log, shows its figure as unknown, marks the part down (with since when) and keeps
//! trying; it says so again when the part is back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

use crate::sources::{Endpoints, GroupState, LagProbe, Mongo, Pg, SourceError};

/// The latest figures (`None`: unknown).
#[derive(Debug, Clone, Default)]
pub(crate) struct Lags {
    /// WAL bytes the slot has not confirmed.
    pub(crate) slot_bytes: Option<i64>,
    /// The processor group's committed offsets and the topic's ends.
    pub(crate) group: Option<GroupState>,
    /// The parts that do not answer (named with their address), and since when.
    pub(crate) down: BTreeMap<String, Instant>,
    /// Every part probed so far, answering or not.
    pub(crate) probed: BTreeSet<String>,
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

    /// Marks `part` down (from now, unless it already was) or up.
    pub(crate) fn set_down(&self, part: &str, down: bool) {
        self.update(|l| {
            if !l.probed.contains(part) {
                l.probed.insert(part.to_owned());
            }
            if !down {
                l.down.remove(part);
            } else if !l.down.contains_key(part) {
                l.down.insert(part.to_owned(), Instant::now());
            }
        });
    }
}

/// Each part down, with how long: `Kafka Connect at 127.0.0.1:8083 down for 12 s`.
pub(crate) fn down_list(down: &BTreeMap<String, Instant>) -> Vec<String> {
    down.iter()
        .map(|(part, since)| format!("{part} down for {} s", since.elapsed().as_secs()))
        .collect()
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
    // each worker of a distributed Connect is asked, and named when it does not answer
    for addr in endpoints.connect.iter().flat_map(|a| a.split(',')) {
        let addr = addr.trim().to_owned();
        tokio::spawn(connect(Arc::clone(&lags), addr, stop.clone()));
    }
    let (l, e) = (Arc::clone(&lags), endpoints.clone());
    // librdkafka's calls block: the processor-lag probe has a thread of its own.
    std::thread::spawn(move || processor(&l, &e, &stop));
    lags
}

/// The daemon's probe of the store (a follow notices the store down by itself, when a read
/// fails): it answers when `ping` does within 2 s. Stops when `stop` turns true.
pub(crate) fn spawn_store(lags: &Arc<SharedLags>, mongo: Mongo, stop: watch::Receiver<bool>) {
    let part = format!("the store at {}", mongo.uri());
    let check = move || {
        let mongo = mongo.clone();
        async move {
            matches!(
                tokio::time::timeout(Duration::from_secs(2), mongo.ping()).await,
                Ok(Ok(()))
            )
        }
    };
    let probe = probe_every_second(Arc::clone(lags), part, "ping within 2 s", check, stop);
    tokio::spawn(probe);
}

/// Kafka Connect answers when its REST API gives an HTTP status line within 2 s (a stopped
/// worker still accepts connections: the kernel does, but nothing answers).
async fn connect(lags: Arc<SharedLags>, addr: String, stop: watch::Receiver<bool>) {
    let part = format!("Kafka Connect at {addr}");
    let check = move || {
        let addr = addr.clone();
        async move { http_answers(&addr).await }
    };
    probe_every_second(lags, part, "GET / within 2 s", check, stop).await;
}

/// Asks `check` each second whether `part` answers, marks it down or up, and logs each flip
/// once (`what` says what was asked). Ends when `stop` turns true or its sender is gone.
async fn probe_every_second<F, Fut>(
    lags: Arc<SharedLags>,
    part: String,
    what: &'static str,
    check: F,
    mut stop: watch::Receiver<bool>,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut up = true;
    while !stopped(&mut stop) {
        let answers = check().await;
        if answers != up {
            if answers {
                tracing::info!("{part} answers again");
            } else {
                tracing::warn!("{part} does not answer ({what}); following on");
            }
            up = answers;
        }
        lags.set_down(&part, !answers);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Stop asked for, or the follow that started the probe gone without asking (it ended on an
/// error, or its task was aborted): a probe must not outlive it, nor spin on a closed channel.
fn stopped(stop: &mut watch::Receiver<bool>) -> bool {
    *stop.borrow_and_update() || stop.has_changed().is_err()
}

async fn http_answers(addr: &str) -> bool {
    let ask = async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(b"GET / HTTP/1.0\r\n\r\n").await.ok()?;
        let mut head = [0u8; 8];
        s.read_exact(&mut head).await.ok()?;
        Some(head.starts_with(b"HTTP/1."))
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(2), ask).await,
        Ok(Some(true))
    )
}

async fn slot(lags: Arc<SharedLags>, e: Endpoints, mut stop: watch::Receiver<bool>) {
    let mut health = Health::new("the replication slot's lag");
    let mut pg: Option<Pg> = None;
    while !stopped(&mut stop) {
        let lag = match &pg {
            Some(pg) => pg.slot_lag_bytes().await,
            None => match Pg::connect_once(&e).await {
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
        lags.set_down(
            &format!("PostgreSQL at {}:{}", e.pg_host, e.pg_port),
            lag.is_err(),
        );
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
    while !*stop.borrow() && stop.has_changed().is_ok() {
        let state = match probe.as_mut() {
            Some(p) => p.state(),
            None => LagProbe::new(e).and_then(|mut p| {
                let state = p.state();
                probe = Some(p);
                state
            }),
        };
        lags.set_down(&format!("Kafka at {}", e.bootstrap), state.is_err());
        let v = health.result(state.map(Some));
        lags.update(|l| l.group = v);
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_probe_ends_when_its_follow_is_gone_without_asking() {
        let (tx, rx) = watch::channel(false);
        let probe = tokio::spawn(connect(
            Arc::new(SharedLags::default()),
            "127.0.0.1:1".into(),
            rx,
        ));
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), probe)
            .await
            .expect("the probe ended")
            .unwrap();
    }

    #[test]
    fn a_part_is_down_from_its_first_failure_until_it_answers() {
        let l = SharedLags::default();
        l.set_down("Kafka at 127.0.0.1:9092", true);
        let since = l.get().down["Kafka at 127.0.0.1:9092"];
        l.set_down("Kafka at 127.0.0.1:9092", true);
        assert_eq!(
            l.get().down["Kafka at 127.0.0.1:9092"],
            since,
            "down since the first failure"
        );
        assert_eq!(
            down_list(&l.get().down),
            ["Kafka at 127.0.0.1:9092 down for 0 s"]
        );
        l.set_down("Kafka at 127.0.0.1:9092", false);
        assert!(l.get().down.is_empty());
    }

    #[tokio::test]
    async fn a_port_nobody_answers_on_is_not_connect() {
        // a listener that accepts and never answers, like a stopped worker
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap().to_string();
        let held = tokio::spawn(async move {
            let (_s, _) = l.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        assert!(!http_answers(&addr).await);
        held.abort();
    }

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
