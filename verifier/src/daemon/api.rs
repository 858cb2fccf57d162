//! What the daemon answers over HTTP (pure, given its book and its live runs): the web page
//! (`/`, `/runs/N` and their fragments, [`crate::live::web`]), `/api/runs`, `/api/runs/N`,
//! `/api/health` and `/metrics`. Every route only reads.

use telemetry::http::Response;
use telemetry::prom;

use std::sync::Arc;

use super::book::{Book, Row};
use super::canary::CanaryStats;
use crate::live::view::Snapshot;
use crate::live::web;
use crate::model::slo::Slo;

/// What the routes read: the book, the rows of the runs being followed, the parts that do not
/// answer, and a finished run's files (from the folder).
pub(crate) struct View<'a, F: Fn(i64, &str) -> Option<String>> {
    /// Finished runs.
    pub book: &'a Book,
    /// The runs being followed, with their latest snapshot.
    pub live: Vec<(Row, Arc<Snapshot>)>,
    /// Each part that does not answer, with its address and for how long.
    pub down: Vec<String>,
    /// Each part the daemon probes (named with its address), and whether it answers.
    pub parts: Vec<(String, bool)>,
    /// The canary's figures.
    pub canary: CanaryStats,
    /// The objectives runs are judged by.
    pub slo: Slo,
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

/// A run the daemon will follow and has not begun to: `state` `waiting`, how many runs it
/// follows now (it follows a few at once, the oldest first), `verdict` null.
fn waiting_report<F: Fn(i64, &str) -> Option<String>>(id: i64, v: &View<'_, F>) -> String {
    serde_json::json!({
        "schema": crate::report::SCHEMA,
        "state": "waiting",
        "verdict": null,
        "run": {"run_id": id},
        "following": v.live.iter().map(|(r, _)| r.run_id).collect::<Vec<_>>(),
    })
    .to_string()
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
        ("api/runs", None) => (v.file)(id, "report.json")
            .or_else(|| waiting(id, v).then(|| waiting_report(id, v)))
            .and_then(json),
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
    let live = v.live.iter().filter_map(|(_, s)| s.buckets.as_deref());
    v.book.latency.write(&mut o, live.map(Vec::as_slice));
    let last = v
        .live
        .iter()
        .filter_map(|(_, s)| s.last_verified_us)
        .chain(v.book.last_verified_us)
        .max();
    prom::family(
        &mut o,
        "verifier_last_verified_timestamp_seconds",
        "gauge",
        "When an event was last verified (on Kafka and receipted in the store), seconds since the epoch; absent until one is, after the daemon starts.",
        last.map(|us| (Vec::<(&str, &str)>::new(), us as f64 / 1e6)),
    );
    let parts: Vec<(&str, &str, bool)> = v
        .parts
        .iter()
        .map(|(name, up)| {
            let (part, address) = part_labels(name);
            (part, address, *up)
        })
        .collect();
    prom::family(
        &mut o,
        "verifier_part_up",
        "gauge",
        "Whether each part of the pipeline the daemon probes answers (1) or not (0), probed every second.",
        parts
            .iter()
            .map(|(part, address, up)| (vec![("part", *part), ("address", *address)], f64::from(u8::from(*up)))),
    );
    let objectives = [
        ("0.5", v.slo.p50_max_ms),
        ("0.95", v.slo.p95_max_ms),
        ("0.99", v.slo.p99_max_ms),
    ];
    prom::family(
        &mut o,
        "verifier_slo_end_to_end_seconds",
        "gauge",
        "The end-to-end latency objectives runs are judged by (serve --slo), per quantile: what the alerting rules compare verifier_stage_latency_seconds with.",
        objectives
            .iter()
            .map(|(q, ms)| (vec![("quantile", *q)], ms / 1000.0)),
    );
    canary_metrics(&mut o, &v.canary);
    o
}

/// A probed part's name, `Kafka Connect at 127.0.0.1:8083`, as labels: `connect`,
/// `127.0.0.1:8083`.
fn part_labels(name: &str) -> (&'static str, &str) {
    let (what, address) = name.split_once(" at ").unwrap_or((name, ""));
    let part = match what {
        "PostgreSQL" => "postgresql",
        "Kafka" => "kafka",
        "Kafka Connect" => "connect",
        "the store" => "store",
        _ => "other",
    };
    (part, address)
}

/// The canary's families, when it runs.
fn canary_metrics(o: &mut String, c: &CanaryStats) {
    let Some(cfg) = &c.config else { return };
    prom::single(
        o,
        "verifier_canary_rate",
        "gauge",
        "Events per second the canary writes (serve --canary-rate).",
        cfg.rate,
    );
    for (name, help, value) in [
        (
            "verifier_canary_windows_total",
            "Canary runs started (one per --canary-window-s).",
            c.windows,
        ),
        (
            "verifier_canary_failures_total",
            "Canary runs that could not start or ended in an error (PostgreSQL down).",
            c.failures,
        ),
    ] {
        prom::single(o, name, "counter", help, value as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::book::book;
    use crate::live::row::{row, FOLLOWING};

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
            parts: vec![],
            canary: CanaryStats::default(),
            slo: Slo::default(),
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
        let waiting: serde_json::Value = serde_json::from_str(&get("/api/runs/3", &v)).unwrap();
        assert_eq!(waiting["state"], "waiting", "{waiting}");
        assert!(waiting["verdict"].is_null(), "{waiting}");
        assert_eq!(waiting["following"], serde_json::json!([2]));
        assert!(
            route("/api/runs/0", &v).is_none(),
            "before the first run: not its business"
        );
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
            parts: vec![],
            canary: CanaryStats::default(),
            slo: Slo::default(),
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

    #[test]
    fn live_runs_count_as_they_go_with_the_last_verified_time_parts_and_canary() {
        let mut book = book(1, [row(1, "pass", 10, Some(0))]);
        book.last_verified_us = Some(1_000_000);
        let counted = |e2e: &[u64]| -> Vec<crate::model::buckets::StageBuckets> {
            let mut h = events::stages::PerStage::from_fn(|_| events::stages::latency_histogram());
            for ms in e2e {
                h[events::stages::Stage::EndToEnd]
                    .record(ms * 1000)
                    .unwrap();
            }
            crate::model::buckets::count(h.iter(), &[0.1])
        };
        let snapshot = Snapshot {
            last_verified_us: Some(7_500_000),
            buckets: Some(Arc::new(counted(&[5, 50, 500]))),
            ..Snapshot::default()
        };
        let v = View {
            book: &book,
            live: vec![
                (row(2, FOLLOWING, 3, None), Arc::new(snapshot)),
                (row(3, FOLLOWING, 0, None), Arc::new(Snapshot::default())),
            ],
            down: Vec::new(),
            parts: vec![
                ("Kafka Connect at 127.0.0.1:8083".into(), false),
                ("the store at mongodb://127.0.0.1:27017/app".into(), true),
            ],
            canary: CanaryStats {
                config: Some(crate::daemon::CanaryConfig {
                    rate: 5.0,
                    window_s: 60,
                }),
                windows: 4,
                failures: 1,
            },
            slo: Slo::default(),
            start_allowed: false,
            file: |_, _| None,
        };
        let m = metrics(&v);
        for line in [
            "verifier_stage_latency_seconds_bucket{stage=\"end_to_end\",le=\"0.1\"} 2\n",
            "verifier_stage_latency_seconds_count{stage=\"end_to_end\"} 3\n",
            "verifier_last_verified_timestamp_seconds 7.5\n",
            "verifier_part_up{part=\"connect\",address=\"127.0.0.1:8083\"} 0\n",
            "verifier_part_up{part=\"store\",address=\"mongodb://127.0.0.1:27017/app\"} 1\n",
            "verifier_slo_end_to_end_seconds{quantile=\"0.99\"} 0.2\n",
            "verifier_canary_rate 5\n",
            "verifier_canary_windows_total 4\n",
            "verifier_canary_failures_total 1\n",
        ] {
            assert!(m.contains(line), "{line} not in:\n{m}");
        }
        let quiet = View {
            live: Vec::new(),
            canary: CanaryStats::default(),
            ..v
        };
        let book = crate::daemon::book::book(1, []);
        let m = metrics(&View {
            book: &book,
            ..quiet
        });
        assert!(
            !m.contains("\nverifier_last_verified_timestamp_seconds ")
                && !m.contains("verifier_canary"),
            "nothing verified yet, no canary: no sample, not 0\n{m}"
        );
    }
}
