//! The daemon's web page (pure HTML, rendered on the server): `/`, the runs newest first with
//! the parts that do not answer on top, and `/runs/N` while the run is followed, its progress,
//! charts, stages and backlog. Each page polls a fragment of itself (`/fragment/…`) once a
//! second and swaps it in; without JavaScript the page refreshes itself. A finished run's page
//! is its report.html. Nothing is loaded from anywhere but the daemon: styles and the few lines
//! of script are in the page.

use std::fmt::Write as _;

use super::row::{Row, FOLLOWING};
use crate::live::view::{known, Snapshot};
use crate::report::html::{esc, latency_plot, stage_table, throughput_plot, OverTime};

/// What a fragment route answers for a run that has finished: the page reloads itself and
/// gets the report.
pub(crate) const FINISHED: &str = "<!--finished-->";

/// The page's icon: a dot in the pipeline's blue.
pub(crate) const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><circle cx=\"8\" cy=\"8\" r=\"7\" fill=\"#1f77b4\"/></svg>";

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#222}\
a{color:#1f5fa8}h1{font-size:1.5em;margin:0 0 .3em}\
table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right;white-space:nowrap}\
th{background:#f6f6f6}td:first-child,th:first-child{text-align:left}\
.down{background:#fde8e8;border:1px solid #d62728;color:#8b1a1a;padding:.5em 1em;margin:.5em 0}\
.pass{color:#2ca02c;font-weight:600}.fail{color:#d62728;font-weight:600}.incomplete{color:#b8860b;font-weight:600}\
.following{color:#1f77b4;font-weight:600}.muted{color:#777}\
.cards{display:flex;flex-wrap:wrap;gap:.8em;margin:.8em 0}.card{border:1px solid #ddd;border-radius:6px;padding:.5em .9em;min-width:9em}\
.card b{display:block;font-size:1.4em}.bar{background:#eee;height:6px;border-radius:3px;margin-top:.3em}\
.bar i{display:block;background:#1f77b4;height:6px;border-radius:3px}\
#stale{display:none}#stale.on{display:block}";

/// A whole page: `title`, `body` inside `<main id="live">` (polling `fragment` every
/// `every_ms` when given, and swapping it in), then `after`, which stays.
fn page(title: &str, body: &str, fragment: Option<(&str, u32)>, after: &str) -> String {
    let script = fragment.map_or(String::new(), |(url, ms)| {
        format!(
            "<script>(function(){{var el=document.getElementById('live'),st=document.getElementById('stale');\
async function tick(){{try{{var r=await fetch('{url}',{{cache:'no-store'}});var t=await r.text();\
if(t.indexOf('{FINISHED}')===0){{location.reload();return}}if(r.ok){{el.innerHTML=t;st.className='';\
document.body.dataset.updated=String(Date.now())}}}}catch(e){{st.className='on'}}setTimeout(tick,{ms})}}\
setTimeout(tick,{ms})}})();</script>"
        )
    });
    let refresh = if fragment.is_some() {
        "<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>"
    } else {
        ""
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">{refresh}<title>{title}</title>\
<style>{STYLE}</style></head><body>\
<p class=\"muted\"><a href=\"/\">runs</a> · <a href=\"/api/runs\">/api/runs</a> · <a href=\"/metrics\">/metrics</a></p>\
<div id=\"stale\" class=\"down\">The daemon does not answer: these figures are not being updated.</div>\
<main id=\"live\">{body}</main>{after}{script}</body></html>\n",
        title = esc(title),
    )
}

/// The banner naming each part that does not answer, or nothing.
fn down_banner(down: &[String]) -> String {
    if down.is_empty() {
        return String::new();
    }
    let items: Vec<String> = down
        .iter()
        .map(|d| format!("<li>{}</li>", esc(d)))
        .collect();
    format!(
        "<div class=\"down\" id=\"down\"><b>Not answering:</b><ul>{}</ul></div>",
        items.join("")
    )
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(
        || "<span class=\"muted\">-</span>".into(),
        |v| format!("{v:.1}"),
    )
}

fn count(v: Option<u64>) -> String {
    v.map_or_else(
        || "<span class=\"muted\">-</span>".into(),
        |v| v.to_string(),
    )
}

/// `2026-12-04 16:03:22 UTC`.
fn when(us: i64) -> String {
    chrono::DateTime::from_timestamp_micros(us).map_or_else(
        || "-".into(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

fn mode(r: &Row) -> String {
    match r.rate {
        Some(rate) => format!("{} {rate:.0}/s", esc(&r.mode)),
        None => esc(&r.mode),
    }
}

/// The runs table, newest first, with the banner above it.
pub(crate) fn runs_fragment(rows: &[Row], down: &[String], first_run: i64) -> String {
    let mut o = down_banner(down);
    let _ = write!(
        o,
        "<h1>Runs</h1><p class=\"muted\">Every run from run {first_run} on, followed from the moment it is written. {} finished, {} being followed.</p>",
        rows.iter().filter(|r| r.state != FOLLOWING).count(),
        rows.iter().filter(|r| r.state == FOLLOWING).count(),
    );
    if rows.is_empty() {
        o.push_str("<p>No run yet. Write one from psql: <code>SELECT * FROM demo_generate(10000);</code> or <code>CALL demo_run(10000, 500);</code></p>");
        return o;
    }
    o.push_str("<table id=\"runs\"><tr><th>run</th><th>started</th><th>mode</th><th>events</th><th>on Kafka</th><th>in MongoDB</th><th>pending</th><th>lost</th><th>applied twice</th><th>e2e p50 ms</th><th>e2e p99 ms</th><th>state</th></tr>");
    for r in rows {
        let _ = write!(
            o,
            "<tr data-run=\"{id}\"><td><a href=\"/runs/{id}\">run {id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{state}\">{state}</td></tr>",
            when(r.started_us),
            mode(r),
            r.expected,
            r.on_kafka,
            r.in_mongodb,
            count(r.pending),
            count(r.lost),
            count(r.applied_twice),
            ms(r.e2e_p50_ms),
            ms(r.e2e_p99_ms),
            id = r.run_id,
            state = esc(&r.state),
        );
    }
    o.push_str("</table>");
    o
}

/// The form that starts a run (`POST /api/runs`, the token in its body).
const START_FORM: &str = "<h2>Start a run</h2><form method=\"post\" action=\"/api/runs\" id=\"start\">\
<label>events <input name=\"events\" type=\"number\" min=\"1\" value=\"10000\" required></label> \
<label>rate/s <input name=\"rate\" type=\"number\" min=\"1\" step=\"any\" placeholder=\"empty: bulk\"></label> \
<label>mix <input name=\"mix\" value=\"50/30/20\" size=\"8\"></label> \
<label>seed <input name=\"seed\" type=\"number\" placeholder=\"random\"></label> \
<label>token <input name=\"token\" type=\"password\" autocomplete=\"off\" required></label> \
<button>start</button></form><p class=\"muted\">The token is in the daemon's token file \
(the stack's: .stack/secrets/verifier.token). A bulk run is one transaction: demo_generate; with a rate, CALL demo_run.</p>";

/// `/`, with the form that starts a run when that is allowed.
pub(crate) fn runs_page(rows: &[Row], down: &[String], first_run: i64, start: bool) -> String {
    page(
        "CDC verifier: runs",
        &runs_fragment(rows, down, first_run),
        Some(("/fragment/runs", 2000)),
        if start { START_FORM } else { "" },
    )
}

/// A page saying `what`, with `detail`.
pub(crate) fn message_page(what: &str, detail: &str) -> String {
    page(
        what,
        &format!("<h1>{}</h1><p>{}</p>", esc(what), esc(detail)),
        None,
        "",
    )
}

/// The answer to a form that started a run: a link to it (and there in a moment).
pub(crate) fn started_page(id: Option<i64>) -> String {
    let body = match id {
        Some(id) => format!(
            "<h1>Run {id} started</h1><p><a href=\"/runs/{id}\">Follow it live</a>.</p><script>setTimeout(function(){{location.href='/runs/{id}'}},1000)</script>"
        ),
        None => "<h1>Run started</h1><p>A bulk run is in the manifest once it is written (one transaction): it appears on <a href=\"/\">the runs</a> then.</p>".to_owned(),
    };
    page("Run started", &body, None, "")
}

fn card(label: &str, value: &str, of: Option<(u64, u64)>) -> String {
    let bar = of.map_or(String::new(), |(n, total)| {
        let pct = if total == 0 {
            0.0
        } else {
            (100.0 * n as f64 / total as f64).min(100.0)
        };
        format!("<div class=\"bar\"><i style=\"width:{pct:.1}%\"></i></div>")
    });
    format!("<div class=\"card\">{label}<b>{value}</b>{bar}</div>")
}

/// The backlog per stage, as the dashboard shows it.
fn backlog_table(s: &Snapshot) -> String {
    let b = &s.backlog;
    let rows = [
        (
            "WAL the slot has not confirmed, bytes",
            known(b.slot_lag_bytes, ""),
        ),
        (
            "the processor group's lag, records",
            known(b.processor_lag, ""),
        ),
        ("written, not on Kafka yet", b.not_on_kafka.to_string()),
        ("on Kafka, no receipt yet", b.awaiting_receipt.to_string()),
        ("not matched yet", b.unmatched.to_string()),
        (
            "oldest unmatched, s",
            known(b.oldest_unmatched_s.map(|s| format!("{s:.1}")), ""),
        ),
    ];
    let mut o = String::from("<table id=\"backlog\">");
    for (k, v) in rows {
        let _ = write!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    o.push_str("</table>");
    o
}

/// Run `id`, being followed: progress, charts, stages and backlog (`s` is empty until its
/// follow has found the run).
pub(crate) fn live_fragment(id: i64, s: &Snapshot, down: &[String]) -> String {
    let e2e = s
        .stages
        .iter()
        .find(|st| st.name == "end_to_end")
        .filter(|st| st.count > 0);
    let mut o = down_banner(down);
    let rate = s
        .run
        .rate
        .map_or(String::new(), |r| format!(" at {r:.0}/s"));
    let _ = write!(
        o,
        "<h1>Run {id}: <span class=\"following\">{phase}</span></h1><p class=\"muted\">{mode}{rate}, started {started}, followed for {el:.0} s. The report replaces this page when the run is accounted for.</p>",
        phase = match s.phase.to_string() {
            p if p.is_empty() => "starting".to_owned(),
            p => esc(&p),
        },
        mode = s.run.mode.as_str(),
        started = when(s.run.started_us),
        el = s.elapsed_s,
    );
    let written = s.run.written.max(0) as u64;
    o.push_str("<div class=\"cards\" id=\"progress\">");
    for c in [
        card(
            "written (the manifest)",
            &format!("{written} of {}", s.expected),
            Some((written, s.expected)),
        ),
        card(
            "on Kafka",
            &s.on_kafka.to_string(),
            Some((s.on_kafka, s.expected)),
        ),
        card(
            "in MongoDB",
            &s.receipts.to_string(),
            Some((s.receipts, s.expected)),
        ),
        card(
            "verified",
            &s.matched.to_string(),
            Some((s.matched, s.expected)),
        ),
        card("events/s", &format!("{:.0}", s.done_per_s), None),
        card("e2e p50 ms", &ms(e2e.and_then(|e| e.p50_ms)), None),
        card("e2e p99 ms", &ms(e2e.and_then(|e| e.p99_ms)), None),
        card("Kafka duplicates", &s.kafka_duplicates.to_string(), None),
    ] {
        o.push_str(&c);
    }
    o.push_str("</div>");
    let seconds = &s.seconds;
    let done: Vec<u64> = seconds.latency.iter().map(|l| l.count).collect();
    let over_time = OverTime {
        started_s: s.run.started_us as f64 / 1e6,
        latency: &seconds.latency,
        origin_s: seconds.latency.first().map_or(0.0, |l| l.at_s - 1.0),
        step_s: 1.0,
        kafka: &seconds.kafka,
        done: &done,
        shades: Vec::new(),
        since: "the run started",
        per: "per second",
        no_sample: "No end-to-end sample yet.",
    };
    let _ = write!(
        o,
        "<h2>End to end per second</h2>{}<h2>Events per second</h2>{}<h2>Stages</h2>{}<h2>Backlog</h2>{}",
        latency_plot(&over_time),
        throughput_plot(&over_time),
        stage_table(s.stages.iter()),
        backlog_table(s),
    );
    o
}

/// `/runs/N` while run N is followed.
pub(crate) fn live_page(id: i64, s: &Snapshot, down: &[String]) -> String {
    page(
        &format!("run {id}: following"),
        &live_fragment(id, s, down),
        Some((&format!("/fragment/runs/{id}"), 1000)),
        "",
    )
}

/// `/runs/N` once run N is finished: its report.html, with a way back to the runs.
pub(crate) fn finished_page(id: i64, report_html: &str) -> String {
    report_html.replacen(
        "<body>",
        &format!(
            "<body><p><a href=\"/\">runs</a> · <a href=\"/api/runs/{id}\">report.json</a></p>"
        ),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::row::row;
    use crate::live::view::Seconds;
    use crate::report::LatencySecond;
    use std::sync::Arc;

    #[test]
    fn the_runs_page_lists_runs_with_links_and_names_what_is_down() {
        let rows = [row(2, FOLLOWING, 5, None), row(1, "fail", 7, Some(3))];
        let down = ["Kafka at 127.0.0.1:9092 down for 4 s".to_owned()];
        let html = runs_page(&rows, &down, 1, false);
        assert!(!html.contains("<form"), "no start form unless allowed");
        assert!(
            runs_page(&rows, &down, 1, true).contains("<form method=\"post\" action=\"/api/runs\"")
        );
        assert!(html.contains("<a href=\"/runs/2\">run 2</a>"), "{html}");
        let second = html.find("data-run=\"1\"").unwrap();
        assert!(
            html.find("data-run=\"2\"").unwrap() < second,
            "newest first"
        );
        let fail_row = &html[second..];
        assert!(fail_row.contains("<td>3</td>"), "lost: {fail_row}");
        assert!(fail_row.contains("class=\"fail\">fail"), "{fail_row}");
        assert!(
            html.find("Kafka at 127.0.0.1:9092").unwrap() < html.find("<table").unwrap(),
            "the part down on top"
        );
        assert!(html.contains("fetch('/fragment/runs'"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        let empty = runs_page(&[], &[], 9, false);
        assert!(empty.contains("demo_generate"), "{empty}");
    }

    #[test]
    fn a_live_run_shows_its_progress_charts_and_backlog() {
        let mut s = Snapshot::default();
        s.run.run_id = 12;
        s.run.written = 40;
        s.expected = 100;
        s.on_kafka = 30;
        s.receipts = 20;
        s.backlog.slot_lag_bytes = None;
        s.seconds = Arc::new(Seconds {
            latency: (1..=3)
                .map(|i| LatencySecond {
                    at_s: i as f64,
                    count: 10,
                    p50_ms: Some(5.0),
                    p99_ms: Some(9.0),
                    max_ms: Some(9.0),
                })
                .collect(),
            kafka: vec![10, 10, 10],
        });
        let html = live_page(12, &s, &[]);
        assert!(
            html.contains("Run 12: <span class=\"following\">"),
            "{html}"
        );
        assert!(html.contains("<b>40 of 100</b>"), "{html}");
        assert!(html.contains("width:30.0%"), "on Kafka 30 of 100");
        assert!(html.contains("aria-label=\"end to end per second\""));
        assert!(html.contains("aria-label=\"events per second\""));
        assert!(html.contains("<th>WAL the slot has not confirmed, bytes</th><td>unknown</td>"));
        assert!(html.contains("fetch('/fragment/runs/12'"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn a_finished_page_is_the_report_with_a_way_back() {
        let page = finished_page(3, "<html><body><h1>Run 3</h1></body></html>");
        assert!(page.starts_with("<html><body><p><a href=\"/\">runs</a>"));
        assert!(page.contains("<h1>Run 3</h1>"));
    }
}
