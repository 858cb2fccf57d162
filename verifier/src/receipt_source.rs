//! Where the verifier learns when each event was applied (`--receipts`, env `RECEIPTS`), and
//! what the report says of it.

use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::follow::metrics_file::FileTally;

/// A source of receipts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptSource {
    /// The `processed_events` collection, written by `event-processor` (`docs/design.md`).
    ProcessedEvents,
    /// JSON lines in the `EventMetrics` shape that the consumer appends, one per applied event.
    MetricsFile(PathBuf),
}

impl ReceiptSource {
    /// The mode's name, as `--receipts` takes it.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::ProcessedEvents => "processed-events",
            Self::MetricsFile(_) => "metrics-file",
        }
    }
}

impl FromStr for ReceiptSource {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "processed-events" {
            return Ok(Self::ProcessedEvents);
        }
        match s.strip_prefix("metrics-file").map(|rest| rest.strip_prefix(':')) {
            Some(Some(path)) if !path.is_empty() => Ok(Self::MetricsFile(PathBuf::from(path))),
            Some(_) => Err("metrics-file needs the file: metrics-file:PATH".into()),
            None => Err(format!(
                "unknown receipts source '{s}': processed-events (the receipts event-processor writes) or metrics-file:PATH (JSON lines the consumer appends)"
            )),
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
}

impl ReceiptsInfo {
    /// The info of `source`, with the file's tally when it has one.
    pub fn of(source: &ReceiptSource, file: Option<FileTally>) -> Self {
        Self {
            mode: source.mode().to_owned(),
            path: match source {
                ReceiptSource::ProcessedEvents => None,
                ReceiptSource::MetricsFile(p) => Some(p.display().to_string()),
            },
            file,
        }
    }

    /// One line for the text report.
    pub fn describe(&self) -> String {
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
    }
}
