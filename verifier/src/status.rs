//! `/metrics` (Prometheus text) and `/status` (JSON) from the latest snapshot (pure).

use telemetry::http::Response;
use telemetry::prom;

use crate::follow::Snapshot;

/// The response to `path`, or `None` (404).
pub fn route(path: &str, s: &Snapshot) -> Option<Response> {
    match path {
        "/metrics" => Some(Response {
            content_type: prom::CONTENT_TYPE,
            body: metrics(s),
        }),
        "/status" => Some(Response {
            content_type: "application/json",
            body: serde_json::to_string(s).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}")),
        }),
        _ => None,
    }
}

/// The Prometheus exposition of a snapshot.
pub fn metrics(s: &Snapshot) -> String {
    let mut o = String::with_capacity(4096);
    let run = s.run.run_id.to_string();
    let r = [("run_id", run.as_str())];
    prom::header(
        &mut o,
        "verifier_events",
        "gauge",
        "Events of the run: expected, distinct on Kafka, receipted in MongoDB, matched (both).",
    );
    for (state, v) in [
        ("expected", s.expected),
        ("on_kafka", s.on_kafka),
        ("receipted", s.receipts),
        ("matched", s.matched),
    ] {
        prom::sample(
            &mut o,
            "verifier_events",
            &[r[0], ("state", state)],
            v as f64,
        );
    }
    prom::header(
        &mut o,
        "verifier_kafka_duplicates",
        "gauge",
        "Extra copies of the run's events seen on Kafka (at-least-once delivery).",
    );
    prom::sample(
        &mut o,
        "verifier_kafka_duplicates",
        &r,
        s.kafka_duplicates as f64,
    );
    prom::header(
        &mut o,
        "verifier_stage_latency_ms",
        "gauge",
        "Stage latency percentiles of the run so far, ms (HdrHistogram).",
    );
    for st in &s.stages {
        for (q, v) in [
            ("0.5", st.p50_ms),
            ("0.95", st.p95_ms),
            ("0.99", st.p99_ms),
            ("0.999", st.p999_ms),
            ("1", st.max_ms),
        ] {
            prom::sample(
                &mut o,
                "verifier_stage_latency_ms",
                &[r[0], ("stage", &st.name), ("quantile", q)],
                v,
            );
        }
    }
    prom::header(
        &mut o,
        "verifier_stage_samples",
        "gauge",
        "Samples in each stage's histogram.",
    );
    for st in &s.stages {
        prom::sample(
            &mut o,
            "verifier_stage_samples",
            &[r[0], ("stage", &st.name)],
            st.count as f64,
        );
    }
    prom::header(
        &mut o,
        "verifier_clock_skew",
        "gauge",
        "Negative stage durations (clocks disagree), counted beside the histograms.",
    );
    for st in &s.stages {
        prom::sample(
            &mut o,
            "verifier_clock_skew",
            &[r[0], ("stage", &st.name)],
            st.skewed as f64,
        );
    }
    let b = &s.backlog;
    prom::header(&mut o, "verifier_backlog", "gauge", "Backlog per stage: slot_lag_bytes (WAL not confirmed by Debezium), processor_lag (records not committed by the processor group), not_on_kafka, awaiting_receipt, unmatched (events).");
    for (what, v) in [
        ("slot_lag_bytes", b.slot_lag_bytes.map(|v| v as f64)),
        ("processor_lag", b.processor_lag.map(|v| v as f64)),
        ("not_on_kafka", Some(b.not_on_kafka as f64)),
        ("awaiting_receipt", Some(b.awaiting_receipt as f64)),
        ("unmatched", Some(b.unmatched as f64)),
    ] {
        if let Some(v) = v {
            prom::sample(&mut o, "verifier_backlog", &[r[0], ("what", what)], v);
        }
    }
    prom::header(
        &mut o,
        "verifier_oldest_unmatched_seconds",
        "gauge",
        "Age of the oldest event not yet matched (0 when none).",
    );
    prom::sample(
        &mut o,
        "verifier_oldest_unmatched_seconds",
        &r,
        b.oldest_unmatched_s.unwrap_or(0.0),
    );
    prom::header(
        &mut o,
        "verifier_throughput_events_per_second",
        "gauge",
        "Events per second over the last 5 s, by where they arrived.",
    );
    prom::sample(
        &mut o,
        "verifier_throughput_events_per_second",
        &[r[0], ("at", "kafka")],
        s.kafka_per_s,
    );
    prom::sample(
        &mut o,
        "verifier_throughput_events_per_second",
        &[r[0], ("at", "mongodb")],
        s.done_per_s,
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::StageSummary;

    #[test]
    fn metrics_and_status_come_from_the_snapshot() {
        let mut s = Snapshot {
            expected: 10,
            receipts: 7,
            ..Snapshot::default()
        };
        s.run.run_id = 3;
        s.stages.push(StageSummary {
            name: "end_to_end".into(),
            p99_ms: 12.5,
            skewed: 2,
            ..StageSummary::default()
        });
        let m = metrics(&s);
        assert!(
            m.contains("verifier_events{run_id=\"3\",state=\"receipted\"} 7"),
            "{m}"
        );
        assert!(m.contains("verifier_stage_latency_ms{run_id=\"3\",stage=\"end_to_end\",quantile=\"0.99\"} 12.5"), "{m}");
        assert!(
            m.contains("verifier_clock_skew{run_id=\"3\",stage=\"end_to_end\"} 2"),
            "{m}"
        );
        let st = route("/status", &s).unwrap();
        let v: serde_json::Value = serde_json::from_str(&st.body).unwrap();
        assert_eq!(v["receipts"], 7);
        assert!(route("/nope", &s).is_none());
    }
}
