//! A fault during a run (`watch --fault-log PATH`), pure: the fault injector (for example
//! `scripts/demo/faults.sh`) appends JSON lines to the file when it injects the fault and when
//! it heals it (`{"fault": "connect-kill", "event": "start", "at_us": …}`, then `"healed"`); the
//! follow loop reads them each second and hands [`FaultTrack`] each second's end-to-end
//! samples. Every sample lands in one phase by the second it was measured in: **before** the
//! fault, **during** (from its start until the pipeline recovered) and **after**. The pipeline
//! has recovered at the first second, from the healing on, when the oldest event still on its
//! way is younger than [`RECOVERED_BELOW_S`] (or none is on its way).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::model::measure::StageSummary;

/// Recovered once the oldest unmatched event is younger than this, in seconds.
pub(crate) const RECOVERED_BELOW_S: f64 = 1.0;

/// One line of the fault log.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct FaultLine {
    /// The scenario, e.g. `processor-kill`.
    pub(crate) fault: String,
    /// `start` or `healed`.
    pub(crate) event: FaultEvent,
    /// µs since the epoch.
    pub(crate) at_us: i64,
}

/// What a line says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FaultEvent {
    /// The fault was injected.
    Start,
    /// The injector healed it (restarted, resumed).
    Healed,
}

/// The lines of a fault log; a line that cannot be read is an error naming it.
pub(crate) fn parse(text: &str) -> Result<Vec<FaultLine>, String> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                format!(
                    "line {}: {e} (want {{\"fault\": NAME, \"event\": \"start\"|\"healed\", \"at_us\": µs}})",
                    i + 1
                )
            })
        })
        .collect()
}

/// The fault as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    /// The scenario.
    pub fault: String,
    /// When it was injected, µs since the epoch.
    pub started_us: Option<i64>,
    /// When it was healed.
    pub healed_us: Option<i64>,
    /// The first second from the healing on when the oldest unmatched event was younger than
    /// 1 s.
    pub recovered_us: Option<i64>,
    /// `recovered_us - healed_us`, seconds.
    pub recovery_s: Option<f64>,
    /// The worst end to end measured during the fault (start to recovery), ms.
    pub worst_ms: Option<f64>,
    /// End to end measured before the fault.
    pub before: StageSummary,
    /// From its start until recovery.
    pub during: StageSummary,
    /// After recovery.
    pub after: StageSummary,
}

/// Follows one fault through a run.
#[derive(Debug)]
pub(crate) struct FaultTrack {
    name: String,
    started_us: Option<i64>,
    healed_us: Option<i64>,
    recovered_us: Option<i64>,
    phases: [Histogram<u64>; 3],
}

impl Default for FaultTrack {
    fn default() -> Self {
        Self {
            name: String::new(),
            started_us: None,
            healed_us: None,
            recovered_us: None,
            phases: std::array::from_fn(|_| events::stages::latency_histogram()),
        }
    }
}

impl FaultTrack {
    /// The log said the fault started and has not said it was healed.
    pub(crate) fn unhealed(&self) -> bool {
        self.started_us.is_some() && self.healed_us.is_none()
    }

    /// Takes the log's lines (all of them, each second: the first start and the first healing
    /// after it count).
    pub(crate) fn lines(&mut self, lines: &[FaultLine]) {
        for l in lines {
            match l.event {
                FaultEvent::Start if self.started_us.is_none() => {
                    self.name.clone_from(&l.fault);
                    self.started_us = Some(l.at_us);
                }
                FaultEvent::Healed if self.started_us.is_some() && self.healed_us.is_none() => {
                    self.healed_us = Some(l.at_us.max(self.started_us.unwrap_or(l.at_us)));
                }
                _ => {}
            }
        }
    }

    /// The samples of the second ending at `now_us`.
    pub(crate) fn second(&mut self, now_us: i64, samples: &Histogram<u64>) {
        let phase = match (self.started_us, self.recovered_us) {
            (Some(s), _) if now_us < s => 0,
            (None, _) => 0,
            (Some(_), None) => 1,
            (Some(_), Some(r)) if now_us <= r => 1,
            _ => 2,
        };
        // Same bounds: cannot fail.
        let _ = self.phases[phase].add(samples);
    }

    /// The backlog at `now_us`: the oldest event on its way (seconds), none when every event
    /// so far is matched.
    pub(crate) fn backlog(&mut self, now_us: i64, oldest_unmatched_s: Option<f64>) {
        if let (Some(h), None) = (self.healed_us, self.recovered_us) {
            if now_us >= h && oldest_unmatched_s.is_none_or(|s| s < RECOVERED_BELOW_S) {
                self.recovered_us = Some(now_us);
            }
        }
    }

    /// What the report shows; `None` when the log never said a fault started.
    pub(crate) fn summary(&self) -> Option<FaultSummary> {
        self.started_us?;
        let of = |name: &str, i: usize| StageSummary::of(name, &self.phases[i], false);
        let during = of("during", 1);
        Some(FaultSummary {
            fault: self.name.clone(),
            started_us: self.started_us,
            healed_us: self.healed_us,
            recovered_us: self.recovered_us,
            recovery_s: match (self.healed_us, self.recovered_us) {
                (Some(h), Some(r)) => Some((r - h) as f64 / 1e6),
                _ => None,
            },
            worst_ms: during.max_ms,
            before: of("before", 0),
            during,
            after: of("after", 2),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(ms: &[u64]) -> Histogram<u64> {
        let mut h = events::stages::latency_histogram();
        for v in ms {
            h.record(v * 1000).unwrap();
        }
        h
    }

    fn line(event: &str, at_s: i64) -> String {
        format!(
            r#"{{"fault": "connect-kill", "event": "{event}", "at_us": {}}}"#,
            at_s * 1_000_000
        )
    }

    #[test]
    fn recovery_runs_from_the_healing_to_the_first_second_with_a_young_backlog() {
        let mut t = FaultTrack::default();
        let log = parse(&format!("{}\n{}\n", line("start", 10), line("healed", 13))).unwrap();
        // seconds 8..20: the backlog ages during the fault and drains two seconds after healing
        let oldest = |s: i64| match s {
            10..=14 => Some((s - 9) as f64),
            15 => Some(1.2),
            16 => Some(0.4),
            _ => Some(0.2),
        };
        for s in 8..20 {
            if s == 11 {
                t.lines(&log); // the injector wrote both lines by now; read late
            }
            let e2e = if (10..16).contains(&s) {
                samples(&[900, 2500])
            } else {
                samples(&[10, 20])
            };
            t.second(s * 1_000_000, &e2e);
            t.backlog(s * 1_000_000, oldest(s));
        }
        let f = t.summary().unwrap();
        assert_eq!(f.fault, "connect-kill");
        assert_eq!(f.recovered_us, Some(16_000_000));
        assert_eq!(f.recovery_s, Some(3.0));
        // seconds 8..=10 before (10 counted before: its samples came before the line was read),
        // 11..=16 during, 17.. after
        assert_eq!(f.before.count, 6);
        assert_eq!(f.during.count, 12);
        assert_eq!(f.after.count, 6);
        assert!(
            (f.worst_ms.unwrap() - 2500.0).abs() < 5.0,
            "{:?}",
            f.worst_ms
        );
        assert!(f.after.max_ms.unwrap() < 25.0);
    }

    #[test]
    fn a_fault_never_healed_never_recovers_and_no_start_means_no_fault() {
        let mut t = FaultTrack::default();
        t.lines(&parse(&line("healed", 3)).unwrap());
        assert_eq!(t.summary(), None, "a healing without a start is no fault");
        t.lines(&parse(&line("start", 5)).unwrap());
        for s in 5..9 {
            t.second(s * 1_000_000, &samples(&[50]));
            t.backlog(s * 1_000_000, None);
        }
        let f = t.summary().unwrap();
        assert_eq!(
            (f.healed_us, f.recovered_us, f.recovery_s),
            (None, None, None)
        );
        assert_eq!(f.during.count, 4);
    }

    #[test]
    fn an_empty_backlog_at_the_healing_is_recovered_at_once() {
        let mut t = FaultTrack::default();
        t.lines(&parse(&format!("{}\n{}", line("start", 1), line("healed", 2))).unwrap());
        t.backlog(2_000_000, None);
        assert_eq!(t.summary().unwrap().recovery_s, Some(0.0));
    }

    #[test]
    fn a_malformed_line_is_named() {
        let e = parse(&format!("{}\n{{\"fault\": 1}}\n", line("start", 1))).unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
