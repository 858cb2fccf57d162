//! `report.html`: the report with two plots drawn as inline SVG, so it opens with no network
//! access: the percentile curve of every stage, and events per second over the run.

use std::fmt::Write as _;

use crate::report::Report;

const COLORS: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#111111", "#8c564b",
];
const W: f64 = 760.0;
const H: f64 = 300.0;
const PAD: f64 = 48.0;

/// `s` safe inside HTML text.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// x of a percentile on the usual "1 / (1 - p)" log axis, 0..=5 (0% .. 99.999%).
fn pct_x(p: f64) -> f64 {
    let nines = (1.0 / (1.0 - (p / 100.0).min(0.99999))).log10();
    PAD + nines / 5.0 * (W - 2.0 * PAD)
}

fn percentile_plot(r: &Report) -> String {
    let max_ms = r
        .stages
        .iter()
        .filter_map(|s| s.max_ms)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    // log y axis from 0.01 ms to the largest value
    let lo = 0.01_f64.log10();
    let hi = (max_ms * 1.2).log10().max(lo + 1.0);
    let y = |ms: f64| H - PAD - (ms.max(0.01).log10() - lo) / (hi - lo) * (H - 2.0 * PAD);
    let mut o = format!("<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"latency by percentile\">");
    for (p, label) in [
        (0.0, "0%"),
        (90.0, "90%"),
        (99.0, "99%"),
        (99.9, "99.9%"),
        (99.99, "99.99%"),
        (99.999, "99.999%"),
    ] {
        let x = pct_x(p);
        let _ = write!(o, "<line x1=\"{x:.1}\" y1=\"{PAD}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{label}</text>", H - PAD, H - PAD + 16.0);
    }
    let mut decade = lo.ceil();
    while decade <= hi {
        let v = 10f64.powf(decade);
        let yy = y(v);
        let _ = write!(o, "<line x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v} ms</text>", W - PAD, PAD - 4.0, yy + 4.0);
        decade += 1.0;
    }
    for (i, s) in r.stages.iter().chain(r.generator_lag.iter()).enumerate() {
        if s.curve.is_empty() {
            continue;
        }
        let pts: Vec<String> = s
            .curve
            .iter()
            .map(|[p, ms]| format!("{:.1},{:.1}", pct_x(*p), y(*ms)))
            .collect();
        let c = COLORS[i % COLORS.len()];
        let _ = write!(o, "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{c}\">{}</text>", pts.join(" "), W - PAD + 4.0 - 100.0, PAD + 14.0 * i as f64, esc(&s.name));
    }
    o.push_str("</svg>");
    o
}

fn throughput_plot(r: &Report) -> String {
    let t = &r.throughput;
    let n = t.done_per_second.len().max(t.kafka_per_second.len()).max(1);
    let max = t
        .done_per_second
        .iter()
        .chain(&t.kafka_per_second)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |i: usize| PAD + i as f64 / n as f64 * (W - 2.0 * PAD);
    let y = |v: u64| H - PAD - v as f64 / max * (H - 2.0 * PAD);
    let mut o = format!("<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"events per second\">");
    let _ = write!(o, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{max} /s</text><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{n} s</text>", PAD - 4.0, PAD + 4.0, W - PAD, H - PAD + 16.0);
    let _ = write!(
        o,
        "<line x1=\"{PAD}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#999\"/>",
        H - PAD,
        W - PAD,
        H - PAD
    );
    for (series, c, label) in [
        (&t.kafka_per_second, COLORS[0], "on Kafka (t1)"),
        (&t.done_per_second, COLORS[3], "in MongoDB (t5)"),
    ] {
        let pts: Vec<String> = series
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                [
                    format!("{:.1},{:.1}", x(i), y(*v)),
                    format!("{:.1},{:.1}", x(i + 1), y(*v)),
                ]
            })
            .collect();
        let _ = write!(
            o,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{}\"/>",
            pts.join(" ")
        );
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{c}\">{label}</text>",
            PAD + 8.0,
            if c == COLORS[0] {
                PAD + 12.0
            } else {
                PAD + 26.0
            }
        );
    }
    o.push_str("</svg>");
    o
}

/// The HTML page.
pub(crate) fn render(r: &Report) -> String {
    let verdict_color = if r.verdict == crate::report::Verdict::Pass {
        "#2ca02c"
    } else {
        "#d62728"
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>run {id}: {verdict}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}h1 span{{color:{verdict_color}}}</style></head><body>\
<h1>Run {id}: <span>{verdict}</span></h1>\
<h2>Latency by percentile (log scales)</h2>{pct}\
<h2>Events per second</h2>{tput}\
<h2>Report</h2><pre>{text}</pre>\
<p>report.json holds the same figures; the .hlog files hold each stage's histogram per second.</p></body></html>\n",
        id = r.run.run_id,
        verdict = r.verdict.as_str().to_uppercase(),
        pct = percentile_plot(r),
        tput = throughput_plot(r),
        text = esc(&r.text()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_self_contained() {
        let mut r: Report = serde_json::from_value(serde_json::json!({
            "schema": "x", "generated_at": "t", "run": {"run_id": 4, "mode": "bulk", "status": "completed", "n": 1, "written": 1, "seed": 1, "mix": "m", "rate": null, "started_us": 0, "finished_us": null},
            "verdict": "pass", "counts": {"expected": 1, "kafka": 1, "kafka_duplicates": 0, "out_of_range": 0, "receipts": 1, "matched": 1, "receipt_before_kafka": 0},
            "success_rate": 1.0, "throughput": {"events_per_s": 1.0, "duration_s": 1.0, "origin_s": 0, "kafka_per_second": [1], "done_per_second": [1]},
            "stages": [], "generator_lag": null, "integrity": {"passed": true, "outbox_rows": 1, "manifest_written": 1, "missing_total": 0, "missing_at_outbox": 0, "missing_at_kafka": 0, "missing": [], "kafka_duplicates": 0, "out_of_range": 0, "state_audited": true, "applied_twice": 0, "broken_references": 0, "missing_effects": 0, "findings": [], "convergence_ms": 1.0},
            "slo": {}, "slo_checks": []
        })).unwrap();
        r.stages.push(crate::measure::StageSummary {
            name: "end_to_end".into(),
            max_ms: Some(10.0),
            curve: vec![[0.0, 1.0], [50.0, 2.0], [100.0, 10.0]],
            ..Default::default()
        });
        let html = render(&r);
        assert!(html.contains("<polyline") && html.contains("Run 4: <span>PASS"));
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no network references"
        );
    }
}
