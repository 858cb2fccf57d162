//! What the daemon answers over HTTP (pure, given its book and its live runs): `/api/runs`,
//! `/api/runs/N` and `/metrics`. Every route only reads.

use telemetry::http::Response;
use telemetry::prom;

use std::sync::Arc;

use super::book::{Book, Row};
use crate::view::Snapshot;

/// What the routes read: the book, the rows of the runs being followed, and run N's finished
/// report.json (from the folder).
pub(crate) struct View<'a, F: Fn(i64) -> Option<String>> {
    /// Finished runs.
    pub book: &'a Book,
    /// The runs being followed, with their latest snapshot.
    pub live: Vec<(Row, Arc<Snapshot>)>,
    /// A finished run's report.json.
    pub report: F,
}

fn json(body: String) -> Option<Response> {
    Some(Response {
        content_type: "application/json",
        body,
    })
}

/// The response to `path`, or `None` (404).
pub(crate) fn route<F: Fn(i64) -> Option<String>>(path: &str, v: &View<'_, F>) -> Option<Response> {
    match path {
        "/api/runs" => {
            let rows = v.book.rows(v.live.iter().map(|(r, _)| r.clone()));
            json(serde_json::to_string(&rows).expect("rows serialise"))
        }
        "/metrics" => Some(Response {
            content_type: prom::CONTENT_TYPE,
            body: metrics(v),
        }),
        _ => {
            let id: i64 = path.strip_prefix("/api/runs/")?.parse().ok()?;
            if let Some((row, snapshot)) = v.live.iter().find(|(r, _)| r.run_id == id) {
                let live =
                    serde_json::json!({"state": "following", "row": row, "live": &**snapshot});
                return json(live.to_string());
            }
            (v.report)(id).and_then(json)
        }
    }
}

/// The Prometheus exposition: counters over every finished run, runs by state, and the newest
/// run being followed as an info gauge (no run id on any other family: per-run detail is in
/// the JSON API and the reports).
pub(crate) fn metrics<F: Fn(i64) -> Option<String>>(v: &View<'_, F>) -> String {
    let t = v.book.totals();
    let mut o = String::with_capacity(2048);
    for (name, help, value) in [
        (
            "verifier_events_verified_total",
            "Events of finished runs seen on Kafka and receipted in the store.",
            t.verified,
        ),
        (
            "verifier_events_lost_total",
            "Events of finished runs proven lost.",
            t.lost,
        ),
        (
            "verifier_events_applied_twice_total",
            "Events of finished runs applied twice, found by the state audit.",
            t.applied_twice,
        ),
        (
            "verifier_kafka_duplicates_total",
            "Extra copies of finished runs' events on Kafka (at-least-once delivery).",
            t.kafka_duplicates,
        ),
    ] {
        prom::single(&mut o, name, "counter", help, value as f64);
    }
    let following = v.live.len() as u64;
    let states = ["following", "pass", "fail", "incomplete"].map(|s| {
        let n = if s == "following" {
            following
        } else {
            t.runs.get(s).copied().unwrap_or(0)
        };
        (vec![("state", s)], n as f64)
    });
    prom::family(
        &mut o,
        "verifier_runs",
        "gauge",
        "Runs by state: being followed, or finished with their verdict.",
        states,
    );
    let newest = v.live.iter().map(|(r, _)| r.run_id).max();
    let id = newest.map(|n| n.to_string());
    prom::family(
        &mut o,
        "verifier_current_run_info",
        "gauge",
        "The newest run being followed (1 while one is).",
        id.as_deref().map(|id| (vec![("run_id", id)], 1.0)),
    );
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::book::{row, FOLLOWING};

    fn get<F: Fn(i64) -> Option<String>>(path: &str, v: &View<'_, F>) -> String {
        route(path, v).map(|r| r.body).unwrap_or_default()
    }

    #[test]
    fn runs_are_listed_and_each_answers_live_or_finished() {
        let book = Book::new(1, [row(1, "pass", 10, Some(0))]);
        let v = View {
            book: &book,
            live: vec![(row(2, FOLLOWING, 4, None), Arc::new(Snapshot::default()))],
            report: |id| (id == 1).then(|| "{\"verdict\":\"pass\"}".to_owned()),
        };
        let runs: Vec<Row> = serde_json::from_str(&get("/api/runs", &v)).unwrap();
        assert_eq!(runs.iter().map(|r| r.run_id).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(runs[0].lost, None, "a live run's lost is unknown, not 0");
        let live: serde_json::Value = serde_json::from_str(&get("/api/runs/2", &v)).unwrap();
        assert_eq!(live["state"], "following");
        assert_eq!(live["row"]["matched"], 4);
        assert_eq!(live["live"]["run"]["run_id"], 0);
        assert_eq!(get("/api/runs/1", &v), "{\"verdict\":\"pass\"}");
        assert!(route("/api/runs/3", &v).is_none());
        assert!(route("/api/runs/x", &v).is_none());
        assert!(route("/nowhere", &v).is_none());
    }

    #[test]
    fn metrics_count_finished_runs_and_name_the_current_one_only_in_an_info_gauge() {
        let book = Book::new(1, [row(1, "pass", 10, Some(0)), row(2, "fail", 7, Some(3))]);
        let v = View {
            book: &book,
            live: vec![(row(3, FOLLOWING, 1, None), Arc::new(Snapshot::default()))],
            report: |_| None,
        };
        let m = metrics(&v);
        assert!(m.contains("verifier_events_verified_total 17\n"), "{m}");
        assert!(m.contains("verifier_events_lost_total 3\n"), "{m}");
        assert!(m.contains("verifier_runs{state=\"following\"} 1\n"), "{m}");
        assert!(m.contains("verifier_runs{state=\"fail\"} 1\n"), "{m}");
        assert!(
            m.contains("verifier_current_run_info{run_id=\"3\"} 1\n"),
            "{m}"
        );
        assert_eq!(m.matches("run_id=").count(), 1, "{m}");
    }
}
