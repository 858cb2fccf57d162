//! What the daemon answers over HTTP (pure, given its book and its live runs): the web page
//! (`/`, `/runs/N` and their fragments, [`super::web`]), `/api/runs`, `/api/runs/N`,
//! `/api/health` and `/metrics`. Every route only reads.

use telemetry::http::Response;
use telemetry::prom;

use std::sync::Arc;

use super::book::{Book, Row};
use super::web;
use crate::view::Snapshot;

/// What the routes read: the book, the rows of the runs being followed, the parts that do not
/// answer, and a finished run's files (from the folder).
pub(crate) struct View<'a, F: Fn(i64, &str) -> Option<String>> {
    /// Finished runs.
    pub book: &'a Book,
    /// The runs being followed, with their latest snapshot.
    pub live: Vec<(Row, Arc<Snapshot>)>,
    /// Each part that does not answer, with its address and for how long.
    pub down: Vec<String>,
    /// Whether runs may be started from the page.
    pub start_allowed: bool,
    /// A finished run's file (`report.json`, `report.html`).
    pub file: F,
}

const HTML: &str = "text/html; charset=utf-8";

/// An HTML response.
pub(super) fn html_response(body: String) -> Response {
    Response {
        content_type: HTML,
        body,
    }
}

/// A JSON response.
pub(super) fn json_response(body: String) -> Response {
    Response {
        content_type: "application/json",
        body,
    }
}

fn html(body: String) -> Option<Response> {
    Some(html_response(body))
}

fn json(body: String) -> Option<Response> {
    Some(json_response(body))
}

/// The response to `path`, or `None` (404).
pub(crate) fn route<F: Fn(i64, &str) -> Option<String>>(
    path: &str,
    v: &View<'_, F>,
) -> Option<Response> {
    let rows = || v.book.rows(v.live.iter().map(|(r, _)| r.clone()));
    let first = v.book.first_run;
    match path {
        "/" => html(web::runs_page(&rows(), &v.down, first, v.start_allowed)),
        "/fragment/runs" => html(web::runs_fragment(&rows(), &v.down, first)),
        "/api/runs" => json(serde_json::to_string(&rows()).expect("rows serialise")),
        "/favicon.ico" => Some(Response {
            content_type: "image/svg+xml",
            body: web::ICON.to_owned(),
        }),
        "/api/health" => json(serde_json::json!({ "down": v.down }).to_string()),
        "/metrics" => Some(Response {
            content_type: prom::CONTENT_TYPE,
            body: metrics(v),
        }),
        _ => run_route(path, v),
    }
}

/// A run being followed, in report.json's shape as far as it is known: its `run`, `counts`,
/// `stages`, `by_type` and `latency_per_second` so far; `verdict` null (and no `integrity` or
/// `slo_checks`) until it is finished. Besides: `state` (`following`), `phase`, `elapsed_s`,
/// the `backlog` per stage and the run's `row` in the list.
fn live_report(row: &Row, s: &Snapshot) -> serde_json::Value {
    serde_json::json!({
        "schema": crate::report::SCHEMA,
        "state": "following",
        "verdict": null,
        "run": s.run,
        "phase": s.phase,
        "elapsed_s": s.elapsed_s,
        "counts": {
            "expected": s.expected,
            "kafka": s.on_kafka,
            "kafka_duplicates": s.kafka_duplicates,
            "receipts": s.receipts,
            "matched": s.matched,
        },
        "stages": s.stages,
        "by_type": s.by_type,
        "latency_per_second": s.seconds.latency,
        "backlog": s.backlog,
        "row": row,
    })
}

/// Whether run `id` is one the daemon will follow but has not yet (just written, or a page
/// opened on it before it starts): its page waits for it.
fn waiting<F: Fn(i64, &str) -> Option<String>>(id: i64, v: &View<'_, F>) -> bool {
    id >= v.book.first_run && !v.book.done.contains_key(&id)
}

/// `/runs/N`, `/fragment/runs/N` and `/api/runs/N`: live while the run is followed, else its
/// finished files; a run not followed yet waits.
fn run_route<F: Fn(i64, &str) -> Option<String>>(path: &str, v: &View<'_, F>) -> Option<Response> {
    let (kind, id) = path.strip_prefix('/')?.rsplit_once('/')?;
    let id: i64 = id.parse().ok()?;
    let live = v.live.iter().find(|(r, _)| r.run_id == id);
    match (kind, live) {
        ("runs", Some((_, s))) => html(web::live_page(id, s, &v.down)),
        ("fragment/runs", Some((_, s))) => html(web::live_fragment(id, s, &v.down)),
        ("api/runs", Some((row, s))) => json(live_report(row, s).to_string()),
        ("runs", None) => match (v.file)(id, "report.html") {
            Some(report) => html(web::finished_page(id, &report)),
            None => waiting(id, v)
                .then(|| web::live_page(id, &Snapshot::default(), &v.down))
                .and_then(html),
        },
        ("fragment/runs", None) if v.book.done.contains_key(&id) => html(web::FINISHED.to_owned()),
        ("fragment/runs", None) => waiting(id, v)
            .then(|| web::live_fragment(id, &Snapshot::default(), &v.down))
            .and_then(html),
        ("api/runs", None) => (v.file)(id, "report.json").and_then(json),
        _ => None,
    }
}

/// The Prometheus exposition: counters over every finished run, runs by state, and the newest
/// run being followed as an info gauge (no run id on any other family: per-run detail is in
/// the JSON API and the reports).
pub(crate) fn metrics<F: Fn(i64, &str) -> Option<String>>(v: &View<'_, F>) -> String {
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
    v.book.latency.write(&mut o);
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::book::{book, row, FOLLOWING};

    fn get<F: Fn(i64, &str) -> Option<String>>(path: &str, v: &View<'_, F>) -> String {
        route(path, v).map(|r| r.body).unwrap_or_default()
    }

    #[test]
    fn runs_are_listed_and_each_answers_live_or_finished() {
        let book = book(1, [row(1, "pass", 10, Some(0))]);
        let v = View {
            book: &book,
            live: vec![(row(2, FOLLOWING, 4, None), Arc::new(Snapshot::default()))],
            down: vec!["Kafka at 127.0.0.1:9092 down for 3 s".into()],
            start_allowed: false,
            file: |id, name| match (id, name) {
                (1, "report.json") => Some("{\"verdict\":\"pass\"}".to_owned()),
                (1, "report.html") => Some("<body>the report</body>".to_owned()),
                _ => None,
            },
        };
        let runs: Vec<Row> = serde_json::from_str(&get("/api/runs", &v)).unwrap();
        assert_eq!(runs.iter().map(|r| r.run_id).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(runs[0].lost, None, "a live run's lost is unknown, not 0");
        let live: serde_json::Value = serde_json::from_str(&get("/api/runs/2", &v)).unwrap();
        assert_eq!(live["state"], "following");
        assert_eq!(live["row"]["matched"], 4);
        assert!(
            live["verdict"].is_null() && live["integrity"].is_null(),
            "{live}"
        );
        for key in [
            "schema",
            "run",
            "counts",
            "stages",
            "latency_per_second",
            "backlog",
        ] {
            assert!(!live[key].is_null(), "{key} missing from {live}");
        }
        assert_eq!(get("/api/runs/1", &v), "{\"verdict\":\"pass\"}");
        assert!(get("/runs/1", &v).contains("the report</body>"));
        assert_eq!(get("/fragment/runs/1", &v), web::FINISHED);
        assert!(get("/runs/2", &v).contains("fetch('/fragment/runs/2'"));
        assert!(get("/fragment/runs/2", &v).contains("<h1>Run 2: "));
        assert!(get("/", &v).contains("href=\"/runs/2\""));
        let health: serde_json::Value = serde_json::from_str(&get("/api/health", &v)).unwrap();
        assert_eq!(health["down"][0], "Kafka at 127.0.0.1:9092 down for 3 s");
        assert!(get("/runs/3", &v).contains("Run 3: <span class=\"following\">starting"));
        assert!(
            get("/fragment/runs/3", &v).contains("Run 3: "),
            "not followed yet: waits"
        );
        for missing in ["/runs/0", "/fragment/runs/0", "/runs/x", "/api/runs/2/x"] {
            assert!(route(missing, &v).is_none(), "{missing}");
        }
        assert!(route("/api/runs/3", &v).is_none());
        assert!(route("/api/runs/x", &v).is_none());
        assert!(route("/nowhere", &v).is_none());
    }

    #[test]
    fn metrics_count_finished_runs_and_name_the_current_one_only_in_an_info_gauge() {
        let book = book(1, [row(1, "pass", 10, Some(0)), row(2, "fail", 7, Some(3))]);
        let v = View {
            book: &book,
            live: vec![(row(3, FOLLOWING, 1, None), Arc::new(Snapshot::default()))],
            down: Vec::new(),
            start_allowed: false,
            file: |_, _| None,
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
        assert!(
            m.contains(
                "verifier_stage_latency_seconds_bucket{stage=\"end_to_end\",le=\"0.1\"} 0\n"
            ),
            "{m}"
        );
    }
}
