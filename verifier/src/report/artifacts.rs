//! The report's files in `--out DIR`: report.txt, report.json, report.html and one `.hlog`
//! interval log per stage.

use std::path::{Path, PathBuf};

use crate::report::hlog::Logs;
use crate::report::Report;

/// A folder of reports that could not be written.
#[derive(Debug, thiserror::Error)]
#[error("writing the report into {}: {source}", dir.display())]
pub struct WriteError {
    /// The folder (`--out`, a capacity step's, a daemon run's).
    pub dir: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl WriteError {
    /// The error of a write into `dir`, for `map_err`.
    pub(crate) fn into_dir(dir: &Path) -> impl Fn(std::io::Error) -> Self + '_ {
        move |source| Self {
            dir: dir.to_owned(),
            source,
        }
    }
}

/// Writes every artifact of `report` into `dir` (created when missing).
pub(crate) fn write(dir: &Path, report: &Report, logs: &Logs) -> Result<(), WriteError> {
    let failed = WriteError::into_dir(dir);
    std::fs::create_dir_all(dir).map_err(&failed)?;
    std::fs::write(dir.join("report.txt"), report.text()).map_err(&failed)?;
    let json = serde_json::to_string_pretty(report).map_err(|e| failed(e.into()))?;
    std::fs::write(dir.join("report.json"), json).map_err(&failed)?;
    std::fs::write(dir.join("report.html"), crate::report::html::render(report))
        .map_err(&failed)?;
    logs.write(dir).map_err(failed)
}
