//! The processor's measurements: Prometheus counters and histograms for `/metrics`, and an
//! interval HdrHistogram of end-to-end latency for the periodic summary line.
//!
//! Stage durations follow `docs/design.md`: commit `t0c-t0`, capture `t1-t0c`, publish `t2-t1`,
//! queue `t3-t2`, process `t5-t3`, end_to_end `t5-t0` (from `t_sched` in rate mode). A negative
//! duration is counted as clock skew for its stage and not put into a histogram; nothing is
//! dropped silently. Stages that need the Kafka timestamp are skipped only for records without
//! one, and those are counted too.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use events::stages::{self, latency_histogram, PerStage, Sample, Stage, T2Census, T2Kind};
use events::EventType;
use hdrhistogram::Histogram as Hdr;
use telemetry::prom::{self, Histogram};

use crate::decode::{RejectionKind, Stamps};

const LATENCY_BOUNDS_S: [f64; 14] = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0,
];
const BATCH_BOUNDS: [f64; 9] = [1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2000.0, 5000.0];

/// One summary period's figures.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Seconds the period lasted.
    pub seconds: f64,
    /// Events applied in it (replays included).
    pub events: u64,
    /// Records dead-lettered in it.
    pub dead_lettered: u64,
    /// End-to-end percentiles in ms (`None` with no samples).
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Negative stage durations seen in the period.
    pub skewed: u64,
}

impl Summary {
    /// The log line.
    pub fn line(&self) -> String {
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1} ms"));
        let total = self.events + self.dead_lettered;
        let error_pct = if total == 0 {
            0.0
        } else {
            100.0 * self.dead_lettered as f64 / total as f64
        };
        format!(
            "{} events in {:.1} s ({:.1}/s); end-to-end p50 {} p95 {} p99 {}; {} dead-lettered ({:.2}% errors); {} clock-skewed samples",
            self.events,
            self.seconds,
            self.events as f64 / self.seconds.max(1e-9),
            ms(self.p50_ms),
            ms(self.p95_ms),
            ms(self.p99_ms),
            self.dead_lettered,
            error_pct,
            self.skewed,
        )
    }
}

#[derive(Debug)]
struct Inner {
    /// Per event type: applied for the first time, and replayed (already had a receipt).
    applied: [u64; 3],
    replayed: [u64; 3],
    dead_lettered: BTreeMap<RejectionKind, u64>,
    batches: Histogram,
    stages: PerStage<Histogram>,
    skew: PerStage<u64>,
    no_kafka_timestamp: u64,
    /// Records received, by the kind of their Kafka timestamp.
    t2: T2Census,
    below_resolution: u64,
    store_retries: u64,
    kafka_errors: u64,
    assigned_partitions: usize,
    period: Period,
}

impl Inner {
    /// The batch-size histogram, the stage histograms and the skew counters per stage.
    fn render_histograms(&self, out: &mut String) {
        let batches = "processor_batch_records";
        prom::header(out, batches, "histogram", "Records per applied batch.");
        self.batches.write(out, batches, &[]);
        let latency = "processor_stage_latency_seconds";
        prom::header(out, latency, "histogram", "Duration of each pipeline stage per event (docs/design.md, Timestamps); negative durations are counted in processor_clock_skew_total instead.");
        for (stage, h) in self.stages.iter() {
            h.write(out, latency, &[("stage", stage.as_str())]);
        }
        prom::family(
            out,
            "processor_clock_skew_total",
            "counter",
            "Stage durations that came out negative (clocks disagree), by stage.",
            self.skew
                .iter()
                .map(|(stage, n)| (vec![("stage", stage.as_str())], *n as f64)),
        );
    }
}

#[derive(Debug)]
struct Period {
    started: Instant,
    events: u64,
    dead_lettered: u64,
    skewed: u64,
    end_to_end_us: Hdr<u64>,
}

impl Period {
    fn new() -> Self {
        Self {
            started: Instant::now(),
            events: 0,
            dead_lettered: 0,
            skewed: 0,
            end_to_end_us: latency_histogram(),
        }
    }
}

/// The processor's metrics, shared by the consume loop and the HTTP endpoint.
#[derive(Debug)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Empty metrics.
    pub fn new() -> Self {
        Self {
            inner: Mutex::new(Inner {
                applied: [0; 3],
                replayed: [0; 3],
                dead_lettered: RejectionKind::ALL.iter().map(|k| (*k, 0)).collect(),
                batches: Histogram::new(&BATCH_BOUNDS),
                stages: PerStage::from_fn(|_| Histogram::new(&LATENCY_BOUNDS_S)),
                skew: PerStage::default(),
                no_kafka_timestamp: 0,
                t2: T2Census::default(),
                below_resolution: 0,
                store_retries: 0,
                kafka_errors: 0,
                assigned_partitions: 0,
                period: Period::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records one applied event. `replayed`: it already had a receipt.
    pub fn event(&self, t: EventType, stamps: &Stamps, t3: i64, t5: i64, replayed: bool) {
        let mut m = self.lock();
        if replayed {
            m.replayed[t.index()] += 1;
        } else {
            m.applied[t.index()] += 1;
        }
        m.period.events += 1;
        if stamps.t2.is_none() {
            m.no_kafka_timestamp += 1;
        }
        for (stage, d) in stamps.durations(t3, t5).iter() {
            let Some(d) = *d else { continue };
            let d = match stages::judge(stage, d) {
                Sample::Measured(d) => d,
                Sample::BelowResolution => {
                    m.below_resolution += 1;
                    0
                }
                Sample::Skewed(_) => {
                    m.skew[stage] += 1;
                    m.period.skewed += 1;
                    continue;
                }
            };
            m.stages[stage].observe(d as f64 / 1e6);
            if stage == Stage::EndToEnd {
                m.period.end_to_end_us.saturating_record(d.max(1) as u64);
            }
        }
    }

    /// Counts one record received by the kind of its Kafka timestamp.
    pub fn timestamp(&self, kind: T2Kind) {
        self.lock().t2.add(kind);
    }

    /// Records one dead-lettered record.
    pub fn dead_lettered(&self, kind: RejectionKind) {
        let mut m = self.lock();
        *m.dead_lettered.entry(kind).or_insert(0) += 1;
        m.period.dead_lettered += 1;
    }

    /// Records the size of a batch.
    pub fn batch(&self, records: usize) {
        self.lock().batches.observe(records as f64);
    }

    /// Records a failed store attempt that will be retried.
    pub fn store_retry(&self) {
        self.lock().store_retries += 1;
    }

    /// Records an error reported by the Kafka client.
    pub fn kafka_error(&self) {
        self.lock().kafka_errors += 1;
    }

    /// Records how many partitions of the CDC topic this instance owns now (0 after a revoke).
    pub fn assigned(&self, partitions: usize) {
        self.lock().assigned_partitions = partitions;
    }

    /// Events applied since the start, replays included.
    pub fn events_total(&self) -> u64 {
        let m = self.lock();
        m.applied.iter().chain(m.replayed.iter()).sum()
    }

    /// Ends the current summary period and returns its figures.
    pub fn take_summary(&self) -> Summary {
        let mut m = self.lock();
        let p = std::mem::replace(&mut m.period, Period::new());
        let q = |q: f64| {
            (!p.end_to_end_us.is_empty())
                .then(|| p.end_to_end_us.value_at_quantile(q) as f64 / 1000.0)
        };
        Summary {
            seconds: p.started.elapsed().as_secs_f64(),
            events: p.events,
            dead_lettered: p.dead_lettered,
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            skewed: p.skewed,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut out = String::with_capacity(8192);
        prom::family(
            &mut out,
            "processor_events_total",
            "counter",
            "Events applied to MongoDB, by type and outcome (applied: first time; replayed: already had a receipt, changed nothing).",
            EventType::ALL.iter().flat_map(|t| {
                [("applied", m.applied[t.index()]), ("replayed", m.replayed[t.index()])]
                    .map(|(o, n)| (vec![("event_type", t.as_str()), ("outcome", o)], n as f64))
            }),
        );
        prom::family(
            &mut out,
            "processor_dead_letters_total",
            "counter",
            "Records sent to the dead-letter topic, by reason.",
            m.dead_lettered
                .iter()
                .map(|(kind, n)| (vec![("reason", kind.as_str())], *n as f64)),
        );
        m.render_histograms(&mut out);
        prom::family(
            &mut out,
            "processor_records_by_timestamp_type_total",
            "counter",
            "Records received by what their Kafka timestamp (t2) is: log_append_time (the broker's append), create_time (the producer's creation, before its linger and the broker), none.",
            T2Kind::ALL.map(|k| (vec![("type", k.as_str())], m.t2.count(k) as f64)),
        );
        for (name, help, v) in [
            ("processor_records_without_kafka_timestamp_total", "Records without a Kafka timestamp (publish and queue stages not measured for them).", m.no_kafka_timestamp),
            ("processor_publish_below_resolution_total", "Publish durations (t2-t1) between -1 ms and 0: Kafka timestamps have millisecond resolution, so these are recorded as 0, not as skew.", m.below_resolution),
            ("processor_store_retries_total", "Batches whose MongoDB writes failed and were retried.", m.store_retries),
            ("processor_kafka_errors_total", "Errors reported by the Kafka client.", m.kafka_errors),
        ] {
            prom::single(&mut out, name, "counter", help, v as f64);
        }
        prom::single(
            &mut out,
            "processor_assigned_partitions",
            "gauge",
            "Partitions of the CDC topic this instance consumes now (0 until the group assigns them).",
            m.assigned_partitions as f64,
        );
        out
    }
}

/// Linux's user-visible clock tick (`USER_HZ`, what `/proc/<pid>/stat` counts in): 100 on
/// every architecture this runs on.
const USER_HZ: f64 = 100.0;

/// The CPU time (user + system, seconds) in a `/proc/<pid>/stat` line, or `None` when the line
/// is not one.
pub fn cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}

/// The shutdown line on what the process cost: `cpu 1.20 s for 20000 events (0.060 s per
/// 1,000)`.
pub fn cpu_line(cpu_s: f64, events: u64) -> String {
    if events == 0 {
        return format!("cpu {cpu_s:.2} s (user + system) for 0 events");
    }
    format!(
        "cpu {cpu_s:.2} s (user + system) for {events} events ({:.3} s per 1,000)",
        cpu_s * 1000.0 / events as f64
    )
}

/// One line of `METRICS_FILE` for an applied event (JSON, newline-terminated). Times are µs
/// since the epoch; `t1_kafka` is the Kafka record timestamp (`t2` in `docs/design.md`), or Debezium's
/// read time when the record has none.
pub fn metrics_file_line(id: &uuid::Uuid, t: EventType, s: &Stamps, t3: i64, t5: i64) -> String {
    let t1_kafka = s.t2.unwrap_or(s.t1);
    let ms = |us: i64| us as f64 / 1000.0;
    let timestamp = chrono::DateTime::from_timestamp_micros(t5)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
        .unwrap_or_default();
    let mut line = serde_json::json!({
        "event_id": id.to_string(),
        "event_type": t.as_str(),
        "t0_created": s.t0,
        "t1_kafka": t1_kafka,
        "t3_start": t3,
        "t5_end": t5,
        "kafka_lag_ms": ms(t3 - t1_kafka),
        "processing_time_ms": ms(t5 - t3),
        "total_latency_ms": ms(t5 - s.t_sched.unwrap_or(s.t0)),
        "timestamp": timestamp,
    })
    .to_string();
    line.push('\n');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamps() -> Stamps {
        Stamps {
            t_sched: None,
            t0: 1_000,
            t0c: 1_500,
            t1: 3_000,
            t2: Some(4_000),
        }
    }

    #[test]
    fn negative_durations_are_counted_as_skew_not_dropped() {
        let m = Metrics::new();
        // the Kafka timestamp is 1 ms earlier than Debezium's read time: publish is negative
        let skewed = Stamps {
            t2: Some(2_000),
            ..stamps()
        };
        // 0.5 ms earlier: within the millisecond resolution of t2, recorded as 0
        let truncated = Stamps {
            t2: Some(2_500),
            t1: 3_000,
            ..stamps()
        };
        m.event(EventType::UserCreated, &truncated, 6_000, 10_000, false);
        assert!(m
            .render()
            .contains("processor_publish_below_resolution_total 1\n"));
        m.take_summary();
        m.event(EventType::UserCreated, &skewed, 6_000, 10_000, false);
        m.event(EventType::ActivityCreated, &stamps(), 6_000, 10_000, true);
        let text = m.render();
        assert!(
            text.contains("processor_clock_skew_total{stage=\"publish\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("processor_stage_latency_seconds_count{stage=\"publish\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("processor_stage_latency_seconds_count{stage=\"end_to_end\"} 3\n"),
            "{text}"
        );
        assert!(text.contains(
            "processor_events_total{event_type=\"UserCreated\",outcome=\"applied\"} 2\n"
        ));
        assert!(text.contains(
            "processor_events_total{event_type=\"ActivityCreated\",outcome=\"replayed\"} 1\n"
        ));
        let s = m.take_summary();
        assert_eq!((s.events, s.skewed), (2, 1));
        // HdrHistogram with 3 significant digits: within 0.1% of 9 ms
        let p50 = s.p50_ms.unwrap();
        assert!((9.0..=9.009).contains(&p50), "{p50}");
        assert_eq!(m.take_summary().events, 0, "a summary starts a new period");
    }

    #[test]
    fn assigned_partitions_follow_the_rebalances() {
        let m = Metrics::new();
        assert!(m.render().contains("processor_assigned_partitions 0\n"));
        m.assigned(3);
        assert!(m.render().contains("processor_assigned_partitions 3\n"));
        m.assigned(0);
        assert!(m.render().contains("processor_assigned_partitions 0\n"));
    }

    #[test]
    fn records_are_counted_by_the_kind_of_their_timestamp() {
        let m = Metrics::new();
        m.timestamp(T2Kind::LogAppendTime);
        m.timestamp(T2Kind::LogAppendTime);
        m.timestamp(T2Kind::None);
        let text = m.render();
        for line in [
            "processor_records_by_timestamp_type_total{type=\"log_append_time\"} 2\n",
            "processor_records_by_timestamp_type_total{type=\"create_time\"} 0\n",
            "processor_records_by_timestamp_type_total{type=\"none\"} 1\n",
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn dead_letters_are_counted_by_reason() {
        let m = Metrics::new();
        m.dead_lettered(RejectionKind::InvalidPayload);
        m.dead_lettered(RejectionKind::InvalidPayload);
        m.dead_lettered(RejectionKind::UnknownEventType);
        let text = m.render();
        assert!(text.contains("processor_dead_letters_total{reason=\"invalid_payload\"} 2\n"));
        assert!(text.contains("processor_dead_letters_total{reason=\"not_an_insert\"} 0\n"));
        let s = m.take_summary();
        assert!(
            s.line().contains("3 dead-lettered (100.00% errors)"),
            "{}",
            s.line()
        );
    }

    #[test]
    fn a_metrics_file_line_has_every_field() {
        let id = uuid::Uuid::from_u128(7);
        let line = metrics_file_line(&id, EventType::ParticipantJoined, &stamps(), 6_000, 10_000);
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event_id"], id.to_string());
        assert_eq!(v["event_type"], "ParticipantJoined");
        assert_eq!(
            (v["t0_created"].as_i64(), v["t1_kafka"].as_i64()),
            (Some(1_000), Some(4_000))
        );
        assert_eq!(
            (v["t3_start"].as_i64(), v["t5_end"].as_i64()),
            (Some(6_000), Some(10_000))
        );
        assert_eq!(v["kafka_lag_ms"].as_f64(), Some(2.0));
        assert_eq!(v["processing_time_ms"].as_f64(), Some(4.0));
        assert_eq!(v["total_latency_ms"].as_f64(), Some(9.0));
        assert_eq!(v["timestamp"], "1970-01-01T00:00:00.010000Z");
    }

    #[test]
    fn cpu_is_read_from_a_stat_line() {
        // a command name with a space and a parenthesis; utime 150, stime 50 ticks
        let stat =
            "4242 (event proc) S 1 4242 4242 0 -1 4194560 900 0 0 0 150 50 0 0 20 0 6 0 1 2 3";
        assert_eq!(cpu_seconds(stat), Some(2.0));
        assert_eq!(cpu_seconds("garbage"), None);
        assert_eq!(cpu_seconds("1 (x) S 1 2"), None);
        assert_eq!(
            cpu_line(1.2, 20_000),
            "cpu 1.20 s (user + system) for 20000 events (0.060 s per 1,000)"
        );
        assert!(cpu_line(0.5, 0).ends_with("for 0 events"));
    }
}
