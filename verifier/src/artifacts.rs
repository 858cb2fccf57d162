//! The report's files in `--out DIR`: report.txt, report.json, report.html and one `.hlog`
//! interval log per stage.

use std::path::Path;

use crate::error::Error;
use crate::hlog::Logs;
use crate::report::Report;

/// Writes every artifact of `report` into `dir` (created when missing).
pub(crate) fn write(dir: &Path, report: &Report, logs: &Logs) -> Result<(), Error> {
    let failed = |source| Error::Artifacts {
        dir: dir.to_owned(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(failed)?;
    std::fs::write(dir.join("report.txt"), report.text()).map_err(failed)?;
    let json = serde_json::to_string_pretty(report).map_err(|e| failed(e.into()))?;
    std::fs::write(dir.join("report.json"), json).map_err(failed)?;
    std::fs::write(dir.join("report.html"), crate::html::render(report)).map_err(failed)?;
    logs.write(dir).map_err(failed)
}
