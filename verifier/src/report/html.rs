//! `report.html`: the report as HTML tables and three plots drawn as inline SVG, so it opens
//! with no network access: the percentile curve of every stage, end to end p50 and p99 per
//! second over the run (the fault's window marked on a fault run), and events per second on the
//! same time axis beneath it. Legends sit beside the plots, never on the curves.

use std::fmt::Write as _;

use crate::model::fault::FaultSummary;
use crate::model::measure::StageSummary;
use crate::report::{LatencySecond, Report};

const COLORS: [&str; 7] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#111111", "#8c564b",
];
const W: f64 = 860.0;
const H: f64 = 300.0;
const PAD: f64 = 56.0;
/// Width kept right of the plotting area for the legend.
const LEGEND: f64 = 150.0;
/// Right edge of the plotting area.
const RIGHT: f64 = W - LEGEND;

/// `s` safe inside HTML text.
pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// x of a percentile on the usual "1 / (1 - p)" log axis, 0..=5 (0% .. 99.999%).
fn pct_x(p: f64) -> f64 {
    let nines = (1.0 / (1.0 - (p / 100.0).min(0.99999))).log10();
    PAD + nines / 5.0 * (RIGHT - PAD)
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
        let _ = write!(o, "<line x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{RIGHT:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v} ms</text>", PAD - 4.0, yy + 4.0);
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
        let _ = write!(
            o,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>{}",
            pts.join(" "),
            legend_entry(i, c, &s.name)
        );
    }
    o.push_str("</svg>");
    o
}

/// One line of a legend beside the plot: a swatch and a name, row `i`.
fn legend_entry(i: usize, color: &str, name: &str) -> String {
    let y = PAD + 16.0 * i as f64;
    format!(
        "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"3\" fill=\"{color}\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
        RIGHT + 12.0,
        y - 4.0,
        RIGHT + 32.0,
        y,
        esc(name)
    )
}

/// A stretch of time shaded on the plots over time: a fault from its start to its recovery (or
/// its healing, or the plot's end), its healing marked.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Shade {
    pub name: String,
    pub start_us: i64,
    pub healed_us: Option<i64>,
    pub end_us: Option<i64>,
}

impl Shade {
    fn of(f: &FaultSummary) -> Option<Self> {
        Some(Self {
            name: f.fault.clone(),
            start_us: f.started_us?,
            healed_us: f.healed_us,
            end_us: f.recovered_us.or(f.healed_us),
        })
    }
}

/// What the plots over time draw: end to end per step, and events per second reaching Kafka
/// and MongoDB, from the start (a run's report, a run being followed, or a soak).
pub(crate) struct OverTime<'a> {
    /// When the run started, s since the epoch: the axis's 0.
    pub started_s: f64,
    /// End to end per step of following.
    pub latency: &'a [LatencySecond],
    /// The epoch second of index 0 of `kafka` and `done`.
    pub origin_s: f64,
    /// Seconds each entry of `kafka` and `done` covers (their values are events per second).
    pub step_s: f64,
    /// Events reaching Kafka per second (may be empty: not drawn).
    pub kafka: &'a [u64],
    /// Events reaching MongoDB per second.
    pub done: &'a [u64],
    /// The faults, shaded.
    pub shades: Vec<Shade>,
    /// What the time axis counts from: "the run started".
    pub since: &'static str,
    /// What each latency point covers: "per second".
    pub per: &'static str,
    /// What the latency plot says when it has no sample.
    pub no_sample: &'static str,
}

impl<'a> OverTime<'a> {
    fn of(r: &'a Report) -> Self {
        let t = &r.throughput;
        Self {
            started_s: r.run.started_us as f64 / 1e6,
            latency: &r.latency_per_second,
            origin_s: t.origin_s as f64,
            step_s: 1.0,
            kafka: &t.kafka_per_second,
            done: &t.done_per_second,
            shades: r.fault.as_ref().and_then(Shade::of).into_iter().collect(),
            since: "the run started",
            per: "per second",
            no_sample: "No end-to-end sample per second: this report was made without following the run (verifier watch draws it).",
        }
    }

    fn axis(&self) -> TimeAxis {
        let steps = self.done.len().max(self.kafka.len()) as f64;
        let series_end = self.origin_s + steps * self.step_s;
        let latency_end = self.latency.last().map_or(0.0, |l| l.at_s);
        let span_s = (series_end.max(latency_end) - self.started_s).max(1.0);
        TimeAxis {
            origin_s: self.started_s,
            span_s,
            since: self.since,
        }
    }
}

/// The time axis shared by the plots over the run: seconds since the run started.
struct TimeAxis {
    origin_s: f64,
    span_s: f64,
    since: &'static str,
}

impl TimeAxis {
    fn x(&self, at_s: f64) -> f64 {
        PAD + ((at_s - self.origin_s) / self.span_s).clamp(0.0, 1.0) * (RIGHT - PAD)
    }

    /// Ticks and labels along the bottom of a plot of height `H`.
    fn ticks(&self, o: &mut String) {
        let step = [
            1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
        ]
        .into_iter()
        .find(|s| self.span_s / s <= 10.0)
        .unwrap_or(7200.0);
        let mut t = 0.0;
        while t <= self.span_s + 1e-9 {
            let x = self.x(self.origin_s + t);
            let _ = write!(o, "<line x1=\"{x:.1}\" y1=\"{PAD}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{t} s</text>", H - PAD, H - PAD + 16.0);
            t += step;
        }
        let _ = write!(o, "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">seconds since {}</text>", (PAD + RIGHT) / 2.0, H - PAD + 32.0, self.since);
    }

    /// Each fault's window shaded and its healing marked. Named above the plot, or numbered
    /// 1, 2, … (in the order given, the name on hover) when names would run into each other.
    fn shades(&self, shades: &[Shade], o: &mut String) {
        let xs: Vec<f64> = shades
            .iter()
            .map(|f| self.x(f.start_us as f64 / 1e6))
            .collect();
        let numbered = shades
            .iter()
            .zip(&xs)
            .zip(xs.iter().skip(1))
            .any(|((f, x0), next)| x0 + label_width(&f.name) > *next);
        for (i, (f, x0)) in shades.iter().zip(xs).enumerate() {
            let end = f
                .end_us
                .map_or(self.origin_s + self.span_s, |u| u as f64 / 1e6);
            let x1 = self.x(end);
            let label = if numbered {
                format!("<title>{}</title>{}", esc(&f.name), i + 1)
            } else {
                esc(&f.name)
            };
            let _ = write!(o, "<rect x=\"{x0:.1}\" y=\"{PAD}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#d62728\" fill-opacity=\"0.08\"/><text x=\"{x0:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"#d62728\">{label}</text>", (x1 - x0).max(1.0), H - 2.0 * PAD, PAD - 6.0);
            if let Some(h) = f.healed_us {
                let xh = self.x(h as f64 / 1e6);
                let _ = write!(o, "<line x1=\"{xh:.1}\" y1=\"{PAD}\" x2=\"{xh:.1}\" y2=\"{:.1}\" stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>", H - PAD);
            }
        }
    }
}

/// About how wide a label of 11 px text is, with a gap after it.
fn label_width(text: &str) -> f64 {
    text.chars().count() as f64 * 6.5 + 6.0
}

fn svg_open(label: &str) -> String {
    format!("<svg viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{label}\">")
}

/// End to end p50 and p99 per second of following, log scale; a gap where a second had no
/// sample.
pub(crate) fn latency_plot(t: &OverTime<'_>) -> String {
    let (l, axis) = (t.latency, t.axis());
    let values = l.iter().flat_map(|s| [s.p50_ms, s.p99_ms]).flatten();
    let (lo_ms, hi_ms) = values.fold((f64::MAX, 0.0_f64), |(a, b), v| (a.min(v), b.max(v)));
    if hi_ms <= 0.0 {
        return format!("<p>{}</p>", t.no_sample);
    }
    let lo = (lo_ms.max(0.01) / 1.5).log10().floor();
    let hi = (hi_ms * 1.5).log10().max(lo + 1.0);
    let y = |ms: f64| H - PAD - (ms.max(0.01).log10() - lo) / (hi - lo) * (H - 2.0 * PAD);
    let mut o = svg_open("end to end per second");
    axis.ticks(&mut o);
    let mut decade = lo;
    while decade <= hi {
        let v = 10f64.powf(decade);
        let yy = y(v);
        let _ = write!(o, "<line x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{RIGHT:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v} ms</text>", PAD - 4.0, yy + 4.0);
        decade += 1.0;
    }
    axis.shades(&t.shades, &mut o);
    for (i, (name, pick, c)) in [
        (format!("p50 {}", t.per), 0, COLORS[0]),
        (format!("p99 {}", t.per), 1, COLORS[3]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut runs: Vec<Vec<String>> = vec![vec![]];
        for s in l {
            match if pick == 0 { s.p50_ms } else { s.p99_ms } {
                Some(v) => runs.last_mut().expect("a run").push(format!(
                    "{:.1},{:.1}",
                    axis.x(s.at_s),
                    y(v)
                )),
                None => runs.push(vec![]),
            }
        }
        for pts in runs.iter().filter(|p| !p.is_empty()) {
            let _ = write!(
                o,
                "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{}\"/>",
                pts.join(" ")
            );
        }
        o.push_str(&legend_entry(i, c, &name));
    }
    if !t.shades.is_empty() {
        o.push_str(&legend_entry(2, "#f4c7c7", "fault to recovery"));
    }
    o.push_str("</svg>");
    o
}

/// Events per second reaching Kafka (by t1) and MongoDB (by t5), on the same time axis.
pub(crate) fn throughput_plot(t: &OverTime<'_>) -> String {
    let axis = t.axis();
    let max = t
        .done
        .iter()
        .chain(t.kafka)
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let y = |v: f64| H - PAD - v / max * (H - 2.0 * PAD);
    let mut o = svg_open("events per second");
    axis.ticks(&mut o);
    for v in [0.0, max / 2.0, max] {
        let yy = y(v);
        let _ = write!(o, "<line x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{RIGHT:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v:.0} /s</text>", PAD - 4.0, yy + 4.0);
    }
    axis.shades(&t.shades, &mut o);
    for (i, (series, c, label)) in [
        (t.kafka, COLORS[0], "on Kafka (t1)"),
        (t.done, COLORS[3], "in MongoDB (t5)"),
    ]
    .into_iter()
    .filter(|(series, ..)| !series.is_empty())
    .enumerate()
    {
        let at = |i: usize| axis.x(t.origin_s + i as f64 * t.step_s);
        let pts: Vec<String> = series
            .iter()
            .enumerate()
            .flat_map(|(i, v)| {
                [
                    format!("{:.1},{:.1}", at(i), y(*v as f64)),
                    format!("{:.1},{:.1}", at(i + 1), y(*v as f64)),
                ]
            })
            .collect();
        let _ = write!(
            o,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{}\"/>",
            pts.join(" ")
        );
        o.push_str(&legend_entry(i, c, label));
    }
    o.push_str("</svg>");
    o
}

/// Lines over time on a linear scale from 0 (a soak's memory, CPU and disk): each series is
/// (name, points of (seconds since the epoch, value)), the axis from `started_s` for `span_s`.
pub(crate) fn lines_plot(
    label: &str,
    unit: &str,
    (started_s, span_s, since): (f64, f64, &'static str),
    shades: &[Shade],
    series: &[(String, Vec<(f64, f64)>)],
) -> String {
    let axis = TimeAxis {
        origin_s: started_s,
        span_s: span_s.max(1.0),
        since,
    };
    let max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, v)| *v))
        .fold(0.0_f64, f64::max);
    if max <= 0.0 {
        return format!("<p>No sample of {}.</p>", esc(label));
    }
    let y = |v: f64| H - PAD - v / (max * 1.1) * (H - 2.0 * PAD);
    let mut o = svg_open(label);
    axis.ticks(&mut o);
    for v in [0.0, max / 2.0, max] {
        let yy = y(v);
        let _ = write!(o, "<line x1=\"{PAD}\" y1=\"{yy:.1}\" x2=\"{RIGHT:.1}\" y2=\"{yy:.1}\" stroke=\"#eee\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{v:.0} {}</text>", PAD - 4.0, yy + 4.0, esc(unit));
    }
    axis.shades(shades, &mut o);
    for (i, (name, points)) in series.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        let pts: Vec<String> = points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", axis.x(*t), y(*v)))
            .collect();
        let _ = write!(
            o,
            "<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"1.5\" points=\"{}\"/>",
            pts.join(" ")
        );
        o.push_str(&legend_entry(i, c, name));
    }
    o.push_str("</svg>");
    o
}

fn ms(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.2}"))
}

/// The stages, one row each, as the text report lists them.
pub(crate) fn stage_table<'a>(stages: impl Iterator<Item = &'a StageSummary>) -> String {
    let mut o = String::from("<table><tr><th>stage</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p95 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th><th>skew</th></tr>");
    for s in stages {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&s.name), s.count, ms(s.p50_ms), ms(s.p90_ms), ms(s.p95_ms), ms(s.p99_ms), ms(s.p999_ms), ms(s.max_ms), s.skewed);
    }
    o.push_str("</table>");
    o
}

/// Integrity's figures.
fn integrity_table(r: &Report) -> String {
    let i = &r.integrity;
    let rows = [
        ("status", format!("{:?}", i.status).to_lowercase()),
        ("outbox rows", i.outbox_rows.to_string()),
        ("manifest written", i.manifest_written.to_string()),
        ("missing", i.missing_total.to_string()),
        ("Kafka duplicate copies", i.kafka_duplicates.to_string()),
        ("applied twice", i.applied_twice.to_string()),
        ("broken references", i.broken_references.to_string()),
        ("missing effects", i.missing_effects.to_string()),
    ];
    let mut o = String::from("<table>");
    for (k, v) in rows {
        let _ = write!(o, "<tr><th>{k}</th><td>{}</td></tr>", esc(&v));
    }
    o.push_str("</table>");
    o
}

/// The objectives and how each was judged.
fn slo_table(r: &Report) -> String {
    let mut o = String::from(
        "<table><tr><th>objective</th><th>target</th><th>actual</th><th>verdict</th></tr>",
    );
    for c in &r.slo_checks {
        let judged = if r.fault_log.is_some() {
            "shown, not judged (a fault run)".to_owned()
        } else {
            c.verdict.as_str().to_owned()
        };
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.name),
            esc(&c.target),
            c.actual.map_or("-".into(), |v| format!("{v:.3}")),
            esc(&judged)
        );
    }
    o.push_str("</table>");
    o
}

/// A fault run's phases.
fn fault_table(r: &Report) -> String {
    let Some(f) = &r.fault else {
        return String::new();
    };
    let mut o = format!("<h2>Fault: {}</h2><p>recovery: {}</p><table><tr><th>end to end</th><th>events</th><th>p50 ms</th><th>p99 ms</th><th>max ms</th></tr>", esc(&f.fault), f.recovery_s.map_or("not seen".into(), |s| format!("{s:.1} s after healing")));
    for p in [&f.before, &f.during, &f.after] {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&p.name),
            p.count,
            ms(p.p50_ms),
            ms(p.p99_ms),
            ms(p.max_ms)
        );
    }
    o.push_str("</table>");
    o
}

/// The HTML page.
pub(crate) fn render(r: &Report) -> String {
    let verdict_color = if r.verdict == crate::report::Verdict::Pass {
        "#2ca02c"
    } else {
        "#d62728"
    };
    let over_time = OverTime::of(r);
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>run {id}: {verdict}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}pre{{background:#f6f6f6;padding:1em;overflow-x:auto}}h1 span{{color:{verdict_color}}}\
table{{border-collapse:collapse;margin:0.5em 0 1em}}td,th{{border:1px solid #ddd;padding:0.2em 0.6em;text-align:right}}th{{background:#f6f6f6}}td:first-child{{text-align:left}}</style></head><body>\
<h1>Run {id}: <span>{verdict}</span></h1>\
<h2>Stages</h2>{stages}\
<h2>End to end over time</h2>{latency}\
<h2>Events per second</h2>{tput}\
{fault}\
<h2>Latency by percentile (log scales)</h2>{pct}\
<h2>Integrity</h2>{integrity}\
<h2>Objectives</h2>{slo}\
<details><summary>The text report</summary><pre>{text}</pre></details>\
<p>report.json holds the same figures; the .hlog files hold each stage's histogram per second.</p></body></html>\n",
        id = r.run.run_id,
        verdict = r.verdict.as_str().to_uppercase(),
        stages = stage_table(r.stages.iter().chain(r.generator_lag.iter())),
        latency = latency_plot(&over_time),
        tput = throughput_plot(&over_time),
        fault = fault_table(r),
        pct = percentile_plot(r),
        integrity = integrity_table(r),
        slo = slo_table(r),
        text = esc(&r.text()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_labels_are_names_unless_they_would_run_into_each_other() {
        let axis = TimeAxis {
            origin_s: 0.0,
            span_s: 3660.0,
            since: "the soak started",
        };
        let shade = |name: &str, at_s: i64| Shade {
            name: name.into(),
            start_us: at_s * 1_000_000,
            healed_us: Some((at_s + 5) * 1_000_000),
            end_us: Some((at_s + 10) * 1_000_000),
        };
        let mut o = String::new();
        axis.shades(
            &[shade("broker-kill", 300), shade("store-pause", 1800)],
            &mut o,
        );
        assert!(
            o.contains(">broker-kill</text>") && o.contains(">store-pause</text>"),
            "{o}"
        );
        let twelve: Vec<Shade> = (1..=12)
            .map(|k| shade("processor-restart", k * 300))
            .collect();
        let mut o = String::new();
        axis.shades(&twelve, &mut o);
        assert!(
            o.contains("<title>processor-restart</title>12</text>"),
            "{o}"
        );
        assert!(!o.contains(">processor-restart</text>"), "{o}");
    }

    #[test]
    fn the_page_is_self_contained() {
        let mut r: Report = serde_json::from_value(serde_json::json!({
            "schema": "x", "generated_at": "t", "run": {"run_id": 4, "mode": "bulk", "status": "completed", "n": 1, "written": 1, "seed": 1, "mix": "m", "rate": null, "started_us": 0, "finished_us": null},
            "verdict": "pass", "counts": {"expected": 1, "kafka": 1, "kafka_duplicates": 0, "out_of_range": 0, "receipts": 1, "matched": 1, "receipt_before_kafka": 0},
            "success_rate": 1.0, "throughput": {"events_per_s": 1.0, "duration_s": 1.0, "origin_s": 0, "kafka_per_second": [1], "done_per_second": [1]},
            "stages": [], "generator_lag": null, "integrity": {"passed": true, "outbox_rows": 1, "manifest_written": 1, "missing_total": 0, "missing_at_outbox": 0, "missing_at_kafka": 0, "missing": [], "kafka_duplicates": 0, "out_of_range": 0, "state_audited": true, "applied_twice": 0, "broken_references": 0, "missing_effects": 0, "findings": [], "convergence_ms": 1.0},
            "slo": {}, "slo_checks": []
        })).unwrap();
        r.stages.push(crate::model::measure::StageSummary {
            name: "end_to_end".into(),
            max_ms: Some(10.0),
            curve: vec![[0.0, 1.0], [50.0, 2.0], [100.0, 10.0]],
            ..Default::default()
        });
        let html = render(&r);
        assert!(html.contains("<polyline") && html.contains("Run 4: <span>PASS"));
        assert!(
            html.contains("made without following"),
            "no per-second figures, said so"
        );
        assert!(html.contains("<table>") && html.contains("<td>end_to_end</td>"));
        // the run over time, with a fault from 2 s to 5 s, healed at 4 s
        r.latency_per_second = (1..=8)
            .map(|i| crate::report::LatencySecond {
                at_s: i as f64,
                count: if i == 3 { 0 } else { 10 },
                p50_ms: (i != 3).then_some(5.0),
                p99_ms: (i != 3).then_some(if i == 4 { 900.0 } else { 20.0 }),
                max_ms: (i != 3).then_some(950.0),
            })
            .collect();
        let phase = |name: &str| crate::model::measure::StageSummary {
            name: name.into(),
            ..Default::default()
        };
        r.fault = Some(crate::model::fault::FaultSummary {
            fault: "store-pause".into(),
            started_us: Some(2_000_000),
            healed_us: Some(4_000_000),
            recovered_us: Some(5_000_000),
            recovery_s: Some(1.0),
            worst_ms: Some(950.0),
            before: phase("before"),
            during: phase("during"),
            after: phase("after"),
        });
        r.fault_log = Some("fault.jsonl".into());
        let html = render(&r);
        let latency = &html[html.find("aria-label=\"end to end per second\"").unwrap()..];
        let latency = &latency[..latency.find("</svg>").unwrap()];
        assert_eq!(
            latency.matches("<polyline").count(),
            4,
            "p50 and p99, each broken at the empty second"
        );
        // fault window 2..5 s of an 8 s axis, x from PAD to RIGHT
        let x = |t: f64| PAD + t / 8.0 * (RIGHT - PAD);
        assert!(
            latency.contains(&format!(
                "<rect x=\"{:.1}\" y=\"{PAD}\" width=\"{:.1}\"",
                x(2.0),
                x(5.0) - x(2.0)
            )),
            "{latency}"
        );
        assert!(
            latency.contains(">p99 per second</text>")
                && latency.contains(">fault to recovery</text>")
        );
        assert!(html.contains("<h2>Fault: store-pause</h2><p>recovery: 1.0 s after healing"));
        assert!(html.contains("shown, not judged (a fault run)") || r.slo_checks.is_empty());
        // legends right of the plotting area, never on the curves
        for t in html
            .match_indices("<rect x=\"")
            .map(|(i, _)| &html[i + 9..])
        {
            let xv: f64 = t[..t.find('"').unwrap()].parse().unwrap();
            assert!(xv <= RIGHT || xv >= RIGHT + 12.0, "a swatch at {xv}");
        }
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "no network references"
        );
    }
}
