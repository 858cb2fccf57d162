//! `verifier serve`: the always-on daemon. It reads the manifest twice a second and follows
//! every run from its first (several at once), each with the same follower `watch` runs
//! ([`crate::follow::follow`]); it writes each finished run's report into its folder of runs
//! ([`folder`]) and answers its page, `/api/runs`, `/api/runs/N` and `/metrics` ([`api`],
//! [`crate::live::web`]); with `--allow-start`, `POST /api/runs` starts a run ([`http`], [`start`]); with
//! `--canary-rate`, it keeps a trickle of runs of its own flowing ([`canary`]).
//!
//! Restart-safe by construction: what is finished is what has a `summary.json` in the folder.
//! On shutdown (SIGTERM, SIGINT) or after `kill -9`, a run being followed has none, so the
//! next start follows it again from its start: its Kafka records read again from the run's
//! start, its receipts read again from the store.

mod api;
mod book;
mod canary;
mod folder;
mod http;
mod latency;
mod start;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::error::Error;
use crate::follow::{self, Options, Services};
use crate::live::view::Snapshot;
use crate::model::manifest::RunSpec;
use crate::report::hlog::Logs;
use crate::report::Verdict;
use book::{Book, Row};
pub(crate) use canary::CanaryConfig;
use canary::CanaryStats;
use folder::Folder;
use latency::StageBuckets;

/// What `serve` needs besides the services.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    /// The folder of runs.
    pub runs_dir: PathBuf,
    /// How each run is followed (its `run` is set per run).
    pub follow: Options,
    /// Where the HTTP routes listen.
    pub listen: SocketAddr,
    /// Where to say that it is serving, and its address.
    pub ready_file: Option<PathBuf>,
    /// Runs may be started from the page: the token for it goes into this file.
    pub token_file: Option<PathBuf>,
    /// Keep a trickle of events flowing (`None`: no canary).
    pub canary: Option<CanaryConfig>,
}

/// How often the manifest is read for new runs.
const MANIFEST_POLL: Duration = Duration::from_millis(500);
/// How often the allocator's free memory goes back to the system besides each run's end (the
/// processor does the same at each summary).
const TRIM_EVERY: Duration = Duration::from_secs(10);
/// How long a run whose follow failed (a service down) rests before it is followed again.
const REST: Duration = Duration::from_secs(10);
/// Runs followed at once at most, the oldest first: a daemon started after many runs were
/// written catches up a few at a time instead of reading every run's events at once.
const AT_ONCE: usize = 4;

/// What the routes and the loop share.
struct Shared {
    book: Book,
    live: BTreeMap<i64, watch::Receiver<Arc<Snapshot>>>,
}

/// The token runs are started with from the page, written to `path`, when that is allowed.
fn token(path: Option<&std::path::Path>) -> Result<Option<start::Token>, Error> {
    let Some(path) = path else { return Ok(None) };
    let token = start::Token::generate(path).map_err(|source| Error::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    tracing::info!(
        "runs may be started from the page (POST /api/runs) with the token in {} (its owner's only; a new one at each start)",
        path.display()
    );
    Ok(Some(token))
}

/// A follow that ended: its run and its row with its latencies, or why it failed.
type Ended = (i64, Result<(Row, Vec<StageBuckets>), String>);

/// Serves until `shutdown` completes. Runs being followed then are abandoned unfinished (they
/// are followed again at the next start); `Ok(Pass)` when it stopped as asked.
pub(crate) async fn serve(
    services: Services,
    cfg: DaemonConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Verdict, Error> {
    let folder = Folder::open(&cfg.runs_dir)?;
    let first_run = match folder.first_run()? {
        Some(n) => n,
        None => {
            let n = services.pg.first_to_follow().await?;
            folder.set_first_run(n)?;
            n
        }
    };
    let book = Book::new(
        first_run,
        folder.finished()?,
        latency::bounds(&cfg.follow.slo),
    );
    if !book.latency.left_out.is_empty() {
        tracing::warn!(
            "runs {:?} were counted with other SLO thresholds (an earlier --slo): their latencies are left out of verifier_stage_latency_seconds",
            book.latency.left_out
        );
    }
    tracing::info!(
        "following every run from run {first_run} on ({} finished in {})",
        book.done.len(),
        folder.path().display()
    );
    let shared = Arc::new(Mutex::new(Shared {
        book,
        live: BTreeMap::new(),
    }));
    let (stop_http, stop_http_rx) = watch::channel(false);
    let services = Arc::new(services);
    let canary = Arc::new(Mutex::new(CanaryStats {
        config: cfg.canary.clone(),
        ..CanaryStats::default()
    }));
    let lags = follow::probes::spawn(&services.endpoints, stop_http_rx.clone());
    follow::probes::spawn_store(&lags, services.mongo.clone(), stop_http_rx.clone());
    let http = http::Http {
        shared: Arc::clone(&shared),
        folder: folder.clone(),
        // The parts' health for the page, probed while the daemon runs (a follow probes its own).
        lags,
        services: Arc::clone(&services),
        token: token(cfg.token_file.as_deref())?,
        canary: Arc::clone(&canary),
        slo: cfg.follow.slo.clone(),
    };
    let bound = http::listen(cfg.listen, http, stop_http_rx.clone()).await?;
    if let Some(path) = &cfg.ready_file {
        telemetry::ready::write(path, &[("http", Some(bound))]).map_err(|source| {
            Error::ReadyFile {
                path: path.clone(),
                source,
            }
        })?;
    }
    let canary = cfg
        .canary
        .map(|c| canary::spawn(Arc::clone(&services), c, canary, stop_http_rx.clone()));
    let follow = Options {
        live_buckets: Some(latency::bounds(&cfg.follow.slo)),
        ..cfg.follow
    };
    let result = Daemon::new(services, follow, folder, shared)
        .run(shutdown)
        .await;
    let _ = stop_http.send(true);
    if let Some(canary) = canary {
        // its window cancelled before the process ends (the server would end it anyway)
        let _ = tokio::time::timeout(Duration::from_secs(5), canary).await;
    }
    result
}

/// The loop's state: the follows under way and the runs resting after a failed one.
struct Daemon {
    services: Arc<Services>,
    options: Options,
    folder: Folder,
    shared: Arc<Mutex<Shared>>,
    tasks: BTreeMap<i64, JoinHandle<()>>,
    resting: BTreeMap<i64, Instant>,
    ended: (mpsc::UnboundedSender<Ended>, mpsc::UnboundedReceiver<Ended>),
    /// Never set: a follow ends on its own rules, or is aborted with the daemon.
    no_stop: watch::Sender<bool>,
}

impl Daemon {
    fn new(
        services: Arc<Services>,
        options: Options,
        folder: Folder,
        shared: Arc<Mutex<Shared>>,
    ) -> Self {
        Self {
            services,
            options,
            folder,
            shared,
            tasks: BTreeMap::new(),
            resting: BTreeMap::new(),
            ended: mpsc::unbounded_channel(),
            no_stop: watch::channel(false).0,
        }
    }

    async fn run(mut self, shutdown: impl Future<Output = ()>) -> Result<Verdict, Error> {
        tokio::pin!(shutdown);
        let mut poll = tokio::time::interval(MANIFEST_POLL);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut trim = tokio::time::interval(TRIM_EVERY);
        trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = poll.tick() => self.start_new().await,
                // a backlog's burst goes back while its run is still followed, not at its end
                _ = trim.tick() => {
                    memory::release_free();
                }
                Some(ended) = self.ended.1.recv() => self.on_ended(ended),
                () = &mut shutdown => break,
            }
        }
        let unfinished: Vec<i64> = self.tasks.keys().copied().collect();
        for (_, task) in std::mem::take(&mut self.tasks) {
            task.abort();
        }
        if !unfinished.is_empty() {
            tracing::info!(
                "stopping; runs {unfinished:?} unfinished: followed again at the next start"
            );
        }
        Ok(Verdict::Pass)
    }

    /// Reads the manifest and starts following each new run.
    async fn start_new(&mut self) {
        let first = self.shared.lock().expect("daemon state").book.first_run;
        let ids = match self.services.pg.run_ids_from(first).await {
            Ok(ids) => ids,
            Err(e) => {
                tracing::warn!("reading the manifest for new runs: {e}; trying again");
                return;
            }
        };
        self.resting.retain(|_, since| since.elapsed() < REST);
        let following: BTreeSet<i64> = self.tasks.keys().copied().collect();
        let resting: BTreeSet<i64> = self.resting.keys().copied().collect();
        let new = self
            .shared
            .lock()
            .expect("daemon state")
            .book
            .to_follow(&ids, &following, &resting);
        for id in new
            .into_iter()
            .take(AT_ONCE.saturating_sub(self.tasks.len()))
        {
            self.start(id);
        }
    }

    /// Starts following run `id` in a task of its own.
    fn start(&mut self, id: i64) {
        tracing::info!("run {id}: following");
        let (snapshots, rx) = watch::channel(Arc::new(Snapshot::default()));
        self.shared
            .lock()
            .expect("daemon state")
            .live
            .insert(id, rx);
        let services = Arc::clone(&self.services);
        let options = Options {
            run: RunSpec::Id(id),
            ..self.options.clone()
        };
        let folder = self.folder.clone();
        let stop = self.no_stop.subscribe();
        let ended = self.ended.0.clone();
        let task = tokio::spawn(async move {
            let result = follow_one(&services, &options, &folder, &snapshots, stop).await;
            let _ = ended.send((id, result.map_err(|e| e.to_string())));
        });
        self.tasks.insert(id, task);
    }

    /// A follow ended: its row goes into the book, or the run rests before it is tried again.
    /// What it held goes back to the system: the daemon's memory is for the runs in flight.
    fn on_ended(&mut self, (id, result): Ended) {
        self.tasks.remove(&id);
        memory::release_free();
        let mut s = self.shared.lock().expect("daemon state");
        if let Some(last) = s
            .live
            .remove(&id)
            .and_then(|rx| rx.borrow().last_verified_us)
        {
            s.book.last_verified_us = s.book.last_verified_us.max(Some(last));
        }
        match result {
            Ok((row, latency)) => {
                tracing::info!(
                    "run {id}: {} ({} of {} verified), report in {}",
                    row.state,
                    row.matched,
                    row.expected,
                    self.folder.run_dir(id).display()
                );
                s.book.finished(row, &latency);
            }
            Err(e) => {
                tracing::warn!(
                    "run {id}: following failed: {e}; trying again in {} s",
                    REST.as_secs()
                );
                self.resting.insert(id, Instant::now());
            }
        }
    }
}

/// Follows run `options.run` to its end and writes its report into the folder.
async fn follow_one(
    services: &Services,
    options: &Options,
    folder: &Folder,
    snapshots: &watch::Sender<Arc<Snapshot>>,
    stop: watch::Receiver<bool>,
) -> Result<(Row, Vec<StageBuckets>), Error> {
    let started_epoch_s = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    let mut logs = Logs::new(started_epoch_s);
    let outcome = follow::follow(services, options, snapshots, stop, &mut logs).await?;
    tracing::info!(
        "run {}: stopped following: {}",
        outcome.report.run.run_id,
        outcome.stopped
    );
    let latency = latency::count(outcome.histograms.iter(), &latency::bounds(&options.slo));
    folder.finish(&outcome.report, &logs, latency)
}
