//! `verifier capacity`: the highest rate the pipeline sustains within its SLOs, and where it
//! breaks. Each step offers a fixed rate for `STEP_S` seconds (`CALL demo_run` over the
//! verifier's own connection) and follows the step's run with the join every other command uses;
//! [`search`] judges the step and picks the next rate; [`answer`] says what was found, and the
//! steps' reports, `capacity.json` and `capacity.html` are written as it goes.

pub(crate) mod answer;
mod plot;
pub(crate) mod search;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::watch;

use crate::error::Error;
use crate::follow::stop::Limits;
use crate::follow::{self, Options, Services};
use crate::live::view::{Phase, Snapshot};
use crate::model::manifest::{RunSpec, RunStatus};
use crate::model::slo::{Judgement, Slo};
use crate::report::artifacts::WriteError;
use crate::report::hlog::Logs;
use crate::report::{IntegrityStatus, Report};
use crate::sources::Pg;
use events::stages::Stage;
use search::{judge, Ending, Judged, Next, Search, SloMiss, StepFigures, StepVerdict};

/// What the search offers and how it judges.
#[derive(Debug, Clone, Serialize)]
pub struct CapacityConfig {
    /// The first rate, events/s.
    pub start_rate: u64,
    /// The highest rate offered, events/s.
    pub max_rate: u64,
    /// Seconds each step offers its rate.
    pub step_s: u64,
    /// Seconds after a step within which every event of it must be verified.
    pub drain_s: u64,
    /// Seconds the whole search may take.
    pub budget_s: u64,
    /// Events per transaction of the rate runs.
    pub txn_size: u32,
    /// The mix of the rate runs.
    pub mix: String,
    /// The objectives (end to end from `scheduled_at`; throughput is judged by the search
    /// itself, from what was delivered).
    pub slo: Slo,
    /// Where `capacity.json`, `capacity.html` and each step's report go.
    pub out: PathBuf,
}

/// One step of the search.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Step {
    /// 1, 2, …
    pub number: usize,
    /// The rate run it generated.
    pub run_id: i64,
    /// What it measured.
    pub figures: StepFigures,
    /// How it came out.
    pub judged: Judged,
    /// Its full report, relative to the output folder.
    pub report: String,
}

/// The search and what it found.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Capacity {
    /// `cdc-capacity/1`.
    pub schema: &'static str,
    /// What was asked.
    pub config: CapacityConfig,
    /// Every step, in order.
    pub steps: Vec<Step>,
    /// Why it ended.
    pub ending: Option<Ending>,
    /// The highest sustainable rate, events/s.
    pub max_sustainable: Option<u64>,
    /// The lowest unsustainable rate, events/s.
    pub first_failed: Option<u64>,
    /// The stages that grew most at the first failing rate.
    pub bottleneck: Vec<String>,
    /// The answer in one line.
    pub answer: String,
}

/// Margin for a step's set-up and its audit, on top of `STEP_S + DRAIN_S`, when deciding
/// whether another step fits in the budget.
const STEP_OVERHEAD: Duration = Duration::from_secs(10);

/// Runs the search until it converges, ends, runs out of budget, or `shutdown` is set.
pub(crate) async fn run(
    s: &Services,
    cfg: CapacityConfig,
    mut shutdown: watch::Receiver<bool>,
) -> Result<Capacity, Error> {
    std::fs::create_dir_all(&cfg.out).map_err(WriteError::into_dir(&cfg.out))?;
    let started = Instant::now();
    let mut search = Search::new(cfg.start_rate, cfg.max_rate, 0.05);
    let mut result = Capacity {
        schema: "cdc-capacity/1",
        config: cfg.clone(),
        steps: Vec::new(),
        ending: None,
        max_sustainable: None,
        first_failed: None,
        bottleneck: Vec::new(),
        answer: String::new(),
    };
    let ending = loop {
        let rate = match search.next() {
            Next::Done(e) => break e,
            Next::Offer(r) => r,
        };
        let step_time = Duration::from_secs(cfg.step_s + cfg.drain_s) + STEP_OVERHEAD;
        if started.elapsed() + step_time > Duration::from_secs(cfg.budget_s) {
            break Ending::Budget;
        }
        let deadline = started + Duration::from_secs(cfg.budget_s);
        if !settle(s, deadline, &mut shutdown).await? {
            break Ending::Stopped;
        }
        let label = answer::live_label(result.steps.len() + 1, rate, &result.steps);
        let step = run_step(
            s,
            &cfg,
            (result.steps.len() + 1, rate, label),
            &mut shutdown,
        )
        .await?;
        if *shutdown.borrow() {
            // A step cut short says nothing about its rate: it is left out of the search.
            eprintln!(
                "[capacity] stopped during step {} ({rate}/s): that step is not judged; its partial report is in {}",
                step.number, step.report
            );
            break Ending::Stopped;
        }
        eprintln!("{}", answer::step_line(&step));
        search.record(rate, step.judged.verdict == StepVerdict::Sustainable);
        let broken = step.judged.verdict == StepVerdict::Broken;
        result.steps.push(step);
        write(&cfg, &mut result, &search, None)?;
        if broken {
            break Ending::Broken;
        }
    };
    write(&cfg, &mut result, &search, Some(ending))?;
    Ok(result)
}

/// Fills in what the steps so far found and writes `capacity.json` and `capacity.html`.
fn write(
    cfg: &CapacityConfig,
    result: &mut Capacity,
    search: &Search,
    ending: Option<Ending>,
) -> Result<(), Error> {
    result.ending = ending;
    result.max_sustainable = search.good;
    result.first_failed = search.bad;
    result.bottleneck = answer::bottleneck_of(&result.steps);
    result.answer = answer::line(result);
    let failed = WriteError::into_dir(&cfg.out);
    let json = serde_json::to_string_pretty(result).map_err(|e| failed(e.into()))?;
    std::fs::write(cfg.out.join("capacity.json"), json).map_err(&failed)?;
    std::fs::write(cfg.out.join("capacity.html"), plot::render(result)).map_err(&failed)?;
    Ok(())
}

/// One step: generate `rate` events/s for `STEP_S` seconds while following the run, then judge.
async fn run_step(
    s: &Services,
    cfg: &CapacityConfig,
    (number, rate, label): (usize, u64, String),
    shutdown: &mut watch::Receiver<bool>,
) -> Result<Step, Error> {
    let n = rate * cfg.step_s;
    eprintln!(
        "[capacity] step {number}: offering {rate} events/s for {} s ({n} events)",
        cfg.step_s
    );
    let opts = Options {
        run: RunSpec::Next,
        limits: Limits {
            idle_timeout: Duration::from_secs(cfg.step_s + cfg.drain_s),
            timeout: Some(Duration::from_secs(cfg.step_s + cfg.drain_s) + STEP_OVERHEAD),
        },
        slo: cfg.slo.clone(),
        label,
        receipts: crate::model::receipt_source::ReceiptSource::ProcessedEvents,
        fault_log: None,
        live_buckets: None,
    };
    let (snapshots, snapshot_rx) = watch::channel(Arc::new(Snapshot::default()));
    let progress = crate::live::progress::spawn(snapshot_rx.clone());
    let started_epoch_s = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    let mut logs = Logs::new(started_epoch_s);
    let call = format!(
        "CALL demo_run({n}, rate => {rate}, txn_size => {}, mix => '{}')",
        cfg.txn_size,
        cfg.mix.replace('\'', "''")
    );
    let generator = generate(s, &call, snapshot_rx.clone(), shutdown.clone());
    let sampler = sample_backlog(snapshot_rx);
    let following = follow::follow(s, &opts, &snapshots, shutdown.clone(), &mut logs);
    let wal_before = s.pg.wal_position().await?;
    let (outcome, generated, samples) = tokio::join!(following, generator, sampler);
    let wal_per_event = (s.pg.wal_position().await? - wal_before) as f64 / n.max(1) as f64;
    drop(snapshots);
    if let Ok(Err(e)) = progress.join() {
        tracing::warn!("progress lines: {e}");
    }
    generated?;
    let outcome = outcome?;
    let dir = format!("step-{number:02}-{rate}");
    crate::report::artifacts::write(&cfg.out.join(&dir), &outcome.report, &logs)?;
    let figures = figures(&outcome.report, rate, &samples, wal_per_event);
    let judged = judge(&figures, cfg.drain_s as f64);
    Ok(Step {
        number,
        run_id: outcome.report.run.run_id,
        figures,
        judged,
        report: dir,
    })
}

/// Records the processor group may still have to read, and WAL bytes Debezium may still have to
/// confirm, for the pipeline to count as drained before a step.
const SETTLED_LAG: i64 = 100;
const SETTLED_SLOT_BYTES: i64 = 1_048_576;

/// Waits until what an earlier (unsustainable) step left behind has drained, so that a step
/// measures its own rate and not the last one's backlog; gives up at `deadline` (the budget).
///
/// Returns `false` when `shutdown` is set before it does.
async fn settle(
    s: &Services,
    deadline: Instant,
    shutdown: &mut watch::Receiver<bool>,
) -> Result<bool, Error> {
    let mut said = false;
    loop {
        if *shutdown.borrow() {
            return Ok(false);
        }
        let endpoints = s.endpoints.clone();
        let lag = tokio::task::spawn_blocking(move || {
            crate::sources::LagProbe::new(&endpoints).and_then(|mut p| p.state())
        })
        .await
        .map_err(|e| Error::Runtime(std::io::Error::other(e)))??
        .lag()
        .unwrap_or(0);
        let slot = s.pg.slot_lag_bytes().await?.unwrap_or(0);
        if (lag <= SETTLED_LAG && slot <= SETTLED_SLOT_BYTES) || Instant::now() >= deadline {
            return Ok(true);
        }
        if !said {
            eprintln!("[capacity] waiting for the pipeline to drain before the next step (processor lag {lag} records, slot lag {slot} bytes)");
            said = true;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = shutdown.wait_for(|stop| *stop) => return Ok(false),
        }
    }
}

/// Starts the rate run once the verifier waits for it (its Kafka read already open), on a
/// connection of its own; returns when the run has ended, or cancels it on `shutdown`
/// ([`Pg::call_until`]: no rate run outlives its search).
async fn generate(
    s: &Services,
    call: &str,
    mut snapshots: watch::Receiver<Arc<Snapshot>>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), Error> {
    let pg = Pg::connect(&s.endpoints).await?;
    let waiting = snapshots
        .wait_for(|snap| matches!(snap.phase, Phase::Waiting { .. }))
        .await
        .is_ok();
    if !waiting || *shutdown.borrow() {
        return Ok(()); // following ended before it waited: it says why
    }
    pg.call_until(
        call,
        "running the step's rate run (CALL demo_run)",
        &mut shutdown,
    )
    .await?;
    Ok(())
}

/// The backlog each second while the step's run is writing: the series the growth rule reads.
#[derive(Debug, Default)]
struct Samples {
    slot_lag_bytes: Vec<f64>,
    processor_lag: Vec<f64>,
    oldest_unmatched_s: Vec<f64>,
    last_processor_lag: Option<i64>,
}

async fn sample_backlog(mut snapshots: watch::Receiver<Arc<Snapshot>>) -> Samples {
    let mut out = Samples::default();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = snapshots.changed() => if changed.is_err() { return out },
        }
        let snap = snapshots.borrow().clone();
        if snap.phase == Phase::Done {
            return out;
        }
        let b = &snap.backlog;
        out.last_processor_lag = b.processor_lag.or(out.last_processor_lag);
        if snap.phase != Phase::Following || snap.run.status != RunStatus::Running {
            continue;
        }
        out.slot_lag_bytes
            .extend(b.slot_lag_bytes.map(|v| v as f64));
        out.processor_lag.extend(b.processor_lag.map(|v| v as f64));
        out.oldest_unmatched_s
            .push(b.oldest_unmatched_s.unwrap_or(0.0));
    }
}

/// A step's figures from its report and its backlog series.
fn figures(r: &Report, rate: u64, samples: &Samples, wal_per_event: f64) -> StepFigures {
    let e2e = r.stage(Stage::EndToEnd);
    let drained_s = match (r.throughput.last_t5_us, r.run.finished_us) {
        (Some(t5), Some(end)) => Some((t5 - end) as f64 / 1e6),
        _ => None,
    };
    // Slack: what a steady backlog wobbles by without growing. The processor group's lag is read
    // from its committed offsets, which it commits once a second, so it saws by a second of the
    // offered rate (1.5 s allowed); the oldest unmatched event's age saws with the verifier's own
    // receipt reads and the consumer's batches (2 s); the slot's lag saws with Debezium's
    // offset flush (once a second on the stack): 1.5 s of the step's WAL, at least a MiB. The
    // first sample (the run's first second, filling an empty pipeline) is left out: it would
    // read as growth.
    let per_s = rate as f64 * 1.5;
    let mut growing = Vec::new();
    for (name, series, slack) in [
        (
            "slot_lag_bytes",
            &samples.slot_lag_bytes,
            (per_s * wal_per_event).max(1_048_576.0),
        ),
        ("processor_lag", &samples.processor_lag, per_s),
        ("oldest_unmatched_s", &samples.oldest_unmatched_s, 2.0),
    ] {
        if search::growing(series.get(1..).unwrap_or_default(), slack) {
            growing.push(name.to_owned());
        }
    }
    StepFigures {
        offered: rate as f64,
        delivered: r.throughput.events_per_s,
        complete: r.integrity.missing_total == 0,
        drained_s,
        // The search judges throughput itself (every event delivered in time at the offered
        // rate), so the SLO file's throughput objective is left out.
        slo_failed: r
            .slo_checks
            .iter()
            .filter(|c| c.verdict == Judgement::Fail && c.name != "throughput")
            .map(|c| SloMiss {
                name: c.name.clone(),
                actual: c.actual,
                target: c.target.clone(),
            })
            .collect(),
        broken: r.integrity.status == IntegrityStatus::Failed,
        growing,
        generator_lag_p99_ms: r.generator_lag.as_ref().and_then(|g| g.p99_ms),
        p50_ms: e2e.and_then(|e| e.p50_ms),
        p95_ms: e2e.and_then(|e| e.p95_ms),
        p99_ms: e2e.and_then(|e| e.p99_ms),
        stage_p50_ms: r
            .stages
            .iter()
            .filter_map(|st| Some((st.name.clone(), st.p50_ms?)))
            .collect(),
        processor_lag_end: samples.last_processor_lag,
    }
}
