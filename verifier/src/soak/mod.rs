//! The soak (`scripts/demo/soak.sh`): an hour of steady load with a fault every few minutes,
//! judged on integrity, on every fault's recovery and on the memory of the tool and the
//! consumer. Pure: [`leak`] (the leak rule), [`timeline`] (the 10 s buckets and each fault's
//! recovery), [`judge`] (totals and verdict), [`html`]; I/O: [`files`] (the soak's folder in,
//! `soak.json`, `soak.txt` and `soak.html` out).

pub mod files;
mod html;
pub(crate) mod judge;
pub(crate) mod leak;
pub(crate) mod timeline;

use std::path::Path;

use crate::report::Verdict;

/// `verifier soak-report DIR`: reads the soak's folder, writes its report there, prints the
/// summary; pass or fail.
pub fn report(dir: &Path) -> Result<Verdict, files::SoakFileError> {
    let soak = files::read(dir)?;
    files::write(dir, &soak)?;
    print!("{}", files::summary(&soak));
    println!("report: {}", dir.join("soak.html").display());
    Ok(if soak.verdict == "pass" {
        Verdict::Pass
    } else {
        Verdict::Fail
    })
}
