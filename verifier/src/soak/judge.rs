//! The soak's verdict and summary, pure: totals over every run of the soak, each fault with
//! its recovery, the timeline, the resource curves and the leak rule. Pass only when nothing
//! was lost or applied twice, every event of every run is accounted for (a drain that timed out
//! leaves events pending: the soak fails, and still counts lost and applied twice), every fault
//! was healed and recovered, and the memory of the daemon and the processor passed the leak
//! rule.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::leak::{self, LeakCheck, Rss};
use super::timeline::{Bucket, SoakFault};
use crate::report::Report;

/// The parts whose memory the leak rule judges: the tool and the consumer.
pub(crate) const JUDGED_PARTS: [&str; 2] = ["verifier", "processor"];

/// What `soak.sh` says about the soak (`meta.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) profile: String,
    /// Events/s offered.
    pub(crate) rate: u64,
    /// Seconds of each rate run.
    pub(crate) window_s: u64,
    /// Seconds between faults (0: no fault).
    pub(crate) fault_every_s: u64,
    /// The rotation of scenarios.
    pub(crate) faults: Vec<String>,
    /// When the load started and ended, µs since the epoch.
    pub(crate) started_us: i64,
    pub(crate) load_ended_us: i64,
    /// The soak's runs: every run from `first_run` to `last_run` (none when `last_run` is
    /// smaller).
    pub(crate) first_run: i64,
    pub(crate) last_run: i64,
    /// Seconds the drain was allowed, and whether every run was accounted for within it.
    pub(crate) drain_s: u64,
    pub(crate) drained: bool,
}

/// One sample of the stack's resources (`resources.jsonl`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ResourceSample {
    pub(crate) at_us: i64,
    /// Per part (`verifier`, `processor`, `postgresql`, `kafka`, …): RSS in bytes and CPU
    /// seconds used so far; a part not running at the sample is absent.
    pub(crate) parts: BTreeMap<String, PartSample>,
    /// WAL the replication slot holds, bytes.
    pub(crate) wal_bytes: Option<u64>,
    /// Kafka's log folders and the store's data, bytes.
    pub(crate) kafka_bytes: Option<u64>,
    pub(crate) store_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartSample {
    pub(crate) rss_bytes: u64,
    pub(crate) cpu_s: f64,
    /// Its (first) process: a new one is a restart.
    #[serde(default)]
    pub(crate) pid: Option<u32>,
    /// Its anonymous memory (RssAnon: what it allocated, not the file pages of its code and
    /// libraries), bytes, for a part of one process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) anon_bytes: Option<u64>,
    /// Its heap in use, bytes, where it says it (the daemon and the processor, /metrics).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) heap_bytes: Option<u64>,
}

/// Totals over the soak's runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Totals {
    pub(crate) runs: u64,
    pub(crate) written: u64,
    pub(crate) verified: u64,
    pub(crate) lost: u64,
    pub(crate) pending: u64,
    pub(crate) applied_twice: u64,
    pub(crate) kafka_duplicates: u64,
}

/// A run of the soak, in a line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct RunLine {
    pub(crate) run: i64,
    pub(crate) verdict: String,
    pub(crate) written: u64,
    pub(crate) lost: u64,
    pub(crate) pending: u64,
    pub(crate) applied_twice: u64,
    pub(crate) kafka_duplicates: u64,
    /// The lost events its report lists (the first of them): `seq N (id)`.
    pub(crate) lost_listed: Vec<String>,
}

/// A fault with the Kafka duplicates of the runs it overlapped.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct FaultLine {
    #[serde(flatten)]
    pub(crate) fault: SoakFault,
    pub(crate) kafka_duplicates: u64,
}

/// `soak.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Soak {
    pub(crate) verdict: &'static str,
    /// Why it failed, one line each (empty on a pass).
    pub(crate) reasons: Vec<String>,
    pub(crate) meta: Meta,
    pub(crate) totals: Totals,
    pub(crate) faults: Vec<FaultLine>,
    pub(crate) leaks: Vec<LeakCheck>,
    pub(crate) timeline: Vec<Bucket>,
    pub(crate) runs: Vec<RunLine>,
    pub(crate) resources: Vec<ResourceSample>,
}

fn run_line(r: &Report) -> RunLine {
    RunLine {
        run: r.run.run_id,
        verdict: r.verdict.as_str().to_owned(),
        written: r.counts.expected,
        lost: r.integrity.lost,
        pending: r.integrity.pending,
        applied_twice: r.integrity.applied_twice,
        kafka_duplicates: r.counts.kafka_duplicates,
        lost_listed: r
            .integrity
            .missing
            .iter()
            .filter(|m| m.fate.is_some_and(crate::model::fate::Fate::is_lost))
            .map(|m| {
                format!(
                    "seq {} ({})",
                    m.seq,
                    m.event_id.as_deref().unwrap_or("id unknown")
                )
            })
            .collect(),
    }
}

fn totals(reports: &[Report]) -> Totals {
    reports.iter().fold(Totals::default(), |mut t, r| {
        t.runs += 1;
        t.written += r.counts.expected;
        t.verified += r.counts.matched;
        t.lost += r.integrity.lost;
        t.pending += r.integrity.pending + r.integrity.undetermined;
        t.applied_twice += r.integrity.applied_twice;
        t.kafka_duplicates += r.counts.kafka_duplicates;
        t
    })
}

/// Kafka duplicates of the runs that were being written while `f` lasted.
fn duplicates_during(f: &SoakFault, reports: &[Report]) -> u64 {
    let until = f.recovered_us.or(f.healed_us).unwrap_or(i64::MAX);
    reports
        .iter()
        .filter(|r| {
            r.run.started_us <= until && r.run.finished_us.is_none_or(|e| e >= f.started_us)
        })
        .map(|r| r.counts.kafka_duplicates)
        .sum()
}

/// The leak rule over each judged part's samples. A part restarted during the soak (a
/// processor-kill) is judged over its last life only, from its restart: a new process warming
/// up is not a leak, and memory across two processes says nothing about either. The end is read
/// after the last fault's recovery (or healing, or start, whichever it was last seen at).
fn leaks(meta: &Meta, resources: &[ResourceSample], faults: &[SoakFault]) -> Vec<LeakCheck> {
    let end_s = (meta.load_ended_us - meta.started_us) as f64 / 1e6;
    let settled_s = faults
        .iter()
        .map(|f| f.recovered_us.or(f.healed_us).unwrap_or(f.started_us))
        .max()
        .map_or(0.0, |us| (us - meta.started_us) as f64 / 1e6);
    JUDGED_PARTS
        .iter()
        .map(|part| {
            let (samples, memory) = memory_of(part, meta, resources);
            let last_pid = samples.last().and_then(|(pid, _)| *pid);
            let life_from = samples
                .iter()
                .rev()
                .take_while(|(pid, _)| *pid == last_pid)
                .last()
                .map_or(0.0, |(_, r)| r.at_s);
            let restarted = samples.first().is_some_and(|(pid, _)| *pid != last_pid);
            let life: Vec<Rss> = samples
                .iter()
                .filter(|(pid, r)| *pid == last_pid && r.at_s >= life_from)
                .map(|(_, r)| Rss {
                    at_s: r.at_s - life_from,
                    ..*r
                })
                .collect();
            let settled = (settled_s - life_from).max(0.0);
            let from = if restarted { life_from } else { 0.0 };
            let mut check = leak::judge_from(part, &life, end_s - life_from, settled, from);
            check.memory = memory;
            check.reason = format!("{memory}: {}", check.reason);
            if restarted {
                check.reason = format!(
                    "{} (its last process, since its restart at {life_from:.0} s)",
                    check.reason
                );
            }
            check
        })
        .collect()
}

/// `part`'s memory samples with their process, and what they measure: its anonymous memory
/// when every sample has it (what the process allocated: the pages of its code and libraries,
/// which page in as a fault first runs their error paths, are no leak), else its RSS.
fn memory_of(
    part: &str,
    meta: &Meta,
    resources: &[ResourceSample],
) -> (Vec<(Option<u32>, Rss)>, &'static str) {
    let parts: Vec<(i64, &PartSample)> = resources
        .iter()
        .filter_map(|s| Some((s.at_us, s.parts.get(part)?)))
        .collect();
    let anon = !parts.is_empty() && parts.iter().all(|(_, p)| p.anon_bytes.is_some());
    let samples = parts
        .iter()
        .map(|(at_us, p)| {
            let rss = Rss {
                at_s: (at_us - meta.started_us) as f64 / 1e6,
                bytes: if anon { p.anon_bytes } else { None }.unwrap_or(p.rss_bytes),
                heap: p.heap_bytes,
            };
            (p.pid, rss)
        })
        .collect();
    (samples, if anon { "anonymous memory" } else { "RSS" })
}

/// Everything the soak's report says, and its verdict.
pub(crate) fn judge(
    meta: Meta,
    reports: &[Report],
    faults: Vec<SoakFault>,
    timeline: Vec<Bucket>,
    resources: Vec<ResourceSample>,
) -> Soak {
    let totals = totals(reports);
    let leaks = leaks(&meta, &resources, &faults);
    let mut reasons = Vec::new();
    let mut why = |bad: bool, said: String| bad.then(|| reasons.push(said));
    why(totals.runs == 0, "no run was written".into());
    why(totals.lost > 0, format!("{} events lost", totals.lost));
    why(
        totals.applied_twice > 0,
        format!("{} events applied twice", totals.applied_twice),
    );
    why(
        totals.pending > 0,
        format!(
            "{} events still on their way when the drain ended{} (counted neither lost nor verified)",
            totals.pending,
            if meta.drained { "" } else { " (it timed out)" }
        ),
    );
    for f in &faults {
        let what = match (f.healed_us, f.recovered_us) {
            (None, _) => Some("never healed"),
            (Some(_), None) => Some("not seen recovered"),
            _ => None,
        };
        if let Some(what) = what {
            reasons.push(format!("{} at {}: {what}", f.fault, f.started_us));
        }
    }
    for l in leaks.iter().filter(|l| l.verdict == "fail") {
        reasons.push(format!("{}'s memory grew: {}", l.part, l.reason));
    }
    let faults = faults
        .into_iter()
        .map(|f| FaultLine {
            kafka_duplicates: duplicates_during(&f, reports),
            fault: f,
        })
        .collect();
    Soak {
        verdict: if reasons.is_empty() { "pass" } else { "fail" },
        reasons,
        meta,
        totals,
        faults,
        leaks,
        timeline,
        runs: reports.iter().map(run_line).collect(),
        resources,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1 << 20;

    fn meta(soak_s: i64) -> Meta {
        Meta {
            profile: "single".into(),
            rate: 100,
            window_s: 30,
            fault_every_s: 60,
            faults: vec!["processor-kill".into()],
            started_us: 0,
            load_ended_us: soak_s * 1_000_000,
            first_run: 1,
            last_run: 0,
            drain_s: 60,
            drained: true,
        }
    }

    /// A processor sample each second: `pid` and its memory by the second.
    fn processor(soak_s: i64, part: impl Fn(i64) -> (u32, u64)) -> Vec<ResourceSample> {
        (0..=soak_s)
            .map(|t| {
                let (pid, bytes) = part(t);
                let p = PartSample {
                    rss_bytes: bytes,
                    cpu_s: 0.0,
                    pid: Some(pid),
                    anon_bytes: None,
                    heap_bytes: None,
                };
                ResourceSample {
                    at_us: t * 1_000_000,
                    parts: BTreeMap::from([("processor".to_owned(), p)]),
                    wal_bytes: None,
                    kafka_bytes: None,
                    store_bytes: None,
                }
            })
            .collect()
    }

    #[test]
    fn a_restarted_part_is_judged_over_its_last_process_and_its_warm_up_is_no_leak() {
        // 40 MB until a kill at 60 s; the new process warms up from 18 to 21 MB, then flat
        let s = processor(600, |t| match t {
            ..60 => (1, 40 * MB),
            60..=100 => (2, 18 * MB + (t as u64 - 60) * MB * 3 / 40),
            _ => (2, 21 * MB),
        });
        let c = &leaks(&meta(600), &s, &[])[1];
        assert_eq!(c.part, "processor");
        assert_eq!(c.verdict, "pass", "{c:?}");
        assert!(
            c.reason.contains("since its restart at 60 s"),
            "{}",
            c.reason
        );
        assert!(c.baseline_at_s > 60.0, "{c:?}");
        // its windows are said in the soak's seconds, as the report's axis shows them
        let said = format!("MiB at {:.0} s", c.baseline_at_s);
        assert!(c.reason.contains(&said), "{said} in {}", c.reason);
        let said = format!("(from {:.0} s)", c.end_from_s);
        assert!(c.reason.contains(&said), "{said} in {}", c.reason);
    }

    #[test]
    fn a_restarted_part_that_keeps_growing_fails() {
        let s = processor(600, |t| match t {
            ..60 => (1, 40 * MB),
            _ => (2, 18 * MB + (t as u64 - 60) * MB / 10),
        });
        assert_eq!(leaks(&meta(600), &s, &[])[1].verdict, "fail");
    }

    #[test]
    fn a_part_never_sampled_is_not_judged_and_says_so() {
        let c = &leaks(&meta(600), &[], &[])[0];
        assert_eq!((c.part.as_str(), c.verdict), ("verifier", "not_judged"));
    }

    #[test]
    fn the_end_is_read_after_the_last_faults_recovery() {
        // flat 20 MB but for a fault's catch-up burst to 40 MB from 555 s to its recovery at 590 s
        let s = processor(600, |t| {
            (
                1,
                if (555..=590).contains(&t) {
                    40 * MB
                } else {
                    20 * MB
                },
            )
        });
        assert_eq!(leaks(&meta(600), &s, &[])[1].verdict, "fail");
        let fault = SoakFault {
            fault: "broker-kill".into(),
            started_us: 550_000_000,
            healed_us: Some(575_000_000),
            recovered_us: Some(591_000_000),
            recovery_s: Some(16.0),
            worst_ms: None,
        };
        let c = &leaks(&meta(600), &s, &[fault])[1];
        assert_eq!((c.verdict, c.end_from_s), ("pass", 591.0), "{c:?}");
    }

    #[test]
    fn anonymous_memory_is_judged_where_sampled_and_code_paging_in_is_no_leak() {
        // RSS 14 -> 16 MB as a fault's error paths page in the binary's code at 300 s; the
        // anonymous part stays at 4 MB
        let mut s = processor(600, |t| (1, if t < 300 { 14 * MB } else { 16 * MB }));
        let rss = &leaks(&meta(600), &s, &[])[1];
        assert_eq!(rss.verdict, "fail", "{rss:?}");
        assert!(rss.reason.starts_with("RSS: "), "{}", rss.reason);
        for r in &mut s {
            r.parts.get_mut("processor").unwrap().anon_bytes = Some(4 * MB);
        }
        let anon = &leaks(&meta(600), &s, &[])[1];
        assert_eq!((anon.verdict, anon.memory), ("pass", "anonymous memory"));
        assert!(
            anon.reason.starts_with("anonymous memory: 4.0 MiB"),
            "{}",
            anon.reason
        );
        // a sample without it (an older sampler): RSS for the whole part, never a mix
        s[0].parts.get_mut("processor").unwrap().anon_bytes = None;
        assert_eq!(leaks(&meta(600), &s, &[])[1].memory, "RSS");
    }
}
