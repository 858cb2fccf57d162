//! A generator run as the manifest `outbox_demo.runs` describes it, and which run to follow
//! (pure).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// How the run wrote its events (`outbox_demo.runs.mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// `demo_generate`: every event in one transaction.
    #[default]
    Bulk,
    /// `demo_run`: an open-loop schedule (`scheduled_at` set).
    Rate,
}

/// Where the run is (`outbox_demo.runs.status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Still writing.
    #[default]
    Running,
    /// Wrote all `n` events.
    Completed,
    /// Ended early by `demo_stop`.
    Stopped,
    /// Its session ended or was cancelled mid-run.
    Interrupted,
    /// The generator met an error.
    Failed,
}

/// A manifest value that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {column}")]
pub struct UnknownValue {
    /// The column.
    pub column: &'static str,
    /// What it held.
    pub value: String,
}

macro_rules! text_enum {
    ($t:ty, $column:literal, $($v:ident => $s:literal),+) => {
        impl $t {
            /// The manifest's spelling.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
        }
        impl FromStr for $t {
            type Err = UnknownValue;
            fn from_str(s: &str) -> Result<Self, UnknownValue> {
                match s {
                    $($s => Ok(Self::$v),)+
                    _ => Err(UnknownValue { column: $column, value: s.to_owned() }),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(RunMode, "mode", Bulk => "bulk", Rate => "rate");
text_enum!(RunStatus, "status", Running => "running", Completed => "completed",
    Stopped => "stopped", Interrupted => "interrupted", Failed => "failed");

/// A generator run, from `outbox_demo.runs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// `run_id`.
    pub run_id: i64,
    /// `bulk` or `rate`.
    pub mode: RunMode,
    /// `running`, `completed`, `stopped`, `interrupted` or `failed`.
    pub status: RunStatus,
    /// Events asked for.
    pub n: i64,
    /// Events written so far (the manifest's count).
    pub written: i64,
    /// Seed.
    pub seed: i64,
    /// Mix, as the manifest spells it.
    pub mix: String,
    /// Events per second asked for (rate mode).
    pub rate: Option<f64>,
    /// Start, µs since the epoch (a rate run: when its first event was due).
    pub started_us: i64,
    /// End, µs since the epoch, once finished.
    pub finished_us: Option<i64>,
}

impl RunInfo {
    /// Whether the generator is done writing.
    pub fn finished(&self) -> bool {
        self.status != RunStatus::Running
    }
}

/// Which run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunSpec {
    /// The run with the highest id.
    Latest,
    /// This run.
    Id(i64),
    /// The first run started after the verifier (`watch` only): it waits for it.
    Next,
}

impl FromStr for RunSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "latest" => return Ok(RunSpec::Latest),
            "next" => return Ok(RunSpec::Next),
            _ => {}
        }
        s.parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(RunSpec::Id)
            .ok_or_else(|| format!("{s:?} is not a run id (a positive number), `latest` or `next`"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_values_keep_their_spelling() {
        for s in ["running", "completed", "stopped", "interrupted", "failed"] {
            let st: RunStatus = s.parse().unwrap();
            assert_eq!(st.as_str(), s);
            assert_eq!(serde_json::to_string(&st).unwrap(), format!("\"{s}\""));
        }
        assert_eq!("rate".parse::<RunMode>().unwrap(), RunMode::Rate);
        let e = "paused".parse::<RunStatus>().unwrap_err();
        assert_eq!(e.to_string(), "\"paused\" is not a known status");
        assert!(!RunInfo::default().finished());
    }

    #[test]
    fn run_specs_parse() {
        assert_eq!("7".parse(), Ok(RunSpec::Id(7)));
        assert_eq!("next".parse(), Ok(RunSpec::Next));
        let e = "0".parse::<RunSpec>().unwrap_err();
        assert!(e.contains("latest") && e.contains("next"), "{e}");
    }
}
