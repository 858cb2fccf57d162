//! Service-level objectives and their verdict. The defaults are the targets the demo was planned
//! with; `--slo FILE` replaces any of them (a JSON object with the fields of [`Slo`]).

use serde::{Deserialize, Serialize};

/// The objectives. Latencies are end to end (from `t_sched` in rate mode).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Slo {
    /// Events per second, end to end, above which the run passes.
    pub throughput_min_eps: f64,
    /// Throughput is judged only for runs of at least this many events: a run of 10 events
    /// written in one transaction lasts a few milliseconds, and its "rate" says nothing.
    pub throughput_min_events: u64,
    /// Median end to end, ms, below which the run passes.
    pub p50_max_ms: f64,
    /// 95th percentile end to end, ms.
    pub p95_max_ms: f64,
    /// 99th percentile end to end, ms.
    pub p99_max_ms: f64,
    /// Share of the run's events that reached MongoDB, above which the run passes (0..1).
    pub success_rate_min: f64,
}

impl Default for Slo {
    fn default() -> Self {
        Self {
            throughput_min_eps: 100.0,
            throughput_min_events: 1000,
            p50_max_ms: 30.0,
            p95_max_ms: 100.0,
            p99_max_ms: 200.0,
            success_rate_min: 0.999,
        }
    }
}

impl Slo {
    /// Reads an SLO file; fields it does not name keep their defaults.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let slo: Slo = serde_json::from_str(text).map_err(|e| {
            format!("{e}; expected a JSON object with any of throughput_min_eps, throughput_min_events, p50_max_ms, p95_max_ms, p99_max_ms, success_rate_min")
        })?;
        if !(0.0..=1.0).contains(&slo.success_rate_min) {
            return Err(format!(
                "success_rate_min = {} is not a share between 0 and 1 (0.999 means 99.9%)",
                slo.success_rate_min
            ));
        }
        Ok(slo)
    }
}

/// The figures the objectives are judged on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Actual {
    /// Events the run had to deliver.
    pub events: u64,
    /// Events per second end to end (`None` when nothing finished).
    pub throughput_eps: Option<f64>,
    /// End-to-end percentiles, ms (`None` without samples).
    pub p50_ms: Option<f64>,
    /// 95th.
    pub p95_ms: Option<f64>,
    /// 99th.
    pub p99_ms: Option<f64>,
    /// Share delivered.
    pub success_rate: f64,
    /// Events not delivered but not lost either: still on their way, or whose fate cannot be
    /// told. Objectives they would decide are not judged while there are any.
    pub unsettled: u64,
    /// A bulk run: every event committed in one transaction, so they arrive as one burst.
    pub burst: bool,
}

/// How one objective came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judgement {
    /// The run met it.
    Pass,
    /// The run missed it, or has no figure for it.
    Fail,
    /// Not judged (the reason is in [`Check::note`]).
    NotJudged,
}

impl Judgement {
    /// `pass`, `fail` or `not_judged`, as report.json spells it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Judgement::Pass => "pass",
            Judgement::Fail => "fail",
            Judgement::NotJudged => "not_judged",
        }
    }
}

/// One objective judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    /// Name: `throughput`, `p50`, `p95`, `p99`, `success_rate`.
    pub name: String,
    /// The objective in words (`> 100 events/s`).
    pub target: String,
    /// The run's figure (`null` when not measured).
    pub actual: Option<f64>,
    /// `pass`, `fail` or `not_judged` (with the reason in `note`).
    pub verdict: Judgement,
    /// Why an objective was not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Slo {
    /// Judges `a`. An objective with no figure fails (nothing finished), except throughput
    /// for runs smaller than `throughput_min_events`, which is not judged.
    pub fn judge(&self, a: &Actual) -> Vec<Check> {
        let check =
            |name: &str, target: String, actual: Option<f64>, ok: &dyn Fn(f64) -> bool| Check {
                name: name.into(),
                target,
                actual,
                verdict: if actual.is_some_and(ok) {
                    Judgement::Pass
                } else {
                    Judgement::Fail
                },
                note: None,
            };
        let mut throughput = check(
            "throughput",
            format!("> {} events/s", self.throughput_min_eps),
            a.throughput_eps,
            &|v| v > self.throughput_min_eps,
        );
        if a.events < self.throughput_min_events {
            throughput.verdict = Judgement::NotJudged;
            throughput.note = Some(format!(
                "the run has {} events; throughput is judged from {} (throughput_min_events)",
                a.events, self.throughput_min_events
            ));
        }
        let mut checks = vec![
            throughput,
            check("p50", format!("< {} ms", self.p50_max_ms), a.p50_ms, &|v| {
                v < self.p50_max_ms
            }),
            check("p95", format!("< {} ms", self.p95_max_ms), a.p95_ms, &|v| {
                v < self.p95_max_ms
            }),
            check("p99", format!("< {} ms", self.p99_max_ms), a.p99_ms, &|v| {
                v < self.p99_max_ms
            }),
            check(
                "success_rate",
                format!("> {}%", self.success_rate_min * 100.0),
                Some(a.success_rate),
                &|v| v > self.success_rate_min,
            ),
        ];
        if a.burst {
            for c in checks.iter_mut().filter(|c| c.name.starts_with('p')) {
                c.verdict = Judgement::NotJudged;
                c.note = Some(BURST.into());
            }
        }
        if a.unsettled > 0 {
            for c in &mut checks {
                unsettled(c, a.unsettled);
            }
        }
        checks
    }
}

/// Why a bulk run's latencies are shown, not judged.
const BURST: &str = "a bulk run: its events were committed in one transaction and arrive as one burst, so its latency measures the burst, not the pipeline's steady latency; judge latency with a rate run (CALL demo_run(n, rate))";

/// With events still on their way, what they would decide is not judged: the share delivered,
/// the throughput, and latencies nothing has arrived to measure. Latencies of the events that
/// did arrive are judged.
fn unsettled(c: &mut Check, n: u64) {
    let note = match c.name.as_str() {
        "success_rate" | "throughput" => format!("{n} events are still on their way"),
        _ if c.actual.is_none() => format!("no event has arrived yet; {n} are on their way"),
        _ => return,
    };
    if c.verdict != Judgement::NotJudged {
        c.verdict = Judgement::NotJudged;
        c.note = Some(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actual() -> Actual {
        Actual {
            events: 10_000,
            throughput_eps: Some(500.0),
            p50_ms: Some(10.0),
            p95_ms: Some(50.0),
            p99_ms: Some(150.0),
            success_rate: 1.0,
            unsettled: 0,
            burst: false,
        }
    }

    #[test]
    fn a_bulk_run_s_latencies_are_shown_not_judged() {
        let burst = Actual {
            p50_ms: Some(400.0),
            p95_ms: Some(900.0),
            p99_ms: Some(950.0),
            burst: true,
            ..actual()
        };
        let c = Slo::default().judge(&burst);
        for latency in &c[1..=3] {
            assert_eq!(latency.verdict, Judgement::NotJudged, "{latency:?}");
            assert!(latency.note.as_deref().unwrap().contains("burst"));
            assert!(latency.actual.is_some(), "the figure is still shown");
        }
        assert_eq!(c[0].verdict, Judgement::Pass, "throughput still judged");
        assert_eq!(c[4].verdict, Judgement::Pass, "success rate still judged");
    }

    #[test]
    fn events_on_their_way_leave_what_they_decide_unjudged() {
        let late = Actual {
            p50_ms: None,
            p95_ms: None,
            p99_ms: None,
            success_rate: 0.0,
            throughput_eps: None,
            unsettled: 3000,
            ..actual()
        };
        let c = Slo::default().judge(&late);
        assert!(c.iter().all(|c| c.verdict == Judgement::NotJudged), "{c:?}");
        assert!(c[4]
            .note
            .as_deref()
            .unwrap()
            .contains("3000 events are still on their way"));
        // latencies of the events that did arrive are judged
        let slow = Actual {
            p99_ms: Some(900.0),
            success_rate: 0.5,
            unsettled: 10,
            ..actual()
        };
        let c = Slo::default().judge(&slow);
        assert_eq!(c[3].verdict, Judgement::Fail);
        assert_eq!(c[4].verdict, Judgement::NotJudged);
    }

    #[test]
    fn defaults_are_the_planned_targets() {
        let checks = Slo::default().judge(&actual());
        assert!(
            checks.iter().all(|c| c.verdict == Judgement::Pass),
            "{checks:?}"
        );
        let slow = Actual {
            p99_ms: Some(200.0),
            ..actual()
        };
        let c = Slo::default().judge(&slow);
        assert_eq!(c[3].verdict, Judgement::Fail);
        let lossy = Actual {
            success_rate: 0.999,
            ..actual()
        };
        assert_eq!(Slo::default().judge(&lossy)[4].verdict, Judgement::Fail);
    }

    #[test]
    fn small_runs_are_not_judged_on_throughput_and_missing_figures_fail() {
        let small = Actual {
            events: 10,
            throughput_eps: Some(3.0),
            ..actual()
        };
        let c = Slo::default().judge(&small);
        assert_eq!(c[0].verdict, Judgement::NotJudged);
        assert_eq!(
            serde_json::to_string(&c[0].verdict).unwrap(),
            "\"not_judged\""
        );
        assert!(c[0].note.as_deref().unwrap().contains("10 events"));
        let none = Actual {
            p50_ms: None,
            ..actual()
        };
        assert_eq!(Slo::default().judge(&none)[1].verdict, Judgement::Fail);
    }

    #[test]
    fn files_override_some_fields_and_bad_ones_are_named() {
        let s = Slo::from_json(r#"{"p99_max_ms": 500}"#).unwrap();
        assert_eq!(s.p99_max_ms, 500.0);
        assert_eq!(s.p50_max_ms, 30.0);
        let e = Slo::from_json(r#"{"p99": 5}"#).unwrap_err();
        assert!(
            e.contains("unknown field") && e.contains("p99_max_ms"),
            "{e}"
        );
        let e = Slo::from_json(r#"{"success_rate_min": 99.9}"#).unwrap_err();
        assert!(e.contains("0.999"), "{e}");
    }
}
