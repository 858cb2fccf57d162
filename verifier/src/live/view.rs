//! What is known while following, as the dashboard, `/status` and the progress line show it: a
//! [`Snapshot`] built from the join (pure; no I/O here, so the views never depend on the code
//! that reads the services).

use std::fmt;
use std::sync::Arc;

use events::stages::Stage;
use serde::{Serialize, Serializer};

use crate::model::buckets::StageBuckets;
use crate::model::join::{Join, Recent};
use crate::model::manifest::RunInfo;
use crate::model::measure::StageSummary;
use crate::report::LatencySecond;

/// Where following is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing known yet.
    #[default]
    Starting,
    /// `--run next`: waiting for the first run after this one.
    Waiting {
        /// The highest run id when the verifier started.
        after: i64,
    },
    /// Following the run's events.
    Following,
    /// Following stopped; the last receipts and MongoDB's state are being read.
    Auditing,
    /// The report is made.
    Done,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Starting => Ok(()),
            Phase::Waiting { after } => write!(f, "waiting for the run after run {after}"),
            Phase::Following => f.write_str("following"),
            Phase::Auditing => f.write_str("auditing"),
            Phase::Done => f.write_str("done"),
        }
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Backlog per stage. `None`: not known (the probe's service does not answer, or there is
/// nothing to measure), shown as unknown, never as 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Backlog {
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
    /// Each part that does not answer, with its address and for how long.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub down: Vec<String>,
}

/// What is known while following: the dashboard, `/status` and the progress line show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Snapshot {
    /// The run.
    pub run: RunInfo,
    /// Seconds since following began.
    pub elapsed_s: f64,
    /// Where following is.
    pub phase: Phase,
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
    /// What `t2` is for the run's records read so far (`log_append_time`, `create_time`,
    /// `none`, `mixed`, `unknown`).
    pub t2_kind: String,
    /// What the follow is part of (the capacity search's step and the steps so far); empty for
    /// a plain run.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub label: String,
    /// Every second so far (the live page's charts; not in `/status`).
    #[serde(skip)]
    pub seconds: Arc<Seconds>,
    /// When the count of verified events last grew, µs since the epoch (`None`: not yet).
    #[serde(skip)]
    pub last_verified_us: Option<i64>,
    /// The stages counted into the daemon's buckets, as of the last second (the daemon's
    /// follows only).
    #[serde(skip)]
    pub buckets: Option<Arc<Vec<StageBuckets>>>,
}

/// The run so far, second by second.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Seconds {
    /// End to end in each second of following.
    pub latency: Vec<LatencySecond>,
    /// Events reaching Kafka in each of those seconds.
    pub kafka: Vec<u64>,
}

/// What a snapshot shows besides the join.
#[derive(Debug, Clone, Default)]
pub(crate) struct Live {
    /// Seconds since following began.
    pub elapsed_s: f64,
    /// Events reaching Kafka per second, lately.
    pub kafka_per_s: f64,
    /// Events receipted per second, lately.
    pub done_per_s: f64,
    /// Receipts per second, per second of observation.
    pub done_history: Vec<u64>,
    /// End-to-end p99 (ms), per second of observation.
    pub p99_history: Vec<u64>,
    /// Every second so far.
    pub seconds: Arc<Seconds>,
}

impl Snapshot {
    /// The snapshot of `join` for `run` in `phase`.
    pub(crate) fn of(
        run: &RunInfo,
        join: &Join,
        phase: Phase,
        live: Live,
        backlog: &Backlog,
    ) -> Self {
        let c = join.counts();
        let mut stages = join.measurements.summaries(false);
        let by_type = std::mem::take(&mut stages[Stage::EndToEnd.index()].by_type);
        for s in &mut stages {
            s.by_type.clear();
        }
        Snapshot {
            run: run.clone(),
            elapsed_s: live.elapsed_s,
            phase,
            expected: c.expected,
            on_kafka: c.kafka,
            kafka_duplicates: c.kafka_duplicates,
            receipts: c.receipts,
            matched: c.matched,
            done_per_s: live.done_per_s,
            kafka_per_s: live.kafka_per_s,
            skewed: stages.iter().map(|s| s.skewed).sum(),
            stages,
            by_type,
            done_history: live.done_history,
            p99_history: live.p99_history,
            backlog: backlog.clone(),
            recent: join.recent().cloned().collect(),
            t2_kind: join.t2().label().to_owned(),
            label: String::new(),
            seconds: live.seconds,
            last_verified_us: None,
            buckets: None,
        }
    }

    /// The summary of `stage`.
    pub(crate) fn stage(&self, stage: Stage) -> Option<&StageSummary> {
        self.stages.iter().find(|s| s.name == stage.as_str())
    }
}

/// `unknown` for an unknown value.
pub(crate) fn known<T: fmt::Display>(v: Option<T>, unit: &str) -> String {
    v.map_or_else(|| "unknown".into(), |v| format!("{v}{unit}"))
}

/// The one-line progress shown without a terminal.
pub(crate) fn progress_line(s: &Snapshot) -> String {
    let e2e = s.stage(Stage::EndToEnd).filter(|e| e.count > 0);
    let pct = if s.expected == 0 {
        0.0
    } else {
        100.0 * s.receipts as f64 / s.expected as f64
    };
    let label = if s.label.is_empty() {
        String::new()
    } else {
        format!("{} · ", s.label)
    };
    format!(
        "{label}run {} [{}] {:.0}s: {}/{} in MongoDB ({pct:.1}%), {} on Kafka (+{} dup), {:.0} ev/s; e2e p50 {} p99 {}; backlog: slot {}, processor lag {}, oldest unmatched {}",
        s.run.run_id,
        s.phase,
        s.elapsed_s,
        s.receipts,
        s.expected,
        s.on_kafka,
        s.kafka_duplicates,
        s.done_per_s,
        e2e.and_then(|e| e.p50_ms).map_or("-".into(), |v| format!("{v:.1} ms")),
        e2e.and_then(|e| e.p99_ms).map_or("-".into(), |v| format!("{v:.1} ms")),
        known(s.backlog.slot_lag_bytes, " B"),
        known(s.backlog.processor_lag, ""),
        s.backlog
            .oldest_unmatched_s
            .map_or("-".into(), |a| format!("{a:.1} s")),
    ) + &down_note(&s.backlog.down)
}

/// `; DOWN: Kafka Connect at 127.0.0.1:8083 down for 12 s`, or nothing when every part answers.
fn down_note(down: &[String]) -> String {
    if down.is_empty() {
        String::new()
    } else {
        format!("; DOWN: {}", down.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_read_as_before() {
        let json = |p: Phase| serde_json::to_string(&p).unwrap();
        assert_eq!(json(Phase::Following), "\"following\"");
        assert_eq!(json(Phase::Done), "\"done\"");
        assert_eq!(
            json(Phase::Waiting { after: 41 }),
            "\"waiting for the run after run 41\""
        );
    }

    #[test]
    fn an_unknown_backlog_is_said_so_not_zero() {
        let mut s = Snapshot {
            phase: Phase::Following,
            ..Snapshot::default()
        };
        s.run.run_id = 7;
        let line = progress_line(&s);
        assert!(
            line.contains("slot unknown, processor lag unknown"),
            "{line}"
        );
        s.backlog.slot_lag_bytes = Some(0);
        s.backlog.processor_lag = Some(12);
        let line = progress_line(&s);
        assert!(line.contains("slot 0 B, processor lag 12,"), "{line}");
        assert!(
            line.starts_with("run 7 [following] 0s: 0/0 in MongoDB"),
            "{line}"
        );
        assert!(!line.contains("DOWN"), "{line}");
        s.backlog.down = vec!["Kafka Connect at 127.0.0.1:8083 down for 12 s".into()];
        let line = progress_line(&s);
        assert!(
            line.ends_with("; DOWN: Kafka Connect at 127.0.0.1:8083 down for 12 s"),
            "{line}"
        );
    }
}
