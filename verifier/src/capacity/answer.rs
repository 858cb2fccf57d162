//! What the capacity search found, in words (pure): the one-line answer, a line per step as it
//! ends, the table of every step, and the bottleneck.

use std::fmt::Write as _;

use super::search::{bottleneck, component, Ending, StepVerdict};
use super::{Capacity, Step};

fn ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 1000.0 => format!("{:.1} s", v / 1000.0),
        Some(v) => format!("{v:.0} ms"),
    }
}

/// A rate with thousands separators: `1,450/s`.
pub(crate) fn rate(v: f64) -> String {
    let digits = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out + "/s"
}

fn verdict(step: &Step) -> &'static str {
    match step.judged.verdict {
        StepVerdict::Sustainable => "sustainable",
        StepVerdict::Unsustainable => "not sustainable",
        StepVerdict::Broken => "BROKEN",
    }
}

/// The line printed when a step ends.
pub(crate) fn step_line(s: &Step) -> String {
    let f = &s.figures;
    let mut o = format!(
        "[capacity] step {}: {} offered, {} delivered; end to end p50 {} p99 {}: {}",
        s.number,
        rate(f.offered),
        f.delivered.map_or("nothing".to_owned(), rate),
        ms(f.p50_ms),
        ms(f.p99_ms),
        verdict(s)
    );
    if !s.judged.reasons.is_empty() {
        let _ = write!(o, " ({})", s.judged.reasons.join("; "));
    }
    if s.judged.generator_bound {
        let _ = write!(
            o,
            " [generator-bound: its own lag p99 {}]",
            ms(f.generator_lag_p99_ms)
        );
    }
    o
}

/// What the live views show beside the step's run: the step, its rate, the steps so far.
pub(crate) fn live_label(number: usize, offered: u64, steps: &[Step]) -> String {
    let so_far: Vec<String> = steps
        .iter()
        .map(|s| format!("{} {}", rate(s.figures.offered), verdict(s)))
        .collect();
    let now = format!("capacity step {number}: {}", rate(offered as f64));
    if so_far.is_empty() {
        now
    } else {
        format!("{now} (so far: {})", so_far.join(", "))
    }
}

/// The stages that grew most from the first step to the first step at the lowest failing rate.
pub(crate) fn bottleneck_of(steps: &[Step]) -> Vec<String> {
    let Some(first) = steps.first() else {
        return Vec::new();
    };
    let worst = steps
        .iter()
        .filter(|s| s.judged.verdict != StepVerdict::Sustainable)
        .min_by(|a, b| a.figures.offered.total_cmp(&b.figures.offered));
    match worst {
        Some(w) if w.number != first.number => {
            bottleneck(&first.figures.stage_p50_ms, &w.figures.stage_p50_ms)
        }
        _ => Vec::new(),
    }
}

/// The answer in one line.
pub(crate) fn line(c: &Capacity) -> String {
    let step_at = |rate: u64| {
        c.steps
            .iter()
            .rev()
            .find(|s| s.figures.offered == rate as f64)
    };
    let failed = c.first_failed.and_then(step_at).map(|s| {
        format!(
            "{} failed: {}",
            rate(s.figures.offered),
            if s.judged.reasons.is_empty() {
                "?".to_owned()
            } else {
                s.judged.reasons.join("; ")
            }
        )
    });
    let neck = if c.bottleneck.is_empty() {
        String::new()
    } else {
        let parts: Vec<&str> = c.bottleneck.iter().map(|s| component(s)).collect();
        format!(
            "; bottleneck: {} ({})",
            c.bottleneck.join(" + "),
            parts.join("; ")
        )
    };
    // The generator matters to the answer where it set the tail at the knee: the first failed
    // rate, or the best one when nothing failed.
    let knee = c
        .first_failed
        .or(c.max_sustainable)
        .and_then(step_at)
        .filter(|s| s.judged.generator_bound);
    let generator = knee.map_or(String::new(), |s| {
        format!(
            "; at {} the generator's own lag behind its schedule (p99 {}) was at least half the end-to-end p99: the generator, not the pipeline, may set the limit (raise TXN_SIZE)",
            rate(s.figures.offered),
            ms(s.figures.generator_lag_p99_ms)
        )
    });
    let good = c.max_sustainable.and_then(step_at);
    let best = good.map(|s| {
        format!(
            "max sustainable: {} within the SLOs (p99 {})",
            rate(s.figures.offered),
            ms(s.figures.p99_ms)
        )
    });
    let body = match (c.ending, best, failed) {
        (Some(Ending::Broken), _, _) => {
            "the search stopped: an event was lost or applied twice, so no capacity means anything (see the step's report)".to_owned()
        }
        (Some(Ending::NoneSustainable), _, Some(f)) => format!("no sustainable rate: {f}"),
        (Some(Ending::ReachedMax), Some(b), _) => {
            format!("{b}, the highest rate tried (MAX_RATE); the knee is above it")
        }
        (Some(Ending::Budget), Some(b), f) => format!(
            "{b} so far; the budget ran out before the search converged{}",
            f.map(|f| format!("; {f}")).unwrap_or_default()
        ),
        (Some(Ending::Budget), None, _) => {
            "no step finished within the budget (BUDGET_S)".to_owned()
        }
        (Some(Ending::Stopped), None, None) => {
            "stopped before the search ended, before any step was judged".to_owned()
        }
        (Some(Ending::Stopped), b, f) => format!(
            "stopped before the search ended{}{}",
            b.map(|b| format!("; {b} so far")).unwrap_or_default(),
            f.map(|f| format!("; {f}")).unwrap_or_default()
        ),
        (_, Some(b), Some(f)) => format!("{b}; {f}"),
        (_, Some(b), None) => b,
        (_, None, Some(f)) => format!("no sustainable rate yet: {f}"),
        (_, None, None) => "no step yet".to_owned(),
    };
    format!("{body}{neck}{generator}")
}

/// The table of every step.
pub(crate) fn table(c: &Capacity) -> String {
    let mut o = format!(
        "{:<5}{:>9}{:>11}{:>9}{:>9}{:>9}{:>14}{:>12}  {:<34}{}\n",
        "step",
        "offered",
        "delivered",
        "p50",
        "p95",
        "p99",
        "lag at end",
        "gen. lag",
        "verdict",
        "grew most vs step 1"
    );
    let first = c.steps.first().map(|s| &s.figures.stage_p50_ms);
    for s in &c.steps {
        let f = &s.figures;
        let grew = first
            .map(|first| bottleneck(first, &f.stage_p50_ms).join("+"))
            .filter(|g| !g.is_empty() && s.number > 1)
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "{:<5}{:>9}{:>11}{:>9}{:>9}{:>9}{:>14}{:>12}  {:<34}{}",
            s.number,
            rate(f.offered),
            f.delivered.map_or("-".into(), rate),
            ms(f.p50_ms),
            ms(f.p95_ms),
            ms(f.p99_ms),
            f.processor_lag_end
                .map_or("unknown".into(), |l| l.to_string()),
            ms(f.generator_lag_p99_ms),
            if s.judged.generator_bound {
                format!("{}, generator-bound", verdict(s))
            } else {
                verdict(s).to_owned()
            },
            grew
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::super::search::{judge, Search, SloMiss, StepFigures};
    use super::super::{CapacityConfig, Step};
    use super::*;
    use crate::model::slo::Slo;

    fn step(number: usize, rate: f64, p99: f64, queue: f64, growing: &[&str]) -> Step {
        let figures = StepFigures {
            offered: rate,
            delivered: Some(rate * 0.99),
            complete: true,
            drained_s: Some(0.3),
            slo_failed: if p99 > 200.0 {
                vec![SloMiss {
                    name: "p99".into(),
                    actual: Some(p99),
                    target: "< 200 ms".into(),
                }]
            } else {
                vec![]
            },
            growing: growing.iter().map(|g| (*g).to_owned()).collect(),
            p50_ms: Some(p99 / 4.0),
            p95_ms: Some(p99 / 2.0),
            p99_ms: Some(p99),
            stage_p50_ms: [
                ("capture", 0.8),
                ("publish", 4.0),
                ("queue", queue),
                ("process", 7.0),
            ]
            .map(|(s, v)| (s.to_owned(), v))
            .into(),
            processor_lag_end: Some(12),
            ..StepFigures::default()
        };
        Step {
            number,
            run_id: number as i64,
            judged: judge(&figures, 5.0),
            figures,
            report: format!("step-{number:02}-{rate}"),
        }
    }

    fn capacity(steps: Vec<Step>, ending: Ending) -> Capacity {
        let mut search = Search::new(100, 10_000, 0.05);
        for s in &steps {
            search.record(
                s.figures.offered as u64,
                s.judged.verdict == StepVerdict::Sustainable,
            );
        }
        let mut c = Capacity {
            schema: "cdc-capacity/1",
            config: CapacityConfig {
                start_rate: 100,
                max_rate: 10_000,
                step_s: 30,
                drain_s: 5,
                budget_s: 600,
                txn_size: 1,
                mix: "50/30/20".into(),
                slo: Slo::default(),
                out: "x".into(),
            },
            max_sustainable: search.good,
            first_failed: search.bad,
            ending: Some(ending),
            bottleneck: Vec::new(),
            answer: String::new(),
            steps,
        };
        c.bottleneck = bottleneck_of(&c.steps);
        c
    }

    #[test]
    fn the_answer_names_the_knee_and_the_bottleneck() {
        let c = capacity(
            vec![
                step(1, 100.0, 30.0, 5.0, &[]),
                step(2, 200.0, 40.0, 6.0, &[]),
                step(3, 400.0, 1900.0, 800.0, &["processor_lag"]),
                step(4, 300.0, 171.0, 9.0, &[]),
            ],
            Ending::Converged,
        );
        assert_eq!(
            line(&c),
            "max sustainable: 300/s within the SLOs (p99 171 ms); 400/s failed: SLO p99 missed: 1.9 s, target < 200 ms; processor_lag grew through the step; bottleneck: queue (records waiting for the consumer)"
        );
        let t = table(&c);
        assert!(t.lines().count() == 5, "{t}");
        assert!(t.contains("not sustainable"), "{t}");
        assert!(
            step_line(&c.steps[2]).contains("400/s offered, 396/s delivered"),
            "{}",
            step_line(&c.steps[2])
        );
    }

    #[test]
    fn rates_read_with_separators_and_a_generator_bound_knee_is_named() {
        assert_eq!(
            [rate(850.0), rate(1_450.0), rate(12_345_678.4)],
            ["850/s", "1,450/s", "12,345,678/s"]
        );
        let mut knee = step(2, 2_000.0, 900.0, 5.0, &[]);
        knee.figures.generator_lag_p99_ms = Some(700.0);
        knee.judged = judge(&knee.figures, 5.0);
        let c = capacity(
            vec![step(1, 1_000.0, 40.0, 5.0, &[]), knee],
            Ending::Converged,
        );
        let l = line(&c);
        assert!(
            l.starts_with("max sustainable: 1,000/s within the SLOs (p99 40 ms); 2,000/s failed")
                && l.ends_with("at 2,000/s the generator's own lag behind its schedule (p99 700 ms) was at least half the end-to-end p99: the generator, not the pipeline, may set the limit (raise TXN_SIZE)"),
            "{l}"
        );
        assert!(table(&c).contains("not sustainable, generator-bound"));
    }

    #[test]
    fn no_sustainable_rate_shows_the_first_step() {
        let c = capacity(
            vec![step(1, 100.0, 900.0, 5.0, &[])],
            Ending::NoneSustainable,
        );
        assert_eq!(
            line(&c),
            "no sustainable rate: 100/s failed: SLO p99 missed: 900 ms, target < 200 ms"
        );
        let html = super::super::plot::render(&c);
        assert!(
            html.contains("<svg") && !html.contains("http"),
            "self-contained"
        );
    }

    #[test]
    fn a_stopped_search_says_what_it_had_found() {
        let none = capacity(Vec::new(), Ending::Stopped);
        assert_eq!(
            line(&none),
            "stopped before the search ended, before any step was judged"
        );
        let some = capacity(vec![step(1, 100.0, 30.0, 5.0, &[])], Ending::Stopped);
        assert!(
            line(&some).starts_with("stopped before the search ended; max sustainable: 100/s"),
            "{}",
            line(&some)
        );
    }
}
