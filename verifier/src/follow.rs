//! Following a run until every event is accounted for: the Kafka read, the receipt polls, the
//! backlog probes and the final audit. `watch`, `report` and `check` all run this; they differ in
//! what they show while it runs and what they do with the result.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rdkafka::Message as _;
use serde::Serialize;
use tokio::sync::{mpsc, watch};

use crate::join::{Join, Receipt, Recent};
use crate::measure::StageSummary;
use crate::report::{Inputs, Missing, Report, RunInfo, LISTED};
use crate::slo::Slo;
use crate::sources::{self, Endpoints, Mongo, Pg, RunSpec};
use events::stages::stage;

/// How long to follow.
#[derive(Debug, Clone)]
pub struct Options {
    /// Which run.
    pub run: RunSpec,
    /// Give up when nothing new arrived for this long once the generator has finished.
    pub idle_timeout: Duration,
    /// Give up after this long whatever happens (`None`: no limit).
    pub timeout: Option<Duration>,
    /// The objectives.
    pub slo: Slo,
}

/// Backlog per stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Backlog {
    /// WAL bytes the replication slot has not confirmed (Debezium's backlog).
    pub slot_lag_bytes: Option<i64>,
    /// Records the processor group has not committed (its Kafka lag).
    pub processor_lag: Option<i64>,
    /// Events of the run written but not yet seen on Kafka.
    pub not_on_kafka: u64,
    /// Events seen on Kafka without a receipt.
    pub awaiting_receipt: u64,
    /// Events not yet matched (outbox to receipt).
    pub unmatched: u64,
    /// Age of the oldest unmatched event, s.
    pub oldest_unmatched_s: Option<f64>,
}

/// What is known while following: the dashboard, `/status` and the progress line show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Snapshot {
    /// The run.
    pub run: RunInfo,
    /// Seconds since following began.
    pub elapsed_s: f64,
    /// `following`, `auditing` or `done`.
    pub phase: String,
    /// Events expected.
    pub expected: u64,
    /// Distinct events on Kafka.
    pub on_kafka: u64,
    /// Extra copies on Kafka.
    pub kafka_duplicates: u64,
    /// Receipted events.
    pub receipts: u64,
    /// Matched (on Kafka and receipted).
    pub matched: u64,
    /// Events receipted per second over the last 5 s.
    pub done_per_s: f64,
    /// Events reaching Kafka per second over the last 5 s.
    pub kafka_per_s: f64,
    /// Per stage: count, p50, p95, p99 (ms), skew.
    pub stages: Vec<StageSummary>,
    /// End to end per event type.
    pub by_type: Vec<StageSummary>,
    /// Receipts per second, the last 60 s of observation (for the sparkline).
    pub done_history: Vec<u64>,
    /// End-to-end p99 (ms) of each of the last 60 s of observation.
    pub p99_history: Vec<u64>,
    /// Backlog per stage.
    pub backlog: Backlog,
    /// The latest receipted events.
    pub recent: Vec<Recent>,
    /// Total clock-skewed samples over all stages.
    pub skewed: u64,
}

/// Every event and its receipt, or how far each got: the report.
pub struct Outcome {
    /// The report.
    pub report: Report,
    /// Why following stopped.
    pub stopped: String,
}

const POLL: Duration = Duration::from_millis(250);
const RECEIPTS_PER_POLL: usize = sources::IN_CHUNK;
const HISTORY: usize = 60;

/// A second of observation closed: receipts in it and the end-to-end p99.
struct Live {
    history_done: std::collections::VecDeque<u64>,
    history_p99: std::collections::VecDeque<u64>,
    last_receipts: u64,
    recent_rates: std::collections::VecDeque<(Instant, u64, u64)>,
}

impl Live {
    fn new() -> Self {
        Self {
            history_done: Default::default(),
            history_p99: Default::default(),
            last_receipts: 0,
            recent_rates: Default::default(),
        }
    }

    /// Closes one second: takes each stage's interval histogram (to the interval log) and
    /// keeps the sparkline figures.
    fn tick(&mut self, join: &mut Join, log: &mut crate::hlog::Logs) {
        let receipts = join.counts().receipts;
        push_bounded(&mut self.history_done, receipts - self.last_receipts);
        self.last_receipts = receipts;
        let e2e = &join.measurements.stages[stage::END_TO_END].interval;
        push_bounded(
            &mut self.history_p99,
            if e2e.is_empty() {
                0
            } else {
                e2e.value_at_quantile(0.99) / 1000
            },
        );
        log.take(join);
    }

    fn rates(&mut self, join: &Join) -> (f64, f64) {
        let now = Instant::now();
        let c = join.counts();
        self.recent_rates.push_back((now, c.kafka, c.receipts));
        while self
            .recent_rates
            .front()
            .is_some_and(|(t, ..)| now.duration_since(*t) > Duration::from_secs(5))
        {
            self.recent_rates.pop_front();
        }
        let (t, k, r) = self.recent_rates[0];
        let dt = now.duration_since(t).as_secs_f64();
        if dt < 0.2 {
            return (0.0, 0.0);
        }
        ((c.kafka - k) as f64 / dt, (c.receipts - r) as f64 / dt)
    }
}

fn push_bounded(q: &mut std::collections::VecDeque<u64>, v: u64) {
    if q.len() == HISTORY {
        q.pop_front();
    }
    q.push_back(v);
}

/// The services, connected.
pub struct Services {
    /// PostgreSQL.
    pub pg: Pg,
    /// MongoDB.
    pub mongo: Mongo,
    /// Addresses.
    pub endpoints: Endpoints,
}

impl Services {
    /// Connects to PostgreSQL and MongoDB (Kafka is opened per run).
    pub async fn connect(endpoints: Endpoints) -> anyhow::Result<Self> {
        Ok(Self {
            pg: Pg::connect(&endpoints).await?,
            mongo: Mongo::connect(&endpoints).await?,
            endpoints,
        })
    }
}

/// Follows the run until it is complete, idle, timed out or stopped; then audits and reports.
/// `snapshots` receives what is known about twice a second; `stop` ends following early.
pub async fn follow(
    s: &Services,
    opts: &Options,
    snapshots: &watch::Sender<Arc<Snapshot>>,
    mut stop: watch::Receiver<bool>,
    log: &mut crate::hlog::Logs,
) -> anyhow::Result<Outcome> {
    // Every connection is made before the run is known: with `--run next` none of it overlaps
    // the run's first events.
    let (probes_stop, probes_stop_rx) = watch::channel(false);
    let lags = spawn_lag_probes(&s.endpoints, probes_stop_rx);
    let receipts_pg = Pg::connect(&s.endpoints).await?;
    let (mut run, reader) = match opts.run {
        RunSpec::Next => {
            // The run starts after this moment: open the topic now, so that nothing of the
            // verifier's own start-up overlaps the run's first events.
            let base = s.pg.max_run_id().await?;
            let reader = sources::open_topic(
                &s.endpoints,
                chrono::Utc::now().timestamp_micros() - 5_000_000,
            )?;
            let _ = snapshots.send(Arc::new(Snapshot {
                phase: format!("waiting for the run after run {base}"),
                ..Snapshot::default()
            }));
            (
                wait_for_run(s, base, opts.idle_timeout, &mut stop).await?,
                reader,
            )
        }
        spec => {
            let run = s.pg.run(spec).await?;
            let reader = sources::open_topic(&s.endpoints, run.started_us - 5_000_000)?;
            (run, reader)
        }
    };
    let started = Instant::now();
    let run_id = run.run_id;
    let mut join = Join::new(run.n.max(0) as u64, run.started_us);
    if run.finished() {
        // A run stopped early wrote fewer events than it was asked for; the manifest's count
        // is what must arrive (an outbox holding fewer rows fails integrity on its own).
        join.set_expected(run.written.max(0) as u64);
    }
    let end_at_start = reader.end_at_start.clone();
    let (tx, mut rx) = mpsc::channel(10_000);
    let consumer_task = tokio::spawn(read_topic(
        reader.consumer,
        run_id,
        end_at_start.clone(),
        tx,
    ));
    let mut caught_up: std::collections::BTreeMap<i32, bool> =
        end_at_start.keys().map(|p| (*p, false)).collect();
    let mut live = Live::new();
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut second = tokio::time::interval(Duration::from_secs(1));
    second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_progress = Instant::now();
    let mut backlog = Backlog::default();
    let mut receipt_low = 1_i64;
    // Receipts are fetched by their own task so that a slow store never stalls the Kafka read.
    let (want_tx, want_rx) = mpsc::channel::<Vec<i64>>(RECEIPT_REQUESTS);
    let (got_tx, mut got_rx) = mpsc::channel(RECEIPT_REQUESTS);
    let fetcher = tokio::spawn(fetch_receipts(
        receipts_pg,
        s.mongo.clone(),
        run_id,
        want_rx,
        got_tx,
    ));
    let mut requests = Requests::default();
    let stopped;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(TopicItem::Event(partition, offset, e)) => {
                    join.on_kafka(&e);
                    last_progress = Instant::now();
                    mark(&mut caught_up, &end_at_start, partition, offset);
                }
                Some(TopicItem::Position(partition, offset)) => {
                    // Records of other runs still flowing: the pipeline is busy ahead of this
                    // run's events, not idle.
                    last_progress = Instant::now();
                    mark(&mut caught_up, &end_at_start, partition, offset);
                }
                None => anyhow::bail!("the Kafka reader stopped"),
            },
            got = got_rx.recv() => {
                requests.in_flight -= 1;
                let receipts = got.context("the receipt reader stopped")??;
                let mut found = 0;
                for r in &receipts {
                    found += usize::from(join.on_receipt(r));
                }
                if found > 0 {
                    last_progress = Instant::now();
                    // More may be waiting: ask again now rather than at the next tick.
                    requests.send(&join, &mut receipt_low, &want_tx);
                }
            }
            _ = poll.tick() => {
                requests.send(&join, &mut receipt_low, &want_tx);
                let (kafka_per_s, done_per_s) = live.rates(&join);
                let _ = snapshots.send(Arc::new(snapshot(&run, &join, &live, &backlog, started, "following", kafka_per_s, done_per_s)));
            }
            _ = second.tick() => {
                live.tick(&mut join, log);
                if !run.finished() {
                    run = s.pg.run(RunSpec::Id(run_id)).await?;
                    if run.finished() {
                        join.set_expected(run.written.max(0) as u64);
                    }
                }
                let before = backlog.slot_lag_bytes;
                backlog = self::backlog(s, &run, &join, lags.get()).await;
                if let (Some(b), Some(a)) = (before, backlog.slot_lag_bytes) {
                    if a < b && join.first_not_on_kafka().is_some() {
                        // Debezium confirmed more WAL while events of the run are not on Kafka
                        // yet: it is still working through a backlog ahead of them. (Once all
                        // are on Kafka, its heartbeats moving the slot say nothing about them.)
                        last_progress = Instant::now();
                    }
                }
            }
            _ = stop.changed() => {
                stopped = "stopped by request".to_owned();
                break;
            }
        }
        let all_caught_up = caught_up.values().all(|c| *c);
        if join.complete() && all_caught_up && run.finished() {
            stopped = "every event is on Kafka and in MongoDB".to_owned();
            break;
        }
        if run.finished() && last_progress.elapsed() > opts.idle_timeout {
            stopped = format!(
                "nothing new for {} s (--idle-timeout)",
                opts.idle_timeout.as_secs()
            );
            break;
        }
        if opts.timeout.is_some_and(|t| started.elapsed() > t) {
            stopped = "--timeout reached".to_owned();
            break;
        }
    }
    consumer_task.abort();
    fetcher.abort();
    let _ = probes_stop.send(true);
    let stopped_following_us = chrono::Utc::now().timestamp_micros();
    live.tick(&mut join, log);
    if !run.finished() {
        run = s.pg.run(RunSpec::Id(run_id)).await?;
    }
    let backlog = self::backlog(s, &run, &join, lags.get()).await;
    let _ = snapshots.send(Arc::new(snapshot(
        &run, &join, &live, &backlog, started, "auditing", 0.0, 0.0,
    )));
    // A last look for receipts of every event still unaccounted for, whether or not the
    // verifier saw it on Kafka.
    let mut from = 1;
    loop {
        let chunk: Vec<i64> = join
            .unfinished(from, sources::IN_CHUNK)
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        let Some(&last) = chunk.last() else { break };
        let ids: Vec<String> = s.pg.ids(run_id, &chunk).await?.into_values().collect();
        for r in s.mongo.receipts(&ids).await? {
            join.on_receipt(&r);
        }
        from = last + 1;
    }
    let outbox_rows = s.pg.outbox_rows(run_id).await?;
    let listed = join.unfinished(1, LISTED);
    let seqs: Vec<i64> = listed.iter().map(|(s, _)| *s).collect();
    let ids = s.pg.ids(run_id, &seqs).await?;
    let missing = listed
        .into_iter()
        .map(|(seq, last_stage)| Missing {
            event_id: ids.get(&seq).cloned(),
            seq,
            last_stage,
        })
        .collect::<Vec<_>>();
    let audit = if join.counts().receipts == join.counts().expected {
        Some(
            sources::audit(&s.pg, &s.mongo, run_id)
                .await
                .context("auditing MongoDB's state")?,
        )
    } else {
        None
    };
    let report = Report::build(
        &join,
        Inputs {
            run: run.clone(),
            outbox_rows,
            missing,
            audit,
            slo: opts.slo.clone(),
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            stopped_following_us,
        },
    );
    let _ = snapshots.send(Arc::new(snapshot(
        &run, &join, &live, &backlog, started, "done", 0.0, 0.0,
    )));
    Ok(Outcome { report, stopped })
}

/// Waits for the first run with an id above `base` (`--run next`), for at most `limit`.
async fn wait_for_run(
    s: &Services,
    base: i64,
    limit: Duration,
    stop: &mut watch::Receiver<bool>,
) -> anyhow::Result<RunInfo> {
    let since = Instant::now();
    loop {
        if let Some(run) = s.pg.run_after(base).await? {
            return Ok(run);
        }
        if since.elapsed() > limit {
            return Err(sources::Unavailable(format!(
                "no run started after run {base} within {} s (--idle-timeout); start one with CALL demo_run(1000, 150)",
                limit.as_secs()
            ))
            .into());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            _ = stop.changed() => {
                return Err(sources::Unavailable(format!("stopped while waiting for the run after run {base}")).into());
            }
        }
    }
}

/// Whether the reader reports the position of a record of another run: at most every 100 ms,
/// and always for the record just before the end the partition had when the read started.
fn position_due(
    end_at_start: &std::collections::BTreeMap<i32, i64>,
    partition: i32,
    offset: i64,
    since_last: Duration,
) -> bool {
    since_last >= Duration::from_millis(100)
        || end_at_start
            .get(&partition)
            .is_some_and(|end| offset + 1 == *end)
}

fn mark(
    caught_up: &mut std::collections::BTreeMap<i32, bool>,
    end_at_start: &std::collections::BTreeMap<i32, i64>,
    partition: i32,
    offset: i64,
) {
    if end_at_start
        .get(&partition)
        .is_some_and(|end| offset + 1 >= *end)
    {
        caught_up.insert(partition, true);
    }
}

enum TopicItem {
    Event(i32, i64, crate::join::KafkaEvent),
    Position(i32, i64),
}

async fn read_topic(
    consumer: rdkafka::consumer::StreamConsumer,
    run_id: i64,
    end_at_start: std::collections::BTreeMap<i32, i64>,
    tx: mpsc::Sender<TopicItem>,
) {
    use rdkafka::consumer::Consumer as _;
    // Partitions already at their end have nothing to read: report them caught up.
    let starts: Vec<(i32, i64)> = consumer
        .assignment()
        .map(|a| {
            a.elements()
                .iter()
                .filter_map(|el| match el.offset() {
                    rdkafka::Offset::Offset(o) => Some((el.partition(), o)),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    for (p, o) in starts {
        let _ = tx.send(TopicItem::Position(p, o - 1)).await;
    }
    let mut last_position = Instant::now();
    loop {
        let item = {
            let m = match consumer.recv().await {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!("Kafka: {e}");
                    continue;
                }
            };
            match sources::parse_record(m.payload(), m.timestamp().to_millis()) {
                Some((r, e)) if r == run_id => TopicItem::Event(m.partition(), m.offset(), e),
                _ => {
                    // Other runs' records: only the position matters, and not for each one;
                    // but always the record that reaches the end the topic had at the start,
                    // or the read would never count as caught up when nothing follows it.
                    if !position_due(
                        &end_at_start,
                        m.partition(),
                        m.offset(),
                        last_position.elapsed(),
                    ) {
                        continue;
                    }
                    last_position = Instant::now();
                    TopicItem::Position(m.partition(), m.offset())
                }
            }
        };
        if tx.send(item).await.is_err() {
            return;
        }
    }
}

/// Receipt requests at once: with two in flight FerretDB on 2 cores serves 1.6x the documents.
const RECEIPT_REQUESTS: usize = 2;

/// Requests to the receipt reader in flight, and where the next one starts.
#[derive(Default)]
struct Requests {
    in_flight: usize,
    next_from: i64,
}

impl Requests {
    /// Asks for the next receipts to look for, up to [`RECEIPT_REQUESTS`] at once, each for
    /// different seqs.
    fn send(&mut self, join: &Join, low: &mut i64, want: &mpsc::Sender<Vec<i64>>) {
        while *low <= join.counts().expected as i64 && join.has_receipt(*low) {
            *low += 1;
        }
        if self.in_flight == 0 {
            self.next_from = *low;
        }
        while self.in_flight < RECEIPT_REQUESTS {
            let seqs = join.awaiting_receipt(self.next_from.max(*low), RECEIPTS_PER_POLL);
            let Some(&last) = seqs.last() else { return };
            if want.try_send(seqs).is_err() {
                return;
            }
            self.next_from = last + 1;
            self.in_flight += 1;
        }
    }
}

/// Reads the receipts of the seqs asked for, each request on its own task.
async fn fetch_receipts(
    pg: Pg,
    mongo: Mongo,
    run_id: i64,
    mut want: mpsc::Receiver<Vec<i64>>,
    got: mpsc::Sender<anyhow::Result<Vec<Receipt>>>,
) {
    let pg = Arc::new(pg);
    while let Some(seqs) = want.recv().await {
        let (pg, mongo, got) = (Arc::clone(&pg), mongo.clone(), got.clone());
        tokio::spawn(async move {
            let result = async {
                let ids: Vec<String> = pg.ids(run_id, &seqs).await?.into_values().collect();
                mongo.receipts(&ids).await
            }
            .await;
            let _ = got.send(result).await;
        });
    }
}

/// Slot lag and processor-group lag, refreshed every second off the follow loop (each probe
/// can take a while when a service is slow, and must not delay the join).
#[derive(Debug, Clone, Copy, Default)]
struct Lags {
    slot_bytes: Option<i64>,
    processor: Option<i64>,
}

/// The latest [`Lags`], written by the probes and read by the follow loop.
#[derive(Default)]
struct SharedLags(std::sync::Mutex<Lags>);

impl SharedLags {
    fn get(&self) -> Lags {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, f: impl FnOnce(&mut Lags)) {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }
}

fn spawn_lag_probes(endpoints: &Endpoints, stop: watch::Receiver<bool>) -> Arc<SharedLags> {
    let lags = Arc::new(SharedLags::default());
    let (l, e, mut st) = (Arc::clone(&lags), endpoints.clone(), stop.clone());
    tokio::spawn(async move {
        let Ok(pg) = Pg::connect(&e).await else {
            return;
        };
        while !*st.borrow_and_update() {
            let v = pg.slot_lag_bytes().await.unwrap_or(None);
            l.update(|l| l.slot_bytes = v);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = st.changed() => {}
            }
        }
    });
    let (l, e) = (Arc::clone(&lags), endpoints.clone());
    std::thread::spawn(move || {
        let Ok(mut probe) = sources::LagProbe::new(&e) else {
            return;
        };
        while !*stop.borrow() {
            let v = probe
                .lag()
                .map_err(|err| tracing::debug!("processor lag: {err:#}"))
                .unwrap_or(None);
            l.update(|l| l.processor = v);
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    lags
}

async fn backlog(s: &Services, run: &RunInfo, join: &Join, lags: Lags) -> Backlog {
    let run_id = run.run_id;
    let c = join.counts();
    // While a rate run is writing, only what it wrote so far can be on its way.
    let written = if run.finished() {
        c.expected
    } else {
        (run.written.max(0) as u64).min(c.expected)
    };
    let now_us = chrono::Utc::now().timestamp_micros();
    let mut oldest = join.oldest_pending_s().map(|s| s * 1_000_000);
    if c.kafka < written {
        if let Some(seq) = join.first_not_on_kafka() {
            if let Ok(Some(t0)) = s.pg.created_us(run_id, seq).await {
                oldest = Some(oldest.map_or(t0, |o| o.min(t0)));
            }
        }
    }
    Backlog {
        slot_lag_bytes: lags.slot_bytes,
        processor_lag: lags.processor,
        not_on_kafka: written.saturating_sub(c.kafka),
        awaiting_receipt: c.kafka.saturating_sub(c.matched),
        unmatched: c.expected.saturating_sub(c.matched),
        oldest_unmatched_s: oldest
            .filter(|_| c.matched < c.expected)
            .map(|t| (now_us - t) as f64 / 1e6),
    }
}

#[allow(clippy::too_many_arguments)]
fn snapshot(
    run: &RunInfo,
    join: &Join,
    live: &Live,
    backlog: &Backlog,
    started: Instant,
    phase: &str,
    kafka_per_s: f64,
    done_per_s: f64,
) -> Snapshot {
    let c = join.counts();
    let stages = join.measurements.summaries(false);
    Snapshot {
        run: run.clone(),
        elapsed_s: started.elapsed().as_secs_f64(),
        phase: phase.into(),
        expected: c.expected,
        on_kafka: c.kafka,
        kafka_duplicates: c.kafka_duplicates,
        receipts: c.receipts,
        matched: c.matched,
        done_per_s,
        kafka_per_s,
        by_type: stages[stage::END_TO_END].by_type.clone(),
        skewed: stages.iter().map(|s| s.skewed).sum(),
        stages: stages
            .into_iter()
            .map(|mut s| {
                s.by_type.clear();
                s
            })
            .collect(),
        done_history: live.history_done.iter().copied().collect(),
        p99_history: live.history_p99.iter().copied().collect(),
        backlog: backlog.clone(),
        recent: join.recent().cloned().collect(),
    }
}

/// The one-line progress shown without a terminal.
pub fn progress_line(s: &Snapshot) -> String {
    let e2e = s.stages.get(stage::END_TO_END);
    format!(
        "run {} [{}] {:.0}s: {}/{} in MongoDB ({:.1}%), {} on Kafka (+{} dup), {:.0} ev/s; e2e p50 {} p99 {}; backlog: slot {} B, processor lag {}, oldest unmatched {}",
        s.run.run_id,
        s.phase,
        s.elapsed_s,
        s.receipts,
        s.expected,
        if s.expected == 0 { 0.0 } else { 100.0 * s.receipts as f64 / s.expected as f64 },
        s.on_kafka,
        s.kafka_duplicates,
        s.done_per_s,
        e2e.filter(|e| e.count > 0).map_or("-".into(), |e| format!("{:.1} ms", e.p50_ms)),
        e2e.filter(|e| e.count > 0).map_or("-".into(), |e| format!("{:.1} ms", e.p99_ms)),
        s.backlog.slot_lag_bytes.map_or("-".into(), |b| b.to_string()),
        s.backlog.processor_lag.map_or("-".into(), |b| b.to_string()),
        s.backlog.oldest_unmatched_s.map_or("-".into(), |a| format!("{a:.1} s")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn the_record_that_reaches_the_start_end_is_always_reported() {
        let end: BTreeMap<i32, i64> = [(0, 10), (1, 7)].into();
        let soon = Duration::from_millis(5);
        assert!(!position_due(&end, 0, 8, soon), "throttled");
        assert!(
            position_due(&end, 0, 9, soon),
            "the last record before the end"
        );
        assert!(
            !position_due(&end, 1, 9, soon),
            "past the end: throttled again"
        );
        assert!(position_due(&end, 0, 3, Duration::from_millis(100)));
        let mut caught_up: BTreeMap<i32, bool> = [(0, false), (1, false)].into();
        mark(&mut caught_up, &end, 0, 9);
        assert_eq!(caught_up, [(0, true), (1, false)].into());
    }
}
