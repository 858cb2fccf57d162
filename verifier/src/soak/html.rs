//! `soak.html`: the soak on one page, no script and no request: the verdict and why, one
//! timeline for the whole soak (end to end p50/p99 and events per second per 10 s, each fault
//! shaded from its start to its recovery, its healing dashed), a row per fault, the totals,
//! and the memory, CPU and disk of the tool and the stack over the soak.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::files::opt;
use super::judge::{Soak, JUDGED_PARTS};
use super::timeline::BUCKET_S;
use crate::report::html::{esc, latency_plot, lines_plot, throughput_plot, OverTime, Shade};
use crate::report::LatencySecond;

const SINCE: &str = "the soak started";

fn shades(s: &Soak) -> Vec<Shade> {
    s.faults
        .iter()
        .map(|f| Shade {
            name: f.fault.fault.clone(),
            start_us: f.fault.started_us,
            healed_us: f.fault.healed_us,
            end_us: f.fault.recovered_us.or(f.fault.healed_us),
        })
        .collect()
}

fn fault_table(s: &Soak) -> String {
    if s.faults.is_empty() {
        return "<p>No fault was injected.</p>".into();
    }
    let mut o = String::from("<table><tr><th>#</th><th class=\"name\">fault</th><th>at</th><th>healed in</th><th>recovery</th><th>Kafka duplicates</th><th>worst e2e</th></tr>");
    for (i, f) in s.faults.iter().enumerate() {
        let x = &f.fault;
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"name\">{}</td><td>{:.0} s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            esc(&x.fault),
            (x.started_us - s.meta.started_us) as f64 / 1e6,
            opt(x.healed_us.map(|h| (h - x.started_us) as f64 / 1e6), " s"),
            x.recovery_s
                .map_or("<b>not seen</b>".into(), |r| format!("{r:.1} s")),
            f.kafka_duplicates,
            opt(x.worst_ms, " ms"),
        );
    }
    o.push_str("</table>");
    o
}

fn totals_table(s: &Soak) -> String {
    let t = &s.totals;
    let mut o = String::from("<table>");
    for (k, v) in [
        ("runs", t.runs),
        ("events written", t.written),
        ("verified", t.verified),
        ("lost", t.lost),
        ("pending when the drain ended", t.pending),
        ("applied twice", t.applied_twice),
        ("Kafka duplicates (allowed)", t.kafka_duplicates),
    ] {
        let _ = write!(o, "<tr><th>{k}</th><td>{v}</td></tr>");
    }
    o.push_str("</table>");
    o
}

fn leak_table(s: &Soak) -> String {
    let mut o = String::from("<table><tr><th>part</th><th>verdict</th><th>memory</th></tr>");
    for l in &s.leaks {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.part),
            l.verdict,
            esc(&l.reason)
        );
    }
    o.push_str("</table>");
    o
}

/// A named line per key, in key order.
type Lines = Vec<(String, Vec<(f64, f64)>)>;

/// Per part: RSS (MiB) and CPU (% of one core between samples) over time; the daemon's and the
/// processor's memory in three measures; the disk held.
fn resource_plots(s: &Soak, axis: (f64, f64, &'static str), shades: &[Shade]) -> String {
    let mut rss: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut own: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut cpu: BTreeMap<&str, Vec<(f64, f64)>> = BTreeMap::new();
    let mut last: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    let mut disk: [Vec<(f64, f64)>; 3] = Default::default();
    let mib = |b: u64| b as f64 / 1048576.0;
    for r in &s.resources {
        let t = r.at_us as f64 / 1e6;
        for (part, p) in &r.parts {
            rss.entry(part).or_default().push((t, mib(p.rss_bytes)));
            if JUDGED_PARTS.contains(&part.as_str()) {
                let measures = [
                    ("RSS", Some(p.rss_bytes)),
                    ("anon", p.anon_bytes),
                    ("heap", p.heap_bytes),
                ];
                for (what, v) in measures {
                    if let Some(v) = v {
                        own.entry(format!("{part} {what}"))
                            .or_default()
                            .push((t, mib(v)));
                    }
                }
            }
            if let Some((t0, c0)) = last.insert(part, (t, p.cpu_s)) {
                // a restarted part starts its CPU count again: no point across the restart
                if t > t0 && p.cpu_s >= c0 {
                    cpu.entry(part)
                        .or_default()
                        .push((t, (p.cpu_s - c0) / (t - t0) * 100.0));
                }
            }
        }
        for (i, v) in [r.wal_bytes, r.kafka_bytes, r.store_bytes]
            .into_iter()
            .enumerate()
        {
            if let Some(v) = v {
                disk[i].push((t, mib(v)));
            }
        }
    }
    let named = |m: BTreeMap<&str, Vec<(f64, f64)>>| -> Lines {
        m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    };
    let disk: Lines = ["WAL held by the slot", "Kafka's logs", "the store"]
        .into_iter()
        .map(String::from)
        .zip(disk)
        .collect();
    format!(
        "<h2>Memory (RSS; PostgreSQL: PSS summed over its processes)</h2>{}\
<h2>The daemon's and the processor's memory</h2><p>RSS; anon, its anonymous part (what the process allocated; the rest is the pages of its code and libraries); heap, the heap in use (allocated and not freed; anonymous memory above it is what the allocator keeps). The leak rule reads the anonymous memory.</p>{}\
<h2>CPU (% of one core)</h2>{}<h2>Disk</h2>{}",
        lines_plot("memory", "MiB", axis, shades, &named(rss)),
        lines_plot("own-memory", "MiB", axis, shades, &own.into_iter().collect::<Lines>()),
        lines_plot("cpu", "%", axis, shades, &named(cpu)),
        lines_plot("disk", "MiB", axis, shades, &disk),
    )
}

/// The page.
pub(crate) fn render(s: &Soak) -> String {
    let start_s = s.meta.started_us as f64 / 1e6;
    let latency: Vec<LatencySecond> = s
        .timeline
        .iter()
        .map(|b| LatencySecond {
            at_s: start_s + b.at_s + BUCKET_S,
            count: b.events,
            p50_ms: b.p50_ms,
            p99_ms: b.p99_ms,
            max_ms: b.max_ms,
        })
        .collect();
    let done: Vec<u64> = s
        .timeline
        .iter()
        .map(|b| b.events_per_s.round() as u64)
        .collect();
    let shades = shades(s);
    let span_s = s.timeline.len() as f64 * BUCKET_S;
    let over_time = OverTime {
        started_s: start_s,
        latency: &latency,
        origin_s: start_s,
        step_s: BUCKET_S,
        kafka: &[],
        done: &done,
        shades: shades.clone(),
        since: SINCE,
        per: "per 10 s",
        no_sample: "No end-to-end sample: no run of the soak wrote its end_to_end.hlog.",
    };
    let color = if s.verdict == "pass" {
        "#2ca02c"
    } else {
        "#d62728"
    };
    let why: String = s
        .reasons
        .iter()
        .map(|r| format!("<li>{}</li>", esc(r)))
        .collect();
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>soak: {verdict}</title>\
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:60em}}h1 span{{color:{color}}}\
table{{border-collapse:collapse;margin:0.5em 0 1em}}td,th{{border:1px solid #ddd;padding:0.2em 0.6em;text-align:right}}th{{background:#f6f6f6}}td:first-child,th:first-child,.name{{text-align:left}}pre{{background:#f6f6f6;padding:1em}}</style></head><body>\
<h1>Soak: <span>{verdict}</span></h1><ul>{why}</ul>\
<h2>End to end per {BUCKET_S} s</h2>{latency}<h2>Events per second (in MongoDB, per {BUCKET_S} s)</h2>{tput}\
<h2>Faults</h2>{faults}<h2>Totals</h2>{totals}<h2>The leak rule</h2>{leaks}{resources}\
<details><summary>The text summary</summary><pre>{text}</pre></details></body></html>\n",
        verdict = s.verdict.to_uppercase(),
        latency = latency_plot(&over_time),
        tput = throughput_plot(&over_time),
        faults = fault_table(s),
        totals = totals_table(s),
        leaks = leak_table(s),
        resources = resource_plots(s, (start_s, span_s, SINCE), &shades),
        text = esc(&super::files::summary(s)),
    )
}
