//! Following a run until every event is accounted for. `watch`, `report` and `check` all run
//! this; they differ in what they show while it runs and what they do with the result.
//!
//! Each part waits on one thing, in a module of its own: the Kafka read ([`topic`]), the receipt
//! reads ([`receipts`]), the backlog probes ([`probes`]). The follow loop is a [`Follower`]
//! with one method per event it reacts to; whether to stop is the pure [`stop::decide`]; what
//! happens after the loop is [`finish`].

mod consumer;
mod finish;
mod history;
pub(crate) mod metrics_file;
pub(crate) mod observe;
pub(crate) mod probes;
mod receipts;
pub(crate) mod stop;
mod topic;
mod watchlist;

use std::sync::Arc;
use std::time::{Duration, Instant};

use events::stages::{latency_histogram, PerStage, Stage};
use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot, watch};

pub(crate) use crate::report::ConsumerProgress;
use consumer::ConsumerWatch;

use crate::live::view::{Backlog, Phase, Snapshot};
use crate::model::buckets::{self, StageBuckets};
use crate::model::fate::Reach;
use crate::model::fault::FaultTrack;
use crate::model::join::Join;
use crate::model::manifest::{RunInfo, RunSpec};
use crate::model::receipt_source::{ReceiptSource, ReceiptsInfo};
use crate::model::slo::Slo;
use crate::report::hlog::Logs;
use crate::report::Report;
use crate::sources::{self, Endpoints, KafkaReader, Mongo, Pg, SourceError};
use history::History;
use receipts::Requests;
use stop::{Limits, StopReason};
use topic::{CaughtUp, TopicItem};

/// What to follow, how long, and against which objectives.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which run.
    pub run: RunSpec,
    /// When to give up.
    pub limits: Limits,
    /// The objectives.
    pub slo: Slo,
    /// What the follow is part of, shown with its progress (the capacity search's step);
    /// empty for a plain run.
    pub label: String,
    /// Where the receipts come from.
    pub receipts: ReceiptSource,
    /// A fault run's log (`--fault-log`), read every second.
    pub fault_log: Option<std::path::PathBuf>,
    /// Count the stages into these bucket bounds (s) each second, into the snapshots (the
    /// daemon's `/metrics`); `None`: not counted.
    pub live_buckets: Option<Vec<f64>>,
}

/// The services, connected.
pub(crate) struct Services {
    /// PostgreSQL.
    pub pg: Pg,
    /// MongoDB.
    pub mongo: Mongo,
    /// Addresses.
    pub endpoints: Endpoints,
}

impl Services {
    /// Connects to PostgreSQL and MongoDB (Kafka is opened per run).
    pub(crate) async fn connect(endpoints: Endpoints) -> Result<Self, SourceError> {
        Ok(Self {
            pg: Pg::connect(&endpoints).await?,
            mongo: Mongo::connect(&endpoints).await?,
            endpoints,
        })
    }
}

/// The report, and why following stopped.
pub(crate) struct Outcome {
    /// The report.
    pub report: Report,
    /// Why following stopped.
    pub stopped: StopReason,
    /// Each stage's histogram of every measured sample (µs), for the daemon's `/metrics`.
    pub histograms: PerStage<Histogram<u64>>,
}

/// How often receipts are asked for and the views refreshed.
const POLL: Duration = Duration::from_millis(250);
/// How long following's end waits for observe mode's last look ([`Follower::last_look`]).
const LAST_LOOK_WAIT: Duration = Duration::from_secs(60);
/// How long following's end waits for a started fault's healing ([`Follower::await_healing`]).
const HEALING_WAIT: Duration = Duration::from_secs(30);
/// Margin before the run's start where its Kafka read begins (clock skew between hosts).
const READ_MARGIN_US: i64 = 5_000_000;

/// Follows the run until it is complete, idle, timed out or stopped; then audits and reports.
/// `snapshots` receives what is known about four times a second; `stop` ends following early.
pub(crate) async fn follow(
    s: &Services,
    opts: &Options,
    snapshots: &watch::Sender<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
    logs: &mut Logs,
) -> Result<Outcome, SourceError> {
    // Every connection is made before the run is known: with `--run next` none of it overlaps
    // the run's first events.
    let (probes_stop, probes_stop_rx) = watch::channel(false);
    let lags = probes::spawn(&s.endpoints, probes_stop_rx);
    let receipts_pg = Pg::connect(&s.endpoints).await?;
    let (run, reader) = open(s, opts, snapshots, &mut stop).await?;
    let (topic_tx, mut topic_rx) = mpsc::channel(10_000);
    let reader_task = tokio::spawn(topic::read(
        reader.consumer,
        run.run_id,
        reader.end_at_start.clone(),
        topic_tx,
    ));
    let (want_tx, want_rx) = mpsc::channel(receipts::IN_FLIGHT);
    let (got_tx, mut got_rx) = mpsc::channel(receipts::IN_FLIGHT);
    let tally = metrics_file::Tally::default();
    let observed = match opts.receipts {
        ReceiptSource::Observe { poll } => Some(observe::tally(poll)),
        _ => None,
    };
    // Observe mode: each event's place on Kafka, from the loop's read to the observer; and the
    // loop's request for a last look when it stops.
    let (placed_tx, placed_rx) = mpsc::unbounded_channel();
    let (last_look_tx, last_look_rx) = oneshot::channel();
    let fetcher = match &opts.receipts {
        ReceiptSource::ProcessedEvents => tokio::spawn(receipts::fetch(
            receipts_pg,
            s.mongo.clone(),
            run.run_id,
            want_rx,
            got_tx,
        )),
        // The file brings its receipts as it grows: the loop's requests go unread.
        ReceiptSource::MetricsFile(path) => tokio::spawn(metrics_file::tail(
            path.clone(),
            receipts_pg,
            run.run_id,
            got_tx,
            Arc::clone(&tally),
        )),
        // The observer looks in the store on its own cadence: the requests go unread too.
        ReceiptSource::Observe { poll } => tokio::spawn(observe::observe(
            receipts_pg,
            s.mongo.clone(),
            (run.run_id, run.n),
            *poll,
            observe::Links {
                placed: placed_rx,
                got: got_tx,
                last_look: last_look_rx,
            },
            Arc::clone(observed.as_ref().expect("observe tally")),
        )),
    };
    let mut f = Follower::new(
        s,
        opts.label.clone(),
        run,
        reader.end_at_start,
        lags,
        want_tx,
        snapshots,
    );
    f.placed = observed.is_some().then_some(placed_tx);
    f.live_buckets = opts.live_buckets.clone().map(|b| (b, Arc::default()));
    f.fault = opts
        .fault_log
        .clone()
        .map(|path| (path, FaultTrack::default()));
    let mut poll = interval(POLL);
    let mut second = interval(Duration::from_secs(1));
    let stopped = loop {
        let mut stop_requested = false;
        tokio::select! {
            item = topic_rx.recv() => f.on_topic(item)?,
            answer = got_rx.recv() => f.on_receipts(answer)?,
            _ = poll.tick() => f.on_poll(),
            _ = second.tick() => f.on_second(logs).await?,
            _ = stop.changed() => stop_requested = true,
        }
        if let Some(reason) = stop::decide(&f.progress(stop_requested), &opts.limits) {
            break reason;
        }
    };
    reader_task.abort();
    if observed.is_some() {
        f.last_look(last_look_tx, &mut got_rx).await?;
    }
    fetcher.abort();
    let _ = probes_stop.send(true);
    let file = matches!(opts.receipts, ReceiptSource::MetricsFile(_))
        .then(|| tally.lock().expect("tally").clone());
    let receipts = ReceiptsInfo::of(
        &opts.receipts,
        file,
        observed.as_ref().map(observe::summary),
    );
    let (report, histograms) = f.finish(logs, &opts.slo, receipts).await?;
    Ok(Outcome {
        report,
        stopped,
        histograms,
    })
}

fn interval(period: Duration) -> tokio::time::Interval {
    let mut i = tokio::time::interval(period);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// Finds the run and opens the Kafka read at its start (`--run next`: before it starts, then
/// waits for it).
async fn open(
    s: &Services,
    opts: &Options,
    snapshots: &watch::Sender<Arc<Snapshot>>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(RunInfo, KafkaReader), SourceError> {
    let run = match opts.run {
        RunSpec::Next => {
            let after = s.pg.max_run_id().await?;
            let now = chrono::Utc::now().timestamp_micros();
            let reader = sources::open_topic(&s.endpoints, now - READ_MARGIN_US)?;
            let _ = snapshots.send(Arc::new(Snapshot {
                phase: Phase::Waiting { after },
                ..Snapshot::default()
            }));
            let run = wait_for_run(s, after, opts.limits.idle_timeout, stop).await?;
            return Ok((run, reader));
        }
        RunSpec::Latest => s.pg.latest().await?,
        RunSpec::Id(id) => s.pg.run(id).await?,
    };
    let reader = sources::open_topic(&s.endpoints, run.started_us - READ_MARGIN_US)?;
    Ok((run, reader))
}

/// Waits for the first run with an id above `after` (`--run next`), for at most `limit`.
async fn wait_for_run(
    s: &Services,
    after: i64,
    limit: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<RunInfo, SourceError> {
    let since = Instant::now();
    loop {
        if let Some(run) = s.pg.run_after(after).await? {
            return Ok(run);
        }
        if since.elapsed() > limit {
            return Err(SourceError::NoRunAfter {
                after,
                seconds: limit.as_secs(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.changed() => return Err(SourceError::StoppedWaiting(after)),
        }
    }
}

/// The follow loop's state, and what it does on each event.
struct Follower<'a> {
    s: &'a Services,
    run: RunInfo,
    join: Join,
    caught_up: CaughtUp,
    history: History,
    backlog: Backlog,
    last_progress: Instant,
    requests: Requests,
    lags: Arc<probes::SharedLags>,
    want: mpsc::Sender<Vec<i64>>,
    snapshots: &'a watch::Sender<Arc<Snapshot>>,
    /// The WAL position once the run was seen finished: every event it wrote is before it.
    finished_lsn: Option<String>,
    /// Debezium was seen confirming past `finished_lsn` (it stays so).
    debezium_passed: bool,
    consumer: ConsumerWatch,
    label: String,
    /// A fault run: its log and what it says.
    fault: Option<(std::path::PathBuf, FaultTrack)>,
    /// Observe mode: where each record of the run read from Kafka is told to the observer.
    placed: Option<mpsc::UnboundedSender<observe::Placed>>,
    /// The bounds to count the stages into each second, and the latest counts.
    live_buckets: Option<(Vec<f64>, Arc<Vec<StageBuckets>>)>,
    /// Events verified so far, and when (µs since the epoch) that count last grew.
    verified: (u64, Option<i64>),
}

impl<'a> Follower<'a> {
    fn new(
        s: &'a Services,
        label: String,
        run: RunInfo,
        end_at_start: std::collections::BTreeMap<i32, i64>,
        lags: Arc<probes::SharedLags>,
        want: mpsc::Sender<Vec<i64>>,
        snapshots: &'a watch::Sender<Arc<Snapshot>>,
    ) -> Self {
        let mut join = Join::new(run.n.max(0) as u64, run.started_us);
        if run.finished() {
            // A run stopped early wrote fewer events than it was asked for; the manifest's
            // count is what must arrive (an outbox holding fewer rows fails integrity).
            join.set_expected(run.written.max(0) as u64);
        }
        Self {
            s,
            run,
            join,
            caught_up: CaughtUp::new(end_at_start),
            history: History::new(),
            backlog: Backlog::default(),
            last_progress: Instant::now(),
            requests: Requests::new(),
            lags,
            want,
            snapshots,
            finished_lsn: None,
            debezium_passed: false,
            consumer: ConsumerWatch::default(),
            label,
            fault: None,
            placed: None,
            live_buckets: None,
            verified: (0, None),
        }
    }

    /// A record of the run, or the position the read reached.
    fn on_topic(&mut self, item: Option<TopicItem>) -> Result<(), SourceError> {
        let progress = match item.ok_or(SourceError::TaskEnded("Kafka reader"))? {
            TopicItem::Event(e) => {
                if let Some(placed) = &self.placed {
                    // the observer gone: following is ending
                    let _ = placed.send((e.seq, e.partition, e.offset));
                }
                self.join.on_kafka(&e);
                self.caught_up.reached(e.partition, e.offset);
                true
            }
            TopicItem::Position(partition, offset) => {
                // Records of other runs mean progress while the read works through what was
                // there at the start, or while the pipeline may still be busy ahead of this
                // run's events (some not on Kafka, Debezium not yet past the run's end). Not
                // after: under steady traffic (a canary, a soak) a run whose events never come
                // would otherwise be followed for ever and never reported.
                let reading_back = !self.caught_up.all();
                self.caught_up.reached(partition, offset);
                reading_back || (self.join.first_not_on_kafka().is_some() && !self.debezium_passed)
            }
        };
        if progress {
            self.last_progress = Instant::now();
        }
        Ok(())
    }

    /// Receipts read from the store.
    fn on_receipts(&mut self, answer: Option<receipts::Answer>) -> Result<(), SourceError> {
        self.requests.answered();
        let receipts = match answer.ok_or(SourceError::TaskEnded("receipt reader"))? {
            Ok(r) => r,
            Err(e @ SourceError::Mongo { .. }) => {
                let part = self.store_part();
                if !self.lags.get().down.contains_key(&part) {
                    tracing::warn!("{e}; following on, reading it again every {POLL:?}");
                }
                self.lags.set_down(&part, true);
                self.last_progress = Instant::now();
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let part = self.store_part();
        if let Some(since) = self.lags.get().down.get(&part) {
            let after = since.elapsed().as_secs_f64();
            tracing::info!("{part} answers again, after {after:.1} s");
            self.lags.set_down(&part, false);
        }
        let found = receipts.iter().filter(|r| self.join.on_receipt(r)).count();
        if found > 0 {
            self.last_progress = Instant::now();
        }
        if receipts::ask_again_now(found) {
            // More are likely waiting: ask again now rather than at the next tick.
            self.requests.send(&self.join, &self.want);
        }
        Ok(())
    }

    /// Observe mode, once following has stopped: asks the observer to look for every event
    /// still pending, taking the receipts it sends meanwhile, for at most [`LAST_LOOK_WAIT`].
    async fn last_look(
        &mut self,
        ask: oneshot::Sender<observe::LastLook>,
        got_rx: &mut mpsc::Receiver<receipts::Answer>,
    ) -> Result<(), SourceError> {
        let (reply_tx, mut reply_rx) = oneshot::channel();
        if ask.send(reply_tx).is_err() {
            return Ok(()); // the observer has ended (its error came with its receipts)
        }
        let wait = tokio::time::sleep(LAST_LOOK_WAIT);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                Some(answer) = got_rx.recv() => self.on_receipts(Some(answer))?,
                reply = &mut reply_rx => {
                    // what it sent before the reply first
                    while let Ok(answer) = got_rx.try_recv() {
                        self.on_receipts(Some(answer))?;
                    }
                    return match reply {
                        Ok(answer) => self.on_receipts(Some(answer)),
                        Err(_) => Ok(()), // it ended on an error, sent with its receipts
                    };
                }
                _ = &mut wait => {
                    tracing::warn!(
                        "observe: the last look at every pending event took over {} s; reporting without it",
                        LAST_LOOK_WAIT.as_secs()
                    );
                    return Ok(());
                }
            }
        }
    }

    /// The store, as the list of parts down names it.
    fn store_part(&self) -> String {
        format!(
            "the store at {}",
            sources::redacted_uri(&self.s.endpoints.mongodb_uri)
        )
    }

    /// Every [`POLL`]: ask for receipts, refresh the views.
    fn on_poll(&mut self) {
        self.requests.send(&self.join, &self.want);
        self.publish(Phase::Following, true);
    }

    /// Every second: close a second of history, read the manifest while the run writes, and
    /// take the backlog.
    async fn on_second(&mut self, logs: &mut Logs) -> Result<(), SourceError> {
        // While a part does not answer, nothing moving is not idleness.
        if !self.lags.get().down.is_empty() {
            self.last_progress = Instant::now();
        }
        self.fault_second()?;
        self.history.tick(&mut self.join, logs);
        self.count_live_buckets();
        self.refresh_run().await?;
        let before = self.backlog.slot_lag_bytes;
        self.backlog = self.take_backlog().await;
        self.fault_backlog();
        let waiting_for_kafka = self.join.first_not_on_kafka().is_some();
        if waiting_for_kafka {
            self.check_debezium_past_run().await;
        }
        if let (Some(b), Some(a)) = (before, self.backlog.slot_lag_bytes) {
            if a < b && waiting_for_kafka && !self.debezium_passed {
                // Debezium confirmed more WAL while events of the run are not on Kafka yet: it
                // is still working through a backlog ahead of them. (Once all are on Kafka, or
                // once it confirmed past the run's end, its slot moving says nothing about them.)
                self.last_progress = Instant::now();
            }
        }
        if let Some(group) = self.lags.get().group {
            // A consumer draining the records ahead of the run is working toward it.
            if self.consumer.observe(&group, self.join.last_offsets()) {
                self.last_progress = Instant::now();
            }
        }
        Ok(())
    }

    /// A fault run: reads the fault log (not there yet: no fault yet) and hands the second's
    /// end-to-end samples to the fault's phases, before the second is closed.
    fn fault_second(&mut self) -> Result<(), SourceError> {
        self.read_fault_log()?;
        let Some((_, track)) = &mut self.fault else {
            return Ok(());
        };
        let now_us = chrono::Utc::now().timestamp_micros();
        track.second(
            now_us,
            &self.join.measurements.stages[Stage::EndToEnd].interval,
        );
        Ok(())
    }

    /// A fault run whose log says the fault started but not yet that it was healed when
    /// following stops (every event arrived while the injector was still healing, e.g. a
    /// PostgreSQL restart): waits up to [`HEALING_WAIT`] for the healing, so that the report
    /// can measure the recovery from it.
    async fn await_healing(&mut self) -> Result<(), SourceError> {
        let since = Instant::now();
        while self.fault.as_ref().is_some_and(|(_, t)| t.unhealed()) {
            if since.elapsed() >= HEALING_WAIT {
                tracing::warn!(
                    "the fault log says the fault started, and not that it was healed within {} s of following's end: the report has no recovery",
                    HEALING_WAIT.as_secs()
                );
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            self.read_fault_log()?;
        }
        Ok(())
    }

    /// Reads the fault log (not there yet: no fault yet) into the fault's track.
    fn read_fault_log(&mut self) -> Result<(), SourceError> {
        let Some((path, track)) = &mut self.fault else {
            return Ok(());
        };
        match std::fs::read_to_string(&*path) {
            Ok(text) => {
                let lines =
                    crate::model::fault::parse(&text).map_err(|problem| SourceError::FaultLog {
                        path: path.clone(),
                        problem,
                    })?;
                track.lines(&lines);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(SourceError::FaultLog {
                    path: path.clone(),
                    problem: e.to_string(),
                })
            }
        }
        Ok(())
    }

    /// A fault run: the backlog just taken tells whether the pipeline has recovered.
    fn fault_backlog(&mut self) {
        if let Some((_, track)) = &mut self.fault {
            let now_us = chrono::Utc::now().timestamp_micros();
            track.backlog(now_us, self.backlog.oldest_unmatched_s);
        }
    }

    /// Reads the manifest while the run writes; once it is finished, notes the WAL position
    /// (everything the run wrote is before it).
    async fn refresh_run(&mut self) -> Result<(), SourceError> {
        if !self.run.finished() {
            self.run = self.s.pg.run(self.run.run_id).await?;
            if self.run.finished() {
                self.join.set_expected(self.run.written.max(0) as u64);
            }
        }
        if self.run.finished() && self.finished_lsn.is_none() {
            self.finished_lsn = Some(self.s.pg.current_wal_lsn().await?);
        }
        Ok(())
    }

    /// Counts the stages into the live bounds (the daemon's `/metrics`), when asked to.
    fn count_live_buckets(&mut self) {
        if let Some((bounds, counted)) = &mut self.live_buckets {
            let stages = self
                .join
                .measurements
                .stages
                .iter()
                .map(|(s, h)| (s, &h.all));
            *counted = Arc::new(buckets::count(stages, bounds));
        }
    }

    /// Whether Debezium confirmed the WAL past the run's end: every event of the run was then
    /// sent on to Kafka, and what it confirms later is other traffic. Without this, a run whose
    /// events never reach this Kafka (captured by another Connect from the same slot) would be
    /// followed for as long as anything else flows.
    async fn check_debezium_past_run(&mut self) {
        if let (false, Some(lsn)) = (self.debezium_passed, &self.finished_lsn) {
            self.debezium_passed = matches!(self.s.pg.slot_passed(lsn).await, Ok(Some(true)));
        }
    }

    /// How far each part of the pipeline got when following stopped: the consumer group's
    /// committed offsets (read afresh), whether Debezium confirmed the WAL past the run, and
    /// whether the verifier's read reached the topic's end.
    async fn reach(&self) -> (Reach, Option<ConsumerProgress>) {
        let endpoints = self.s.endpoints.clone();
        let fresh = tokio::task::spawn_blocking(move || {
            sources::LagProbe::new(&endpoints).and_then(|mut p| p.state())
        })
        .await;
        let group = match fresh {
            Ok(Ok(g)) => Some(g),
            Ok(Err(e)) => {
                tracing::warn!("the processor group's offsets when following stopped: {e}");
                self.lags.get().group
            }
            Err(e) => {
                tracing::warn!("the processor group's offsets when following stopped: {e}");
                self.lags.get().group
            }
        };
        let debezium_passed = match &self.finished_lsn {
            Some(lsn) => self.s.pg.slot_passed(lsn).await.unwrap_or(None),
            None => None,
        };
        let reach = Reach {
            committed: group.as_ref().map(|g| g.committed.clone()),
            debezium_passed,
            read_caught_up: group
                .as_ref()
                .is_some_and(|g| self.caught_up.covers(&g.ends)),
        };
        (reach, self.consumer.progress(group.as_ref()))
    }

    fn progress(&self, stop_requested: bool) -> stop::Progress {
        stop::Progress {
            stop_requested,
            complete: self.join.complete(),
            caught_up: self.caught_up.all(),
            run_finished: self.run.finished(),
            idle_for: self.last_progress.elapsed(),
            elapsed: self.history.elapsed(),
        }
    }

    fn publish(&mut self, phase: Phase, rates: bool) {
        let live = self.history.live(&self.join, rates);
        let mut snapshot = Snapshot::of(&self.run, &self.join, phase, live, &self.backlog);
        snapshot.label.clone_from(&self.label);
        if snapshot.matched > self.verified.0 {
            self.verified = (
                snapshot.matched,
                Some(chrono::Utc::now().timestamp_micros()),
            );
        }
        snapshot.last_verified_us = self.verified.1;
        snapshot.buckets = self.live_buckets.as_ref().map(|(_, c)| Arc::clone(c));
        let _ = self.snapshots.send(Arc::new(snapshot));
    }

    /// The backlog per stage now.
    async fn take_backlog(&self) -> Backlog {
        let c = self.join.counts();
        // While a rate run is writing, only what it wrote so far can be on its way.
        let written = if self.run.finished() {
            c.expected
        } else {
            (self.run.written.max(0) as u64).min(c.expected)
        };
        let mut oldest = self.join.oldest_pending_us();
        if c.kafka < written {
            if let Some(seq) = self.join.first_not_on_kafka() {
                if let Ok(Some(t0)) = self.s.pg.created_us(self.run.run_id, seq).await {
                    oldest = Some(oldest.map_or(t0, |o| o.min(t0)));
                }
            }
        }
        let now_us = chrono::Utc::now().timestamp_micros();
        let lags = self.lags.get();
        Backlog {
            slot_lag_bytes: lags.slot_bytes,
            processor_lag: lags.processor(),
            not_on_kafka: written.saturating_sub(c.kafka),
            awaiting_receipt: c.kafka.saturating_sub(c.matched),
            unmatched: c.expected.saturating_sub(c.matched),
            oldest_unmatched_s: oldest
                .filter(|_| c.matched < c.expected)
                .map(|t| (now_us - t) as f64 / 1e6),
            down: probes::down_list(&lags.down),
        }
    }

    /// After the loop: the last second of history, the final manifest and backlog, then the
    /// sweep, the audit and the report, with each stage's histogram.
    async fn finish(
        mut self,
        logs: &mut Logs,
        slo: &Slo,
        receipts: ReceiptsInfo,
    ) -> Result<(Report, PerStage<Histogram<u64>>), SourceError> {
        self.await_healing().await?;
        let at_us = chrono::Utc::now().timestamp_micros();
        self.fault_second()?;
        self.history.tick(&mut self.join, logs);
        self.count_live_buckets();
        self.refresh_run().await?;
        self.backlog = self.take_backlog().await;
        self.fault_backlog();
        self.publish(Phase::Auditing, false);
        let (reach, consumer) = self.reach().await;
        let stopped = finish::Stopped {
            at_us,
            reach,
            consumer,
            receipts,
            fault: self
                .fault
                .as_ref()
                .map(|(path, t)| (path.clone(), t.summary())),
            latency_per_second: self.history.per_second(),
        };
        let report = finish::finish(self.s, &self.run, &mut self.join, slo, stopped).await?;
        self.publish(Phase::Done, false);
        let stages = &mut self.join.measurements.stages;
        let taken =
            PerStage::from_fn(|s| std::mem::replace(&mut stages[s].all, latency_histogram()));
        Ok((report, taken))
    }
}
