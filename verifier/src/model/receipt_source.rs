//! Where the verifier learns when each event was applied (`--receipts`, env `RECEIPTS`), and
//! what the report says of it.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use std::time::Duration;

use crate::model::measure::StageSummary;

/// A source of receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptSource {
    /// The `processed_events` collection, written by `event-processor` (`docs/design.md`).
    ProcessedEvents,
    /// JSON lines in the `EventMetrics` shape that the consumer appends, one per applied event.
    MetricsFile(PathBuf),
    /// No cooperation: the store polled every `poll` for each event's effect.
    Observe {
        /// The poll interval.
        poll: Duration,
    },
}

/// Malformed lines of a metrics file named in the report; the rest are counted.
pub(crate) const NAMED: usize = 20;

/// Observe mode's poll interval unless `observe:MS` says otherwise.
pub(crate) const OBSERVE_POLL: Duration = Duration::from_millis(20);

impl ReceiptSource {
    /// The mode's name, as `--receipts` takes it.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::ProcessedEvents => "processed-events",
            Self::MetricsFile(_) => "metrics-file",
            Self::Observe { .. } => "observe",
        }
    }
}

impl FromStr for ReceiptSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "processed-events" {
            return Ok(Self::ProcessedEvents);
        }
        if let Some(rest) = s.strip_prefix("observe") {
            let poll = match rest.strip_prefix(':') {
                None if rest.is_empty() => OBSERVE_POLL,
                Some(ms) => match ms.parse::<u64>() {
                    Ok(ms) if (1..=10_000).contains(&ms) => Duration::from_millis(ms),
                    _ => return Err(format!("observe:{ms}: give the poll interval in ms, 1 to 10000 (observe alone: 20)")),
                },
                None => return Err(format!("unknown receipts source '{s}': did you mean observe or observe:MS?")),
            };
            return Ok(Self::Observe { poll });
        }
        match s.strip_prefix("metrics-file").map(|rest| rest.strip_prefix(':')) {
            Some(Some(path)) if !path.is_empty() => Ok(Self::MetricsFile(PathBuf::from(path))),
            Some(_) => Err("metrics-file needs the file: metrics-file:PATH".into()),
            None => Err(format!(
                "unknown receipts source '{s}': processed-events (the receipts event-processor writes), metrics-file:PATH (JSON lines the consumer appends) or observe[:MS] (the store polled for each event's effect)"
            )),
        }
    }
}

/// What the metrics file held, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileTally {
    /// Complete lines read (every generation of the file).
    pub lines: u64,
    /// Lines of this run's events.
    pub of_this_run: u64,
    /// Well-formed lines of events of other runs (or of none: not in the outbox 30 s after
    /// they were read).
    pub of_other_runs: u64,
    /// Lines that could not be read.
    pub malformed: u64,
    /// The first [`NAMED`] of them: `line N: what is wrong`.
    pub malformed_lines: Vec<String>,
    /// Times the file was replaced or truncated and read again from its start.
    pub reopened: u64,
    /// The file did not exist when following began (it was waited for).
    pub created_late: bool,
}

/// What observing cost and how fine it saw, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObserveTally {
    /// The poll interval, ms.
    pub poll_ms: f64,
    /// Reads of the store (one per poll with something pending).
    pub polls: u64,
    /// Events looked for, summed over the reads.
    #[serde(default)]
    pub looked_for: u64,
    /// Documents read from the store.
    pub documents_read: u64,
    /// Seconds from the first poll to the last.
    pub seconds: f64,
    /// `documents_read / seconds`.
    pub documents_per_s: Option<f64>,
    /// Effects found.
    pub found: u64,
    /// Of those, found only by the last look at every pending event when following stopped.
    #[serde(default)]
    pub found_by_last_look: u64,
    /// Events still missing when a later one of their partition was found, at the end: looked
    /// for again a few at a time (`follow::watchlist`).
    #[serde(default)]
    pub passed_over: u64,
    /// Joins found by their event id in `applied_events`.
    #[serde(default)]
    pub joins_in_applied_events: u64,
    /// Joins found by the joining user in `participants` (a consumer that keeps no
    /// `applied_events`).
    #[serde(default)]
    pub joins_in_participants: u64,
    /// Per event, the window its write is known to lie in (last read without it to the end of
    /// the first read with it).
    pub resolution: StageSummary,
}

impl ObserveTally {
    /// Which rule found the joins, for the report's `receipts:` line.
    pub fn joins_rule(&self) -> String {
        match (self.joins_in_applied_events, self.joins_in_participants) {
            (0, 0) => "no join found".to_owned(),
            (a, 0) => format!("joins found by their event id in applied_events ({a})"),
            (0, p) => format!(
                "joins found by the joining user in participants ({p}; the consumer keeps no applied_events)"
            ),
            (a, p) => format!(
                "joins found by their event id in applied_events ({a}) and by the joining user in participants ({p})"
            ),
        }
    }
}

/// The receipts of a report: where they came from, and (metrics file) what the file held.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiptsInfo {
    /// `processed-events` or `metrics-file`.
    pub mode: String,
    /// The metrics file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// What the metrics file held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<FileTally>,
    /// What observing read and how fine it saw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observe: Option<ObserveTally>,
}

impl ReceiptsInfo {
    /// The info of `source`, with the file's or the observer's tally when it has one.
    pub fn of(
        source: &ReceiptSource,
        file: Option<FileTally>,
        observe: Option<ObserveTally>,
    ) -> Self {
        Self {
            mode: source.mode().to_owned(),
            path: match source {
                ReceiptSource::MetricsFile(p) => Some(p.display().to_string()),
                _ => None,
            },
            file,
            observe,
        }
    }

    /// One line for the text report.
    pub fn describe(&self) -> String {
        if let Some(o) = &self.observe {
            let ms = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
            return format!(
                "observe: the store polled every {:.0} ms for each event's effect; T5 is when the read that first found it returned, within {} (p50) / {} (p99) / {} (max) of the write; queue and process not measured; {}; the verifier read {} documents ({}/s) in {} reads, looking for {} events in all{}{}",
                o.poll_ms,
                ms(o.resolution.p50_ms),
                ms(o.resolution.p99_ms),
                ms(o.resolution.max_ms),
                o.joins_rule(),
                o.documents_read,
                o.documents_per_s.map_or("-".to_owned(), |v| format!("{v:.0}")),
                o.polls,
                o.looked_for,
                match o.passed_over {
                    0 => String::new(),
                    n => format!("; {n} passed over by the consumer (later events of their partition found), looked for again a few at a time"),
                },
                match o.found_by_last_look {
                    0 => String::new(),
                    n => format!("; {n} found only by the last look at every pending event when following stopped"),
                }
            );
        }
        match (&self.path, &self.file) {
            (Some(path), Some(f)) => {
                let mut s = format!(
                    "metrics file {path}: {} lines, {} of this run, {} of other runs, {} malformed",
                    f.lines, f.of_this_run, f.of_other_runs, f.malformed
                );
                if f.reopened > 0 {
                    s += &format!(", read again from its start {} time(s)", f.reopened);
                }
                s
            }
            (Some(path), None) => format!("metrics file {path}"),
            _ => "processed_events (the receipts event-processor writes)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_mode_and_names_what_is_wrong() {
        assert_eq!(
            "processed-events".parse(),
            Ok(ReceiptSource::ProcessedEvents)
        );
        assert_eq!(
            "metrics-file:/tmp/m.jsonl".parse(),
            Ok(ReceiptSource::MetricsFile("/tmp/m.jsonl".into()))
        );
        assert!("metrics-file"
            .parse::<ReceiptSource>()
            .unwrap_err()
            .contains("metrics-file:PATH"));
        assert!("metrics-file:"
            .parse::<ReceiptSource>()
            .unwrap_err()
            .contains("needs the file"));
        assert!("kafka"
            .parse::<ReceiptSource>()
            .unwrap_err()
            .contains("unknown receipts source 'kafka'"));
        assert_eq!(
            "observe".parse(),
            Ok(ReceiptSource::Observe { poll: OBSERVE_POLL })
        );
        assert_eq!(
            "observe:50".parse(),
            Ok(ReceiptSource::Observe {
                poll: Duration::from_millis(50)
            })
        );
        assert!("observe:0"
            .parse::<ReceiptSource>()
            .unwrap_err()
            .contains("1 to 10000"));
        assert!("observer"
            .parse::<ReceiptSource>()
            .unwrap_err()
            .contains("did you mean observe"));
    }
}
