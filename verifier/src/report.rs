//! The report of a run: what `verifier report` prints and writes as `report.json` (schema in
//! the README), built from the join, the integrity audit and the SLOs (pure).

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

pub use crate::integrity::LISTED;
use crate::integrity::{Audit, Finding};
use crate::join::{Counts, Join, LastStage};
use crate::measure::StageSummary;
use crate::slo::{Actual, Check, Slo};
use events::stages::stage;

/// Version of the `report.json` layout.
pub const SCHEMA: &str = "cdc-verifier-report/1";

/// A generator run, from `outbox_demo.runs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `run_id`.
    pub run_id: i64,
    /// `bulk` or `rate`.
    pub mode: String,
    /// `running`, `completed`, `stopped`, `interrupted` or `failed`.
    pub status: String,
    /// Events asked for.
    pub n: i64,
    /// Events written so far (the manifest's count).
    pub written: i64,
    /// Seed.
    pub seed: i64,
    /// Mix, as the manifest spells it.
    pub mix: String,
    /// Events per second asked for (rate mode).
    pub rate: Option<f64>,
    /// Start, µs since the epoch.
    pub started_us: i64,
    /// End, µs since the epoch, once finished.
    pub finished_us: Option<i64>,
}

impl RunInfo {
    /// Whether the generator is done writing.
    pub fn finished(&self) -> bool {
        self.status != "running"
    }
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
}

/// Integrity, three ways.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Integrity {
    /// Every rule held.
    pub passed: bool,
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
    pub verdict: String,
    /// The join's counts.
    pub counts: Counts,
    /// Share of the run's events with a receipt.
    pub success_rate: f64,
    /// Throughput.
    pub throughput: Throughput,
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
}

impl Report {
    /// Builds the report.
    pub fn build(join: &Join, inputs: Inputs) -> Self {
        let counts = join.counts().clone();
        let stages = join.measurements.summaries(true);
        let e2e = &stages[stage::END_TO_END];
        let success_rate = if counts.expected == 0 {
            0.0
        } else {
            counts.receipts as f64 / counts.expected as f64
        };
        let (first_t0, last_t0, last_t5) = join.span();
        let duration_s = match (first_t0, last_t5) {
            (Some(a), Some(b)) if b > a => Some((b - a) as f64 / 1e6),
            _ => None,
        };
        let throughput = Throughput {
            events_per_s: duration_s.map(|d| counts.receipts as f64 / d),
            duration_s,
            first_t0_us: first_t0,
            last_t5_us: last_t5,
            origin_s: join.done_timeline.origin_s,
            kafka_per_second: join.kafka_timeline.per_second.clone(),
            done_per_second: join.done_timeline.per_second.clone(),
        };
        let missing_total = counts.expected - counts.receipts.min(counts.expected);
        let (missing_at_outbox, missing_at_kafka) = join.missing_by_stage();
        let complete = missing_total == 0;
        let audit = inputs.audit.clone().unwrap_or_default();
        let mut integrity = Integrity {
            outbox_rows: inputs.outbox_rows,
            manifest_written: inputs.run.written.max(0) as u64,
            missing_total,
            missing_at_outbox,
            missing_at_kafka,
            missing: inputs.missing,
            kafka_duplicates: counts.kafka_duplicates,
            out_of_range: counts.out_of_range,
            state_audited: inputs.audit.is_some(),
            applied_twice: audit.applied_twice,
            broken_references: audit.broken_references,
            missing_effects: audit.missing_effects,
            findings: audit.listed.clone(),
            audit_documents: audit.documents_read,
            audit_seconds: audit.seconds,
            convergence_ms: match (complete, last_t0, last_t5) {
                (true, Some(a), Some(b)) => Some((b - a) as f64 / 1000.0),
                _ => None,
            },
            passed: false,
        };
        integrity.passed = complete
            && integrity.outbox_rows == counts.expected
            && integrity.manifest_written == counts.expected
            && counts.out_of_range == 0
            && integrity.state_audited
            && audit.clean();
        let has = e2e.count > 0;
        let actual = Actual {
            events: counts.expected,
            throughput_eps: throughput.events_per_s,
            p50_ms: has.then_some(e2e.p50_ms),
            p95_ms: has.then_some(e2e.p95_ms),
            p99_ms: has.then_some(e2e.p99_ms),
            success_rate,
        };
        let slo_checks = inputs.slo.judge(&actual);
        let slo_ok = slo_checks.iter().all(|c| c.verdict != "fail");
        let generator_lag = (!join.measurements.generator_lag.all.is_empty()).then(|| {
            join.measurements
                .generator_lag
                .summary("generator_lag", true)
        });
        Report {
            schema: SCHEMA.into(),
            generated_at: inputs.generated_at,
            run: inputs.run,
            verdict: if integrity.passed && slo_ok {
                "pass"
            } else {
                "fail"
            }
            .into(),
            counts,
            success_rate,
            throughput,
            stages,
            generator_lag,
            integrity,
            slo: inputs.slo,
            slo_checks,
            stopped_following_us: inputs.stopped_following_us,
            baseline: None,
        }
    }

    /// Whether the SLOs all passed (or were not judged).
    pub fn slo_passed(&self) -> bool {
        self.slo_checks.iter().all(|c| c.verdict != "fail")
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
                push(format!("{}.{p}", cur.name), bv, cv);
            }
        }
        self.baseline = Some(diffs);
    }

    /// The integrity part of [`Report::text`]: what `verifier check` prints.
    pub fn integrity_text(&self) -> String {
        let mut o = format!(
            "run {}: {} expected, {} on Kafka, {} in MongoDB\n",
            self.run.run_id, self.counts.expected, self.counts.kafka, self.counts.receipts
        );
        self.write_integrity(&mut o);
        o
    }

    fn write_integrity(&self, o: &mut String) {
        let c = &self.counts;
        let i = &self.integrity;
        let _ = writeln!(o, "\nintegrity: {}", if i.passed { "PASS" } else { "FAIL" });
        let _ = writeln!(
            o,
            "  outbox rows {} · manifest written {} · expected {}",
            i.outbox_rows, i.manifest_written, c.expected
        );
        let _ = writeln!(
            o,
            "  missing {} (never on Kafka {}, on Kafka without receipt {}) · Kafka duplicates {} · out of range {}",
            i.missing_total, i.missing_at_outbox, i.missing_at_kafka, i.kafka_duplicates, i.out_of_range
        );
        for m in &i.missing {
            let _ = writeln!(
                o,
                "    missing: event {} seq {} last seen at {}",
                m.event_id.as_deref().unwrap_or("(no outbox row)"),
                m.seq,
                match m.last_stage {
                    LastStage::Outbox => "outbox",
                    LastStage::Kafka => "kafka",
                }
            );
        }
        if i.state_audited {
            let _ = writeln!(
                o,
                "  MongoDB state: applied twice {} · broken references {} · missing effects {} ({} documents read in {:.1} s)",
                i.applied_twice, i.broken_references, i.missing_effects, i.audit_documents, i.audit_seconds
            );
        } else {
            let _ = writeln!(o, "  MongoDB state: not audited (events are missing)");
        }
        for f in &i.findings {
            let _ = writeln!(o, "    {}: {} {}", f.kind.as_str(), f.at, f.detail);
        }
        if let Some(ms) = i.convergence_ms {
            let _ = writeln!(
                o,
                "  convergence: {ms:.1} ms from the last event's t0 to the last write"
            );
        }
    }

    /// The text form: what the terminal shows.
    pub fn text(&self) -> String {
        let mut o = String::new();
        let r = &self.run;
        let c = &self.counts;
        let _ = writeln!(
            o,
            "run {} ({} mode, {} of {} events written, status {}, seed {}, mix {}{})",
            r.run_id,
            r.mode,
            r.written,
            r.n,
            r.status,
            r.seed,
            r.mix,
            r.rate.map(|x| format!(", rate {x}/s")).unwrap_or_default()
        );
        let _ = writeln!(
            o,
            "events: {} expected · {} on Kafka (+{} duplicate copies) · {} in MongoDB · success {:.3}%",
            c.expected,
            c.kafka,
            c.kafka_duplicates,
            c.receipts,
            self.success_rate * 100.0
        );
        if let (Some(eps), Some(d)) = (self.throughput.events_per_s, self.throughput.duration_s) {
            let _ = writeln!(
                o,
                "throughput: {eps:.1} events/s over {d:.2} s (first t0 to last t5)"
            );
        }
        let _ = writeln!(
            o,
            "\n{:<20}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>7}",
            "stage (ms)", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "skew"
        );
        let row = |o: &mut String, s: &StageSummary, indent: &str| {
            let _ = writeln!(
                o,
                "{:<20}{:>8}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>10.2}{:>7}",
                format!("{indent}{}", s.name),
                s.count,
                s.p50_ms,
                s.p90_ms,
                s.p95_ms,
                s.p99_ms,
                s.p999_ms,
                s.max_ms,
                s.skewed
            );
        };
        for s in &self.stages {
            row(&mut o, s, "");
        }
        if let Some(s) = self.stages.get(stage::END_TO_END) {
            for t in &s.by_type {
                row(&mut o, t, "  ");
            }
        }
        if let Some(g) = &self.generator_lag {
            row(&mut o, g, "");
        }
        let notes: Vec<String> = self
            .stages
            .iter()
            .flat_map(|s| {
                let mut n = Vec::new();
                if s.skewed > 0 {
                    n.push(format!(
                        "{}: {} negative durations (clock skew, down to {:.3} ms), counted beside the histogram",
                        s.name, s.skewed, s.skew_min_ms
                    ));
                }
                if s.below_resolution > 0 {
                    n.push(format!(
                        "{}: {} samples within Kafka's 1 ms timestamp resolution, recorded as 0",
                        s.name, s.below_resolution
                    ));
                }
                if s.unmeasured > 0 {
                    n.push(format!("{}: {} events without a Kafka timestamp", s.name, s.unmeasured));
                }
                n
            })
            .collect();
        for n in notes {
            let _ = writeln!(o, "  note: {n}");
        }
        self.write_integrity(&mut o);
        let _ = writeln!(
            o,
            "\nSLO (end to end{}):",
            if r.mode == "rate" {
                ", from scheduled_at"
            } else {
                ""
            }
        );
        for ch in &self.slo_checks {
            let _ = writeln!(
                o,
                "  {:<13}{:<18}{:>14}  {}{}",
                ch.name,
                ch.target,
                ch.actual
                    .map_or("-".into(), |v| if ch.name == "success_rate" {
                        format!("{:.3}%", v * 100.0)
                    } else {
                        format!("{v:.2}")
                    }),
                ch.verdict.to_uppercase(),
                ch.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            );
        }
        if let Some(diffs) = &self.baseline {
            let _ = writeln!(o, "\nagainst the baseline:");
            for d in diffs {
                let _ = writeln!(
                    o,
                    "  {:<28}{:>12.2} → {:>12.2}  {}",
                    d.metric,
                    d.baseline,
                    d.current,
                    d.ratio.map_or("-".into(), |r| format!("{r:.2}×"))
                );
            }
        }
        let _ = writeln!(o, "\nverdict: {}", self.verdict.to_uppercase());
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::join::{KafkaEvent, Receipt};
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
            });
            if seq <= receipted {
                j.on_receipt(&Receipt {
                    seq,
                    event_type: EventType::UserCreated,
                    stamps,
                    t3: t0 + 4_000,
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
                mode: "bulk".into(),
                status: "completed".into(),
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
        }
    }

    #[test]
    fn a_complete_run_passes_with_its_figures() {
        let r = Report::build(&join(2000, 2000), inputs(2000, Some(Audit::default())));
        assert_eq!(r.verdict, "pass", "{}", r.text());
        assert!(r.integrity.passed);
        assert_eq!(r.integrity.convergence_ms, Some(5.0));
        let e2e = &r.stages[stage::END_TO_END];
        assert_eq!(e2e.count, 2000);
        assert!((e2e.p50_ms - 5.0).abs() < 0.01);
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

    #[test]
    fn missing_receipts_fail_integrity_and_are_located() {
        let j = join(10, 8);
        let mut i = inputs(10, None);
        i.missing = vec![Missing {
            event_id: Some("e9".into()),
            seq: 9,
            last_stage: LastStage::Kafka,
        }];
        let r = Report::build(&j, i);
        assert_eq!(r.verdict, "fail");
        assert_eq!(r.integrity.missing_total, 2);
        assert_eq!(r.integrity.missing_at_kafka, 2);
        assert_eq!(r.integrity.convergence_ms, None);
        assert!(r
            .text()
            .contains("missing: event e9 seq 9 last seen at kafka"));
    }

    #[test]
    fn a_baseline_gives_ratios() {
        let base = Report::build(&join(100, 100), inputs(100, Some(Audit::default())));
        let mut cur = base.clone();
        cur.stages[stage::END_TO_END].p99_ms *= 2.0;
        cur.compare(&base);
        let d = cur.baseline.as_ref().unwrap();
        let p99 = d.iter().find(|d| d.metric == "end_to_end.p99_ms").unwrap();
        assert_eq!(p99.ratio, Some(2.0));
        assert!(cur.text().contains("against the baseline"));
    }
}
