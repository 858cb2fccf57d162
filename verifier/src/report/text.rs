//! The text form of a report: what the terminal shows, section by section.

use std::fmt::Write as _;

use events::stages::Stage;

use super::{IntegrityStatus, LastStage, Missing, Report};
use crate::model::fate::Fate;
use crate::model::manifest::RunMode;
use crate::model::measure::StageSummary;

impl Report {
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
        let status = match i.status {
            IntegrityStatus::Passed => "PASS",
            IntegrityStatus::Failed => "FAIL",
            IntegrityStatus::Incomplete => {
                "INCOMPLETE (nothing proven lost; events still on their way)"
            }
        };
        let _ = writeln!(o, "\nintegrity: {status}");
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
        if i.missing_total > 0 {
            let _ = writeln!(
                o,
                "  of the missing: lost {} · pending {} (not yet on Kafka {}) · undetermined {}",
                i.lost, i.pending, i.pending_before_kafka, i.undetermined
            );
        }
        if let Some(c) = &i.consumer {
            let rate = c
                .records_per_s
                .map_or("unknown".to_owned(), |r| format!("{r:.0}"));
            let _ = writeln!(
                o,
                "  the consumer group was {} records behind the topic's end, committing {rate} records/s",
                c.lag
            );
        }
        for m in &i.missing {
            let _ = writeln!(o, "    {}", missing_line(m));
        }
        if i.state_audited {
            let _ = writeln!(
                o,
                "  MongoDB state: applied twice {} · broken references {} · missing effects {} ({} documents read in {:.1} s)",
                i.applied_twice, i.broken_references, i.missing_effects, i.audit_documents, i.audit_seconds
            );
        } else {
            let _ = writeln!(
                o,
                "  MongoDB state: not audited (it is audited once every event has a receipt)"
            );
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
        self.write_header(&mut o);
        self.write_stages(&mut o);
        self.write_notes(&mut o);
        self.write_integrity(&mut o);
        self.write_fault(&mut o);
        self.write_slo(&mut o);
        self.write_baseline(&mut o);
        let _ = writeln!(o, "\nverdict: {}", self.verdict.as_str().to_uppercase());
        o
    }

    /// The run, the counts and the throughput.
    fn write_header(&self, o: &mut String) {
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
    }

    /// The table of stages, end to end by event type, and the generator's lag.
    fn write_stages(&self, o: &mut String) {
        let _ = writeln!(
            o,
            "\n{:<20}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>7}",
            "stage (ms)", "count", "p50", "p90", "p95", "p99", "p99.9", "max", "skew"
        );
        for s in &self.stages {
            stage_row(o, s, "");
        }
        if let Some(s) = self.stage(Stage::EndToEnd) {
            for t in &s.by_type {
                stage_row(o, t, "  ");
            }
        }
        if let Some(g) = &self.generator_lag {
            stage_row(o, g, "");
        }
        let _ = writeln!(o, "  {}", self.t2_meaning);
        let _ = writeln!(o, "  receipts: {}", self.receipts.describe());
        if let Some(f) = &self.receipts.file {
            for line in &f.malformed_lines {
                let _ = writeln!(o, "    malformed {line}");
            }
            let more = f.malformed.saturating_sub(f.malformed_lines.len() as u64);
            if more > 0 {
                let _ = writeln!(o, "    … and {more} more malformed lines");
            }
        }
    }

    /// What the stage table does not show: skew, resolution, unmeasured samples.
    fn write_notes(&self, o: &mut String) {
        for s in &self.stages {
            if s.skewed > 0 {
                let _ = writeln!(
                    o,
                    "  note: {}: {} negative durations (clock skew, down to {:.3} ms), counted beside the histogram",
                    s.name, s.skewed, s.skew_min_ms
                );
            }
            if s.below_resolution > 0 {
                let _ = writeln!(
                    o,
                    "  note: {}: {} samples within Kafka's 1 ms timestamp resolution, recorded as 0",
                    s.name, s.below_resolution
                );
            }
            if s.unmeasured > 0 {
                let mode = self.receipts.mode.as_str();
                let why = match (mode, s.name.as_str()) {
                    ("observe", "queue" | "process") => {
                        "not measured: observe mode does not see when the consumer received a record"
                    }
                    ("metrics-file", "queue") => {
                        "without a Kafka timestamp (no t1_kafka in the metrics line)"
                    }
                    _ => "without a Kafka timestamp",
                };
                let _ = writeln!(o, "  note: {}: {} events {why}", s.name, s.unmeasured);
            }
        }
    }

    /// Each objective judged.
    fn write_slo(&self, o: &mut String) {
        let from = if self.run.mode == RunMode::Rate {
            ", from scheduled_at"
        } else {
            ""
        };
        let judged = if self.fault_log.is_some() {
            ": shown, not judged: a fault run is judged on integrity alone"
        } else {
            ""
        };
        let _ = writeln!(o, "\nSLO (end to end{from}){judged}:");
        for ch in &self.slo_checks {
            let actual = ch.actual.map_or("-".into(), |v| {
                if ch.name == "success_rate" {
                    format!("{:.3}%", v * 100.0)
                } else {
                    format!("{v:.2}")
                }
            });
            let note = ch.note.as_deref().map(|n| format!(" ({n})"));
            let _ = writeln!(
                o,
                "  {:<13}{:<18}{:>14}  {}{}",
                ch.name,
                ch.target,
                actual,
                ch.verdict.as_str().to_uppercase(),
                note.unwrap_or_default()
            );
        }
    }

    /// A fault run: the fault, its recovery, end to end before, during and after it.
    fn write_fault(&self, o: &mut String) {
        let Some(log) = &self.fault_log else { return };
        let Some(f) = &self.fault else {
            let _ = writeln!(
                o,
                "\nfault: none started (the fault log {log} told of none)"
            );
            return;
        };
        let at = |us: Option<i64>| {
            us.map_or("-".to_owned(), |u| {
                format!("{:.1} s", (u - self.run.started_us) as f64 / 1e6)
            })
        };
        let recovery = match (f.healed_us, f.recovery_s) {
            (None, _) => "never healed".to_owned(),
            (Some(_), None) => "not recovered when following stopped".to_owned(),
            (Some(_), Some(r)) => format!("recovered {r:.1} s after healing"),
        };
        let _ = writeln!(
            o,
            "\nfault: {} from {} to {} after the run's start; {recovery} (oldest event on its way younger than {} s)",
            f.fault,
            at(f.started_us),
            at(f.healed_us),
            crate::model::fault::RECOVERED_BELOW_S
        );
        let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
        for p in [&f.before, &f.during, &f.after] {
            let _ = writeln!(
                o,
                "  end to end {:<7} {:>6} events  p50 {:>10}  p99 {:>10}  max {:>10}",
                p.name,
                p.count,
                ms(p.p50_ms),
                ms(p.p99_ms),
                ms(p.max_ms)
            );
        }
    }

    /// The differences against `--baseline`, when given.
    fn write_baseline(&self, o: &mut String) {
        let Some(diffs) = &self.baseline else { return };
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
}

/// One missing event: its fate, where it is, and where it was last seen.
fn missing_line(m: &Missing) -> String {
    let id = m.event_id.as_deref().unwrap_or("(no outbox row)");
    let seen = match m.last_stage {
        LastStage::Outbox => "outbox",
        LastStage::Kafka => "kafka",
    };
    let what = format!("event {id} seq {} last seen at {seen}", m.seq);
    let Some(f) = m.fate else {
        return format!("missing: {what}");
    };
    match f {
        Fate::Lost {
            partition,
            offset,
            committed,
        } => format!("lost: {what}: partition {partition} offset {offset}, the consumer group committed past it (offset {committed})"),
        Fate::LostBeforeKafka => format!("lost: {what}: never on Kafka, though Debezium confirmed the WAL past the run and the topic was read to its end"),
        Fate::Pending {
            partition,
            offset,
            ahead,
        } => format!("pending: {what}: partition {partition} offset {offset}, {ahead} records ahead of it for the consumer"),
        Fate::PendingBeforeKafka => format!("pending: {what}: not on Kafka yet"),
        Fate::Undetermined { partition, offset } => format!("undetermined: {what}: partition {partition} offset {offset}; the consumer group commits no offset there, so lost cannot be told from pending"),
    }
}

/// One row of the stage table; a stage without samples shows `-`, never 0.
fn stage_row(o: &mut String, s: &StageSummary, indent: &str) {
    let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}"));
    let _ = writeln!(
        o,
        "{:<20}{:>8}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>7}",
        format!("{indent}{}", s.name),
        s.count,
        ms(s.p50_ms),
        ms(s.p90_ms),
        ms(s.p95_ms),
        ms(s.p99_ms),
        ms(s.p999_ms),
        ms(s.max_ms),
        s.skewed
    );
}
