//! `capacity.html`: delivered against offered rate, and end-to-end p50 and p99 against offered
//! rate on a log scale with the SLO lines, drawn as inline SVG (pure; it opens without network).

use std::fmt::Write as _;

use super::{answer, Capacity};
use crate::report::html::esc;

const W: f64 = 640.0;
const H: f64 = 320.0;
const PAD: f64 = 48.0;

/// Maps `v` in `lo..=hi` onto `a..=b`.
fn scale(v: f64, (lo, hi): (f64, f64), (a, b): (f64, f64)) -> f64 {
    if hi <= lo {
        return a;
    }
    a + (v - lo) / (hi - lo) * (b - a)
}

fn axes(o: &mut String, x_label: &str, y_label: &str) {
    let _ = write!(
        o,
        "<line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#333\"/><line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#333\"/>\
<text x=\"{cx}\" y=\"{lx}\" font-size=\"12\" text-anchor=\"middle\">{x_label}</text>\
<text x=\"14\" y=\"{cy}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 14 {cy})\">{y_label}</text>",
        b = H - PAD,
        r = W - PAD,
        cx = W / 2.0,
        lx = H - 10.0,
        cy = H / 2.0
    );
}

/// Delivered against offered, with the line where they are equal.
fn delivered_plot(c: &Capacity) -> String {
    let top = c
        .steps
        .iter()
        .flat_map(|s| [s.figures.offered, s.figures.delivered.unwrap_or(0.0)])
        .fold(1.0_f64, f64::max)
        * 1.1;
    let x = |v: f64| scale(v, (0.0, top), (PAD, W - PAD));
    let y = |v: f64| scale(v, (0.0, top), (H - PAD, PAD));
    let mut o = format!("<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"delivered against offered rate\">");
    axes(&mut o, "offered events/s", "delivered events/s");
    let _ = write!(o, "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#bbb\" stroke-dasharray=\"4\"/>", x(0.0), y(0.0), x(top), y(top));
    for s in &c.steps {
        let Some(d) = s.figures.delivered else {
            continue;
        };
        let color = if s.judged.verdict == super::search::StepVerdict::Sustainable {
            "#2a7"
        } else {
            "#c33"
        };
        let _ = write!(o, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"5\" fill=\"{color}\"><title>step {}: {} offered, {d:.0} delivered</title></circle>", x(s.figures.offered), y(d), s.number, s.figures.offered);
    }
    let _ = write!(
        o,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{top:.0}</text>",
        PAD - 4.0,
        PAD + 4.0
    );
    o.push_str("</svg>");
    o
}

/// p50 and p99 against offered, log scale, with the SLO lines.
fn latency_plot(c: &Capacity) -> String {
    let rates: Vec<f64> = c.steps.iter().map(|s| s.figures.offered).collect();
    let top_rate = rates.iter().copied().fold(1.0_f64, f64::max) * 1.1;
    let values = c
        .steps
        .iter()
        .flat_map(|s| [s.figures.p50_ms, s.figures.p99_ms])
        .flatten()
        .chain([c.config.slo.p50_max_ms, c.config.slo.p99_max_ms]);
    let top_ms = values.fold(1.0_f64, f64::max) * 2.0;
    let (lo, hi) = (0.1_f64.log10(), top_ms.log10());
    let x = |v: f64| scale(v, (0.0, top_rate), (PAD, W - PAD));
    let y = |ms: f64| scale(ms.max(0.1).log10(), (lo, hi), (H - PAD, PAD));
    let mut o = format!("<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"latency against offered rate\">");
    axes(&mut o, "offered events/s", "end to end ms (log)");
    for (slo, name) in [
        (c.config.slo.p50_max_ms, "p50 SLO"),
        (c.config.slo.p99_max_ms, "p99 SLO"),
    ] {
        let yy = y(slo);
        let _ = write!(o, "<line x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#e90\" stroke-dasharray=\"6 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{name} {slo} ms</text>", W - PAD, W - PAD, yy - 3.0);
    }
    for (pick, color) in [(0usize, "#36c"), (1, "#c33")] {
        let mut points: Vec<(f64, f64)> = c
            .steps
            .iter()
            .filter_map(|s| {
                let v = if pick == 0 {
                    s.figures.p50_ms
                } else {
                    s.figures.p99_ms
                };
                Some((s.figures.offered, v?))
            })
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let path: Vec<String> = points
            .iter()
            .map(|(r, v)| format!("{:.1},{:.1}", x(*r), y(*v)))
            .collect();
        let _ = write!(
            o,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>",
            path.join(" ")
        );
        for (r, v) in &points {
            let _ = write!(o, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{color}\"><title>{r}/s: {v:.1} ms</title></circle>", x(*r), y(*v));
        }
    }
    o.push_str("<text x=\"60\" y=\"20\" font-size=\"12\" fill=\"#36c\">p50</text><text x=\"100\" y=\"20\" font-size=\"12\" fill=\"#c33\">p99</text></svg>");
    o
}

/// The page.
pub(super) fn render(c: &Capacity) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>capacity</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}</style></head><body>\
<h1>Capacity</h1><p><b>{}</b></p><h2>Delivered against offered</h2>{}<h2>End to end against offered</h2>{}<h2>Steps</h2><pre>{}</pre></body></html>\n",
        esc(&c.answer),
        delivered_plot(c),
        latency_plot(c),
        esc(&answer::table(c))
    )
}
