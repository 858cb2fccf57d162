//! The soak's folder, read and written (I/O): `meta.json`, `fault.jsonl`, `backlog.jsonl` and
//! `resources.jsonl` that `scripts/demo/soak.sh` writes, and `runs/run-N/` that its daemon
//! writes (`report.json`, `end_to_end.hlog`); out go `soak.json`, `soak.txt` and `soak.html`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::judge::{self, Meta, ResourceSample, Soak};
use super::timeline::{self, BacklogSample};
use crate::report::hlog::{self, Interval};
use crate::report::Report;

/// What went wrong reading the folder, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct SoakFileError {
    path: PathBuf,
    what: String,
}

fn bad(path: &Path, what: impl ToString) -> SoakFileError {
    SoakFileError {
        path: path.to_owned(),
        what: what.to_string(),
    }
}

fn text(path: &Path) -> Result<String, SoakFileError> {
    std::fs::read_to_string(path).map_err(|e| bad(path, e))
}

/// A JSON-lines file; a file that is not there is empty (no fault, no sample yet).
fn lines<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, SoakFileError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    text(path)?
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| bad(path, format!("line {}: {e}", i + 1)))
        })
        .collect()
}

/// Every run's report and end-to-end intervals: each run of the soak must have its folder
/// with its report.json (the daemon writes it when the run is accounted for; soak.sh writes it
/// with `verifier report` for a run the drain left unfinished).
fn runs(dir: &Path, meta: &Meta) -> Result<(Vec<Report>, Vec<Interval>), SoakFileError> {
    let (mut reports, mut intervals) = (Vec::new(), Vec::new());
    for id in meta.first_run..=meta.last_run {
        let folder = dir.join(format!("runs/run-{id}"));
        let path = folder.join("report.json");
        let report: Report = serde_json::from_str(&text(&path)?).map_err(|e| bad(&path, e))?;
        let hlog = folder.join("end_to_end.hlog");
        if hlog.exists() {
            intervals.extend(hlog::read(&text(&hlog)?).map_err(|e| bad(&hlog, e))?);
        }
        reports.push(report);
    }
    Ok((reports, intervals))
}

/// The soak in `dir`, judged.
pub(crate) fn read(dir: &Path) -> Result<Soak, SoakFileError> {
    let meta_path = dir.join("meta.json");
    let meta: Meta = serde_json::from_str(&text(&meta_path)?).map_err(|e| bad(&meta_path, e))?;
    let (reports, intervals) = runs(dir, &meta)?;
    let faults_path = dir.join("fault.jsonl");
    let fault_lines = crate::model::fault::parse(&if faults_path.exists() {
        text(&faults_path)?
    } else {
        String::new()
    })
    .map_err(|e| bad(&faults_path, e))?;
    let mut backlog: Vec<BacklogSample> = lines(&dir.join("backlog.jsonl"))?;
    backlog.sort_by_key(|b| b.at_us);
    let resources: Vec<ResourceSample> = lines(&dir.join("resources.jsonl"))?;
    let faults = timeline::faults(&fault_lines, &backlog, &intervals);
    // from the start to the last sample measured: the load and as much of the drain as it took
    let last_s = intervals
        .iter()
        .map(|i| i.start_s + i.length_s)
        .fold(meta.load_ended_us as f64 / 1e6, f64::max);
    let span_s = last_s - meta.started_us as f64 / 1e6;
    let buckets = timeline::buckets(&intervals, meta.started_us as f64 / 1e6, span_s);
    Ok(judge::judge(meta, &reports, faults, buckets, resources))
}

/// Writes `soak.json`, `soak.txt` and `soak.html` into `dir`.
pub(crate) fn write(dir: &Path, soak: &Soak) -> Result<(), SoakFileError> {
    let json = serde_json::to_string_pretty(soak).map_err(|e| bad(dir, e))?;
    for (name, body) in [
        ("soak.json", json),
        ("soak.txt", summary(soak)),
        ("soak.html", super::html::render(soak)),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, body).map_err(|e| bad(&path, e))?;
    }
    Ok(())
}

fn mib(b: Option<u64>) -> String {
    b.map_or("-".into(), |b| format!("{:.1} MiB", b as f64 / 1048576.0))
}

/// `v` with one decimal and its unit, `-` when not measured.
pub(super) fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}{unit}"))
}

/// The text summary: verdict and why, totals, faults, memory.
pub(crate) fn summary(s: &Soak) -> String {
    let m = &s.meta;
    let minutes = (m.load_ended_us - m.started_us) as f64 / 60e6;
    let mut o = format!(
        "soak: {} (profile {}, {}/s for {minutes:.1} min in runs of {} s; {})\n",
        s.verdict.to_uppercase(),
        m.profile,
        m.rate,
        m.window_s,
        if m.fault_every_s == 0 || m.faults.is_empty() {
            "no fault".to_owned()
        } else {
            format!(
                "a fault every {} s: {}",
                m.fault_every_s,
                m.faults.join(", ")
            )
        }
    );
    for r in &s.reasons {
        let _ = writeln!(o, "  why: {r}");
    }
    let t = &s.totals;
    let _ = writeln!(
        o,
        "runs {}, written {}, verified {}, lost {}, pending {}, applied twice {}, Kafka duplicates {}; drained: {}",
        t.runs, t.written, t.verified, t.lost, t.pending, t.applied_twice, t.kafka_duplicates,
        if m.drained { "yes" } else { "no (timed out)" }
    );
    for r in s
        .runs
        .iter()
        .filter(|r| r.lost > 0 || r.applied_twice > 0 || r.pending > 0)
    {
        let lost = if r.lost_listed.is_empty() {
            String::new()
        } else {
            format!("; lost: {}", r.lost_listed.join(", "))
        };
        let _ = writeln!(
            o,
            "  run {}: {}; lost {}, applied twice {}, pending {}{lost} (runs/run-{}/report.txt)",
            r.run, r.verdict, r.lost, r.applied_twice, r.pending, r.run
        );
    }
    if !s.faults.is_empty() {
        let _ = writeln!(
            o,
            "\n{:<18} {:>8} {:>10} {:>10} {:>10} {:>12}",
            "fault", "at", "healed in", "recovery", "Kafka dup", "worst e2e"
        );
        for f in &s.faults {
            let x = &f.fault;
            let _ = writeln!(
                o,
                "{:<18} {:>7.0}s {:>10} {:>10} {:>10} {:>12}",
                x.fault,
                (x.started_us - m.started_us) as f64 / 1e6,
                opt(x.healed_us.map(|h| (h - x.started_us) as f64 / 1e6), " s"),
                opt(x.recovery_s, " s"),
                f.kafka_duplicates,
                opt(x.worst_ms, " ms"),
            );
        }
    }
    let _ = writeln!(
        o,
        "\nmemory (at most +{:.0} % from the baseline to the end):",
        super::leak::LIMIT * 100.0
    );
    for l in &s.leaks {
        let _ = writeln!(
            o,
            "  {:<10} {:<10} {} -> {}: {}",
            l.part,
            l.verdict,
            mib(l.baseline_bytes),
            mib(l.end_bytes),
            l.reason
        );
    }
    o
}
