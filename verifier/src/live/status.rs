//! `/metrics` (Prometheus text) and `/status` (JSON) from the latest snapshot (pure).

use telemetry::http::Response;
use telemetry::prom;

use crate::live::view::Snapshot;

/// The response to `path`, or `None` (404).
pub(crate) fn route(path: &str, s: &Snapshot) -> Option<Response> {
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

/// One gauge family, each sample labelled with the run first.
fn gauge<'a>(
    o: &mut String,
    run: &'a str,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (Vec<(&'a str, &'a str)>, f64)>,
) {
    let labelled = samples.into_iter().map(|(labels, v)| {
        let mut all = vec![("run_id", run)];
        all.extend(labels);
        (all, v)
    });
    prom::family(o, name, "gauge", help, labelled);
}

/// The Prometheus exposition of a snapshot.
pub(crate) fn metrics(s: &Snapshot) -> String {
    let mut o = String::with_capacity(4096);
    let run = s.run.run_id.to_string();
    counts(&mut o, &run, s);
    stages(&mut o, &run, s);
    backlog(&mut o, &run, s);
    gauge(
        &mut o,
        &run,
        "verifier_throughput_events_per_second",
        "Events per second over the last 5 s, by where they arrived.",
        [
            (vec![("at", "kafka")], s.kafka_per_s),
            (vec![("at", "mongodb")], s.done_per_s),
        ],
    );
    o
}

fn counts<'a>(o: &mut String, run: &'a str, s: &'a Snapshot) {
    gauge(
        o,
        run,
        "verifier_events",
        "Events of the run: expected, distinct on Kafka, receipted in MongoDB, matched (both).",
        [
            ("expected", s.expected),
            ("on_kafka", s.on_kafka),
            ("receipted", s.receipts),
            ("matched", s.matched),
        ]
        .map(|(state, v)| (vec![("state", state)], v as f64)),
    );
    gauge(
        o,
        run,
        "verifier_kafka_duplicates",
        "Extra copies of the run's events seen on Kafka (at-least-once delivery).",
        [(vec![], s.kafka_duplicates as f64)],
    );
}

fn stages<'a>(o: &mut String, run: &'a str, s: &'a Snapshot) {
    gauge(
        o,
        run,
        "verifier_stage_latency_ms",
        "Stage latency percentiles of the run so far, ms (HdrHistogram).",
        s.stages.iter().flat_map(|st| {
            [
                ("0.5", st.p50_ms),
                ("0.95", st.p95_ms),
                ("0.99", st.p99_ms),
                ("0.999", st.p999_ms),
                ("1", st.max_ms),
            ]
            // A stage without samples has no percentile: no sample line, rather than a 0.
            .map(|(q, v)| v.map(|v| (vec![("stage", st.name.as_str()), ("quantile", q)], v)))
            .into_iter()
            .flatten()
        }),
    );
    gauge(
        o,
        run,
        "verifier_stage_samples",
        "Samples in each stage's histogram.",
        s.stages
            .iter()
            .map(|st| (vec![("stage", st.name.as_str())], st.count as f64)),
    );
    gauge(
        o,
        run,
        "verifier_clock_skew",
        "Negative stage durations (clocks disagree), counted beside the histograms.",
        s.stages
            .iter()
            .map(|st| (vec![("stage", st.name.as_str())], st.skewed as f64)),
    );
}

fn backlog<'a>(o: &mut String, run: &'a str, s: &'a Snapshot) {
    let b = &s.backlog;
    let known = [
        ("slot_lag_bytes", b.slot_lag_bytes.map(|v| v as f64)),
        ("processor_lag", b.processor_lag.map(|v| v as f64)),
        ("not_on_kafka", Some(b.not_on_kafka as f64)),
        ("awaiting_receipt", Some(b.awaiting_receipt as f64)),
        ("unmatched", Some(b.unmatched as f64)),
    ];
    // An unknown figure has no sample at all, rather than a 0.
    gauge(
        o,
        run,
        "verifier_backlog",
        "Backlog per stage: slot_lag_bytes (WAL not confirmed by Debezium), processor_lag (records not committed by the processor group), not_on_kafka, awaiting_receipt, unmatched (events).",
        known
            .into_iter()
            .filter_map(|(what, v)| Some((vec![("what", what)], v?))),
    );
    gauge(
        o,
        run,
        "verifier_oldest_unmatched_seconds",
        "Age of the oldest event not yet matched (0 when none).",
        [(vec![], b.oldest_unmatched_s.unwrap_or(0.0))],
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::measure::StageSummary;

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
            p99_ms: Some(12.5),
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
