//! The report of a run: what `verifier report` prints ([`text`]) and writes as `report.json`
//! (its schema in docs/verifier.md), built from the join, the integrity audit and the SLOs
//! (pure); its other forms, [`html`] (report.html) and [`hlog`] (HdrHistogram interval logs);
//! and [`artifacts`], which writes them all into a folder.

pub(crate) mod artifacts;
pub(crate) mod hlog;
pub(crate) mod html;
mod text;

use serde::{Deserialize, Serialize};

use crate::model::fate::{Fate, FateCounts};
use crate::model::fault::FaultSummary;
pub(crate) use crate::model::integrity::LISTED;
use crate::model::integrity::{Audit, Finding};
use crate::model::join::{Counts, Join, LastStage};
use crate::model::manifest::{RunInfo, RunMode};
use crate::model::measure::StageSummary;
use crate::model::receipt_source::ReceiptsInfo;
use crate::model::slo::{Actual, Check, Judgement, Slo};
use events::stages::{Stage, T2Census};

/// How far behind the consumer group was when following stopped, and how fast it moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ConsumerProgress {
    /// Records the group had not committed (its lag).
    pub lag: i64,
    /// Records it committed per second over the last 10 s (`None`: not measured).
    pub records_per_s: Option<f64>,
}

/// Version of the `report.json` layout. 2: a stage without samples has `null` figures (not
/// 0); the verdict and `integrity.status` may be `incomplete`; each missing event has its fate.
pub(crate) const SCHEMA: &str = "cdc-verifier-report/2";

/// The run's verdict: integrity and every judged SLO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Integrity passed and no objective failed.
    Pass,
    /// Integrity failed (something lost, applied twice, out of range, or a count that does not
    /// add up), or an objective did.
    Fail,
    /// Nothing failed, but following stopped with events still on their way (or whose fate
    /// cannot be told): the run is neither proven whole nor proven broken.
    Incomplete,
}

impl Verdict {
    /// `pass`, `fail` or `incomplete`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Incomplete => "incomplete",
        }
    }

    /// The verdict of integrity alone (what `check` judges).
    pub const fn of_integrity(status: IntegrityStatus) -> Self {
        match status {
            IntegrityStatus::Passed => Verdict::Pass,
            IntegrityStatus::Failed => Verdict::Fail,
            IntegrityStatus::Incomplete => Verdict::Incomplete,
        }
    }

    /// `pass` when `passed`.
    pub const fn of(passed: bool) -> Self {
        if passed {
            Verdict::Pass
        } else {
            Verdict::Fail
        }
    }
}

/// How integrity came out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntegrityStatus {
    /// Every event is on Kafka and in MongoDB, and the state is clean.
    Passed,
    /// Something is proven wrong.
    #[default]
    Failed,
    /// Nothing is proven wrong, but events are still on their way (or cannot be told lost
    /// from pending).
    Incomplete,
}

/// An event that did not reach MongoDB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Missing {
    /// Event id (`null` when the outbox has no row for the seq).
    pub event_id: Option<String>,
    /// Position in the run.
    pub seq: i64,
    /// The last place it was seen: `outbox` or `kafka`.
    pub last_stage: LastStage,
    /// Lost, pending (with how far it got), or undetermined (`None` only in reports of schema
    /// 1, read as a baseline).
    #[serde(flatten)]
    pub fate: Option<Fate>,
}

/// Integrity, three ways.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Integrity {
    /// Every rule held (`status` is `passed`).
    pub passed: bool,
    /// `passed`, `failed` or `incomplete`.
    #[serde(default)]
    pub status: IntegrityStatus,
    /// Events without an effect proven lost: the consumer committed past them, or (never on
    /// Kafka) Debezium and the verifier's read passed them.
    #[serde(default)]
    pub lost: u64,
    /// Events still on their way.
    #[serde(default)]
    pub pending: u64,
    /// Of those, not yet on Kafka.
    #[serde(default)]
    pub pending_before_kafka: u64,
    /// Events whose fate cannot be told (the consumer group commits nothing the verifier sees).
    #[serde(default)]
    pub undetermined: u64,
    /// How far behind the consumer group was when following stopped, and how fast it moved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<ConsumerProgress>,
    /// Rows of the run in the outbox.
    pub outbox_rows: u64,
    /// Events the manifest says were written.
    pub manifest_written: u64,
    /// Events without a receipt.
    pub missing_total: u64,
    /// Of those, never seen on Kafka.
    pub missing_at_outbox: u64,
    /// Of those, seen on Kafka.
    pub missing_at_kafka: u64,
    /// The first [`LISTED`] of them.
    pub missing: Vec<Missing>,
    /// Extra copies on Kafka (at-least-once; counted, not a failure).
    pub kafka_duplicates: u64,
    /// Records of the run with a seq outside 1..n.
    pub out_of_range: u64,
    /// Whether MongoDB's state was audited (it is once every event has a receipt).
    pub state_audited: bool,
    /// Findings of the audit by kind.
    pub applied_twice: u64,
    /// References to documents that do not exist.
    pub broken_references: u64,
    /// Entities or effects missing.
    pub missing_effects: u64,
    /// The first [`LISTED`] findings.
    pub findings: Vec<Finding>,
    /// Documents the audit read from MongoDB.
    #[serde(default)]
    pub audit_documents: u64,
    /// Seconds the audit took.
    #[serde(default)]
    pub audit_seconds: f64,
    /// Last event's `t0` to the last receipt's `t5`, ms (once every event has a receipt).
    pub convergence_ms: Option<f64>,
}

/// Throughput figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Throughput {
    /// Events delivered per second, first `t0` to last `t5`.
    pub events_per_s: Option<f64>,
    /// First `t0` to last `t5`, s.
    pub duration_s: Option<f64>,
    /// First `t0` of the run, µs since the epoch.
    #[serde(default)]
    pub first_t0_us: Option<i64>,
    /// Last `t5` (the last write to MongoDB), µs since the epoch.
    #[serde(default)]
    pub last_t5_us: Option<i64>,
    /// Epoch second of index 0 of the series below.
    pub origin_s: i64,
    /// Events reaching Kafka per second (by `t1`).
    pub kafka_per_second: Vec<u64>,
    /// Events written to MongoDB per second (by `t5`).
    pub done_per_second: Vec<u64>,
}

/// End to end over one second of following (the samples measured in it), for the chart of
/// latency over time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySecond {
    /// When the second closed, seconds since the epoch.
    pub at_s: f64,
    /// Samples measured in it.
    pub count: u64,
    /// Median, ms (`None`: no sample).
    pub p50_ms: Option<f64>,
    /// 99th percentile, ms.
    pub p99_ms: Option<f64>,
    /// Largest, ms.
    pub max_ms: Option<f64>,
}

/// A difference against a baseline report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// `stage.percentile` or `throughput`.
    pub metric: String,
    /// The baseline's figure.
    pub baseline: f64,
    /// This run's figure.
    pub current: f64,
    /// `current / baseline` (`null` when the baseline is 0).
    pub ratio: Option<f64>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// [`SCHEMA`].
    pub schema: String,
    /// When the report was made, RFC 3339.
    pub generated_at: String,
    /// The run.
    pub run: RunInfo,
    /// `pass` or `fail` (integrity and SLOs).
    pub verdict: Verdict,
    /// The join's counts.
    pub counts: Counts,
    /// Share of the run's events with a receipt.
    pub success_rate: f64,
    /// Throughput.
    pub throughput: Throughput,
    /// What `t2` (the boundary between publish and queue) is for this run:
    /// `log_append_time`, `create_time`, `none`, `mixed` or `unknown` (no record read).
    #[serde(default)]
    pub t2_kind: String,
    /// That in words.
    #[serde(default)]
    pub t2_meaning: String,
    /// The run's records read, by the kind of their timestamp.
    #[serde(default)]
    pub t2_records: T2Census,
    /// Where the verifier learnt when each event was applied.
    #[serde(default)]
    pub receipts: ReceiptsInfo,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageSummary>,
    /// `t0 - t_sched` (rate mode): how late the generator wrote.
    pub generator_lag: Option<StageSummary>,
    /// Integrity.
    pub integrity: Integrity,
    /// The objectives used.
    pub slo: Slo,
    /// Each objective judged.
    pub slo_checks: Vec<Check>,
    /// A fault run (`watch --fault-log`): the log it was given. The verdict is then integrity
    /// only; `slo_checks` are shown, not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_log: Option<String>,
    /// The fault the log told of (absent when it told of none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<FaultSummary>,
    /// End to end per second of following (empty for a report made without following).
    #[serde(default)]
    pub latency_per_second: Vec<LatencySecond>,
    /// When following stopped (every event accounted for, idle or stopped), µs since the
    /// epoch; the audit ran after it.
    #[serde(default)]
    pub stopped_following_us: i64,
    /// Against `--baseline`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<Vec<Diff>>,
}

/// What the report needs besides the join.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The run.
    pub run: RunInfo,
    /// Rows of the run in the outbox.
    pub outbox_rows: u64,
    /// The first [`LISTED`] missing events, with ids.
    pub missing: Vec<Missing>,
    /// The state audit (`None`: not audited).
    pub audit: Option<Audit>,
    /// Objectives.
    pub slo: Slo,
    /// Report time, RFC 3339.
    pub generated_at: String,
    /// When following stopped, µs since the epoch.
    pub stopped_following_us: i64,
    /// The fate of every event without a receipt, counted.
    pub fates: FateCounts,
    /// The consumer group when following stopped.
    pub consumer: Option<ConsumerProgress>,
    /// Where the receipts came from.
    pub receipts: ReceiptsInfo,
    /// A fault run: its log, and the fault it told of.
    pub fault: Option<(std::path::PathBuf, Option<FaultSummary>)>,
    /// End to end per second of following.
    pub latency_per_second: Vec<LatencySecond>,
}

impl Throughput {
    /// First `t0` to last `t5` of `join`, and its timelines.
    fn of(join: &Join) -> Self {
        let (first_t0, _, last_t5) = join.span();
        let duration_s = match (first_t0, last_t5) {
            (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e6),
            _ => None,
        };
        Throughput {
            events_per_s: duration_s.map(|d| join.counts().receipts as f64 / d),
            duration_s,
            first_t0_us: first_t0,
            last_t5_us: last_t5,
            origin_s: join.done_timeline.origin_s,
            kafka_per_second: join.kafka_timeline.per_second.clone(),
            done_per_second: join.done_timeline.per_second.clone(),
        }
    }
}

impl Integrity {
    /// The three-way count of `join`, the outbox and the manifest, and the state audit: passed
    /// only when every expected event is receipted, outbox, manifest and join agree on how
    /// many there are, nothing is out of range, and the audited state is clean; failed when
    /// any of that is proven wrong (an event lost included); incomplete otherwise.
    fn of(join: &Join, inputs: &Inputs) -> Self {
        let counts = join.counts();
        let missing_total = counts.expected - counts.receipts.min(counts.expected);
        let (missing_at_outbox, missing_at_kafka) = join.missing_by_stage();
        let (_, last_t0, last_t5) = join.span();
        let complete = missing_total == 0;
        let audit = inputs.audit.clone().unwrap_or_default();
        let outbox_rows = inputs.outbox_rows;
        let manifest_written = inputs.run.written.max(0) as u64;
        let wrong = inputs.fates.lost > 0
            || outbox_rows != counts.expected
            || manifest_written != counts.expected
            || counts.out_of_range > 0
            || !audit.clean();
        let status = if wrong {
            IntegrityStatus::Failed
        } else if !complete || inputs.audit.is_none() {
            IntegrityStatus::Incomplete
        } else {
            IntegrityStatus::Passed
        };
        Integrity {
            passed: status == IntegrityStatus::Passed,
            status,
            lost: inputs.fates.lost,
            pending: inputs.fates.pending,
            pending_before_kafka: inputs.fates.pending_before_kafka,
            undetermined: inputs.fates.undetermined,
            consumer: inputs.consumer.filter(|_| !complete),
            outbox_rows,
            manifest_written,
            missing_total,
            missing_at_outbox,
            missing_at_kafka,
            missing: inputs.missing.clone(),
            kafka_duplicates: counts.kafka_duplicates,
            out_of_range: counts.out_of_range,
            state_audited: inputs.audit.is_some(),
            applied_twice: audit.applied_twice,
            broken_references: audit.broken_references,
            missing_effects: audit.missing_effects,
            findings: audit.listed,
            audit_documents: audit.documents_read,
            audit_seconds: audit.seconds,
            convergence_ms: match (complete, last_t0, last_t5) {
                (true, Some(a), Some(b)) => Some((b - a) as f64 / 1000.0),
                _ => None,
            },
        }
    }
}

impl Report {
    /// Builds the report.
    pub fn build(join: &Join, inputs: Inputs) -> Self {
        let counts = join.counts().clone();
        let stages = join.measurements.summaries(true);
        let success_rate = if counts.expected == 0 {
            0.0
        } else {
            counts.receipts as f64 / counts.expected as f64
        };
        let throughput = Throughput::of(join);
        let integrity = Integrity::of(join, &inputs);
        let e2e = &stages[Stage::EndToEnd.index()];
        let actual = Actual {
            events: counts.expected,
            throughput_eps: throughput.events_per_s,
            p50_ms: e2e.p50_ms,
            p95_ms: e2e.p95_ms,
            p99_ms: e2e.p99_ms,
            success_rate,
            unsettled: integrity.pending + integrity.undetermined,
            burst: inputs.run.mode == RunMode::Bulk,
        };
        let slo_checks = inputs.slo.judge(&actual);
        // A fault run is judged on integrity alone: its latency is what the fault did.
        let slo_ok =
            inputs.fault.is_some() || slo_checks.iter().all(|c| c.verdict != Judgement::Fail);
        let verdict = match integrity.status {
            IntegrityStatus::Failed => Verdict::Fail,
            _ if !slo_ok => Verdict::Fail,
            status => Verdict::of_integrity(status),
        };
        let lag = &join.measurements.generator_lag;
        let generator_lag = (!lag.all.is_empty()).then(|| lag.summary("generator_lag", true));
        Report {
            schema: SCHEMA.into(),
            generated_at: inputs.generated_at,
            run: inputs.run,
            verdict,
            counts,
            success_rate,
            throughput,
            t2_kind: join.t2().label().to_owned(),
            t2_meaning: join.t2().meaning(),
            t2_records: join.t2(),
            receipts: inputs.receipts,
            stages,
            generator_lag,
            integrity,
            slo: inputs.slo,
            slo_checks,
            fault_log: inputs.fault.as_ref().map(|(p, _)| p.display().to_string()),
            fault: inputs.fault.and_then(|(_, f)| f),
            latency_per_second: inputs.latency_per_second,
            stopped_following_us: inputs.stopped_following_us,
            baseline: None,
        }
    }

    /// The summary of `stage` (the report lists every stage, in pipeline order).
    pub fn stage(&self, stage: Stage) -> Option<&StageSummary> {
        self.stages.iter().find(|s| s.name == stage.as_str())
    }

    /// Sets the differences against `base`: every stage's percentiles and the throughput.
    pub fn compare(&mut self, base: &Report) {
        let mut diffs = Vec::new();
        let mut push = |metric: String, b: f64, c: f64| {
            diffs.push(Diff {
                metric,
                baseline: b,
                current: c,
                ratio: (b != 0.0).then(|| c / b),
            })
        };
        if let (Some(b), Some(c)) = (base.throughput.events_per_s, self.throughput.events_per_s) {
            push("throughput.events_per_s".into(), b, c);
        }
        for cur in &self.stages {
            let Some(b) = base.stages.iter().find(|b| b.name == cur.name) else {
                continue;
            };
            for (p, bv, cv) in [
                ("p50_ms", b.p50_ms, cur.p50_ms),
                ("p95_ms", b.p95_ms, cur.p95_ms),
                ("p99_ms", b.p99_ms, cur.p99_ms),
                ("p999_ms", b.p999_ms, cur.p999_ms),
                ("max_ms", b.max_ms, cur.max_ms),
            ] {
                // A figure measured on one side only has no ratio to give.
                if let (Some(bv), Some(cv)) = (bv, cv) {
                    push(format!("{}.{p}", cur.name), bv, cv);
                }
            }
        }
        self.baseline = Some(diffs);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::join::{KafkaEvent, Receipt};
    use events::{EventType, Stamps};

    fn join(n: i64, receipted: i64) -> Join {
        let mut j = Join::new(n as u64, 1_000_000_000_000);
        for seq in 1..=n {
            let t0 = 1_000_000_000_000 + seq * 10_000;
            let stamps = Stamps {
                t_sched: None,
                t0,
                t0c: t0 + 100,
                t1: t0 + 2_000,
                t2: Some(t0 + 3_000),
            };
            j.on_kafka(&KafkaEvent {
                seq,
                event_type: EventType::UserCreated,
                stamps,
                partition: 0,
                offset: seq,
                t2_kind: events::T2Kind::LogAppendTime,
            });
            if seq <= receipted {
                j.on_receipt(&Receipt {
                    seq,
                    event_type: EventType::UserCreated,
                    stamps: stamps.into(),
                    t3: Some(t0 + 4_000),
                    t5: t0 + 5_000,
                });
            }
        }
        j
    }

    fn inputs(n: i64, audit: Option<Audit>) -> Inputs {
        Inputs {
            run: RunInfo {
                run_id: 7,
                mode: crate::model::manifest::RunMode::Bulk,
                status: crate::model::manifest::RunStatus::Completed,
                n,
                written: n,
                ..RunInfo::default()
            },
            outbox_rows: n as u64,
            missing: vec![],
            audit,
            slo: Slo {
                throughput_min_events: 1,
                ..Slo::default()
            },
            generated_at: "2026-11-28T00:00:00Z".into(),
            stopped_following_us: 0,
            fates: FateCounts::default(),
            consumer: None,
            receipts: ReceiptsInfo::default(),
            fault: None,
            latency_per_second: vec![],
        }
    }

    #[test]
    fn a_fault_run_is_judged_on_integrity_alone_and_shows_the_fault() {
        let mut i = inputs(2000, Some(Audit::default()));
        i.run.mode = RunMode::Rate; // a bulk run's latency is not judged
        i.slo.p50_max_ms = 1.0; // 5 ms end to end misses it
        assert_eq!(
            Report::build(&join(2000, 2000), i.clone()).verdict,
            Verdict::Fail
        );
        let mut track = crate::model::fault::FaultTrack::default();
        let line = |e: &str, at: i64| {
            format!(r#"{{"fault": "store-pause", "event": "{e}", "at_us": {at}}}"#)
        };
        track.lines(
            &crate::model::fault::parse(&format!(
                "{}\n{}",
                line("start", 3_000_000),
                line("healed", 13_000_000)
            ))
            .unwrap(),
        );
        track.backlog(14_500_000, Some(0.3));
        i.fault = Some(("faults.jsonl".into(), track.summary()));
        let r = Report::build(&join(2000, 2000), i.clone());
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.text());
        let text = r.text();
        assert!(text.contains("fault: store-pause from 3.0 s to 13.0 s after the run's start; recovered 1.5 s after healing"), "{text}");
        assert!(text.contains("shown, not judged"), "{text}");
        // integrity still fails a fault run
        let mut lost = inputs(10, None);
        lost.missing = vec![missing(
            9,
            Fate::Lost {
                partition: 0,
                offset: 1,
                committed: 5,
            },
        )];
        lost.fates = FateCounts {
            lost: 1,
            ..FateCounts::default()
        };
        lost.fault = i.fault;
        assert_eq!(Report::build(&join(10, 8), lost).verdict, Verdict::Fail);
    }

    #[test]
    fn a_complete_run_passes_with_its_figures() {
        let r = Report::build(&join(2000, 2000), inputs(2000, Some(Audit::default())));
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.text());
        assert!(r.integrity.passed);
        assert_eq!(r.integrity.convergence_ms, Some(5.0));
        let e2e = r.stage(Stage::EndToEnd).unwrap();
        assert_eq!(e2e.count, 2000);
        assert!((e2e.p50_ms.unwrap() - 5.0).abs() < 0.01);
        // 2000 events, t0 every 10 ms, 5 ms end to end: 19.995 s
        let eps = r.throughput.events_per_s.unwrap();
        assert!((eps - 2000.0 / 19.995).abs() < 0.01, "{eps}");
        let text = r.text();
        assert!(
            text.contains("integrity: PASS") && text.contains("verdict: PASS"),
            "{text}"
        );
        let back: Report = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    fn missing(seq: i64, fate: Fate) -> Missing {
        Missing {
            event_id: Some(format!("e{seq}")),
            seq,
            last_stage: LastStage::Kafka,
            fate: Some(fate),
        }
    }

    #[test]
    fn a_lost_receipt_fails_integrity_and_is_located() {
        let j = join(10, 8);
        let mut i = inputs(10, None);
        let lost = Fate::Lost {
            partition: 1,
            offset: 41,
            committed: 60,
        };
        i.missing = vec![missing(9, lost)];
        i.fates = FateCounts {
            lost: 1,
            pending: 1,
            ..FateCounts::default()
        };
        let r = Report::build(&j, i);
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.integrity.status, IntegrityStatus::Failed);
        assert_eq!(r.integrity.missing_total, 2);
        assert_eq!(r.integrity.missing_at_kafka, 2);
        assert_eq!(r.integrity.convergence_ms, None);
        let text = r.text();
        assert!(
            text.contains("lost: event e9 seq 9 last seen at kafka: partition 1 offset 41, the consumer group committed past it (offset 60)"),
            "{text}"
        );
        let json = serde_json::to_value(&r.integrity.missing[0]).unwrap();
        assert_eq!(
            (json["fate"].as_str(), json["committed"].as_i64()),
            (Some("lost"), Some(60))
        );
    }

    #[test]
    fn late_events_make_an_incomplete_run_not_a_failed_one() {
        let j = join(10, 0);
        let mut i = inputs(10, None);
        let ahead = Fate::Pending {
            partition: 0,
            offset: 500,
            ahead: 480,
        };
        i.missing = vec![missing(1, ahead)];
        i.fates = FateCounts {
            pending: 10,
            ..FateCounts::default()
        };
        i.consumer = Some(ConsumerProgress {
            lag: 191_221,
            records_per_s: Some(4_200.0),
        });
        let r = Report::build(&j, i);
        assert_eq!(r.verdict, Verdict::Incomplete);
        assert_eq!(r.integrity.status, IntegrityStatus::Incomplete);
        assert!(!r.integrity.passed);
        let text = r.text();
        for want in [
            "integrity: INCOMPLETE",
            "lost 0 · pending 10",
            "pending: event e1 seq 1 last seen at kafka: partition 0 offset 500, 480 records ahead of it",
            "191221 records behind the topic's end, committing 4200 records/s",
            "verdict: INCOMPLETE",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
        // the stages nothing arrived for are shown as unmeasured, not as 0
        let e2e = r.stage(Stage::EndToEnd).unwrap();
        assert_eq!((e2e.count, e2e.p50_ms), (0, None));
        assert!(
            text.contains("end_to_end                 0         -"),
            "{text}"
        );
        let json = serde_json::to_value(&r).unwrap();
        let stages = json["stages"].as_array().unwrap();
        let e2e = stages.iter().find(|s| s["name"] == "end_to_end").unwrap();
        assert!(e2e["p50_ms"].is_null() && e2e["max_ms"].is_null(), "{e2e}");
    }

    #[test]
    fn a_baseline_gives_ratios() {
        let base = Report::build(&join(100, 100), inputs(100, Some(Audit::default())));
        let mut cur = base.clone();
        let p99 = &mut cur.stages[Stage::EndToEnd.index()].p99_ms;
        *p99 = p99.map(|v| v * 2.0);
        cur.compare(&base);
        let d = cur.baseline.as_ref().unwrap();
        let p99 = d.iter().find(|d| d.metric == "end_to_end.p99_ms").unwrap();
        assert_eq!(p99.ratio, Some(2.0));
        assert!(cur.text().contains("against the baseline"));
    }
}
