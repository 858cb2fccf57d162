//! The daemon's folder of runs: its state lives in files, not in memory, so a restart (even
//! after `kill -9`) knows what is finished. `state.json` holds the first run it follows;
//! `run-N/` each run's report (report.txt, report.json, report.html, the .hlog files) and last,
//! once all of them are written, `summary.json`: the run's row, and the mark that the run is
//! finished. A run without it is followed again, from its start.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::book::Row;
use super::latency::StageBuckets;
use crate::error::Error;
use crate::report::artifacts::WriteError;
use crate::report::hlog::Logs;
use crate::report::Report;

/// The folder.
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    dir: PathBuf,
}

/// A finished run's `summary.json`: its row and its latencies in buckets.
#[derive(Debug, Serialize, Deserialize)]
struct Summary {
    #[serde(flatten)]
    row: Row,
    #[serde(default)]
    latency: Vec<StageBuckets>,
}

#[derive(Debug, Serialize, Deserialize)]
struct State {
    first_run: i64,
}

const STATE: &str = "state.json";
const SUMMARY: &str = "summary.json";

impl Folder {
    /// The folder at `dir`, created when missing.
    pub(crate) fn open(dir: &Path) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::RunsDir {
            dir: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    /// The folder's path.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    fn failed(&self, source: std::io::Error) -> Error {
        Error::RunsDir {
            dir: self.dir.clone(),
            source,
        }
    }

    /// The first run followed, when the daemon has started here before.
    pub(crate) fn first_run(&self) -> Result<Option<i64>, Error> {
        match std::fs::read_to_string(self.dir.join(STATE)) {
            Ok(text) => serde_json::from_str::<State>(&text)
                .map(|s| Some(s.first_run))
                .map_err(|e| self.failed(bad_file(STATE, &e))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Records the first run followed.
    pub(crate) fn set_first_run(&self, first_run: i64) -> Result<(), Error> {
        let text = serde_json::to_string(&State { first_run }).expect("state serialises");
        replace(&self.dir.join(STATE), &text).map_err(|e| self.failed(e))
    }

    /// The folder of run `id`.
    pub(crate) fn run_dir(&self, id: i64) -> PathBuf {
        self.dir.join(format!("run-{id}"))
    }

    /// Every finished run's row and latencies (a `summary.json` that cannot be read is named in
    /// the log and its run followed again).
    pub(crate) fn finished(&self) -> Result<Vec<(Row, Vec<StageBuckets>)>, Error> {
        let mut rows = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| self.failed(e))? {
            let entry = entry.map_err(|e| self.failed(e))?;
            if !entry.file_type().map_err(|e| self.failed(e))?.is_dir() {
                continue; // state.json
            }
            let path = entry.path().join(SUMMARY);
            match std::fs::read_to_string(&path) {
                Ok(text) => match serde_json::from_str::<Summary>(&text) {
                    Ok(s) => rows.push((s.row, s.latency)),
                    Err(e) => tracing::warn!("{}: {e}; the run is followed again", path.display()),
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.failed(e)),
            }
        }
        Ok(rows)
    }

    /// Writes run `id`'s report and then its summary, which marks it finished.
    pub(crate) fn finish(
        &self,
        report: &Report,
        logs: &Logs,
        latency: Vec<StageBuckets>,
    ) -> Result<(Row, Vec<StageBuckets>), Error> {
        let dir = self.run_dir(report.run.run_id);
        crate::report::artifacts::write(&dir, report, logs)?;
        let summary = Summary {
            row: Row::of_report(report),
            latency,
        };
        let text = serde_json::to_string_pretty(&summary).expect("a summary serialises");
        replace(&dir.join(SUMMARY), &text).map_err(WriteError::into_dir(&dir))?;
        Ok((summary.row, summary.latency))
    }

    /// Run `id`'s file `name` (report.json, report.html), when the run is finished.
    pub(crate) fn file(&self, id: i64, name: &str) -> Option<String> {
        let dir = self.run_dir(id);
        if !dir.join(SUMMARY).exists() {
            return None;
        }
        std::fs::read_to_string(dir.join(name)).ok()
    }
}

fn bad_file(name: &str, e: &serde_json::Error) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{name}: {e}"))
}

/// Writes `path` whole: a temporary file beside it, then renamed over it.
fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("verifier-folder-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_first_run_survives_a_restart_and_a_bad_state_file_is_named() {
        let dir = scratch("state");
        let f = Folder::open(&dir).unwrap();
        assert_eq!(f.first_run().unwrap(), None);
        f.set_first_run(42).unwrap();
        assert_eq!(Folder::open(&dir).unwrap().first_run().unwrap(), Some(42));
        std::fs::write(dir.join(STATE), "{").unwrap();
        let e = f.first_run().unwrap_err().to_string();
        assert!(e.contains("state.json"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn only_runs_with_a_summary_are_finished() {
        let dir = scratch("finished");
        let f = Folder::open(&dir).unwrap();
        let row = Row {
            run_id: 7,
            mode: "bulk".into(),
            rate: None,
            started_us: 1,
            state: "pass".into(),
            expected: 3,
            on_kafka: 3,
            in_mongodb: 3,
            matched: 3,
            pending: Some(0),
            lost: Some(0),
            applied_twice: Some(0),
            kafka_duplicates: 0,
            e2e_p50_ms: None,
            e2e_p99_ms: None,
        };
        std::fs::create_dir_all(f.run_dir(7)).unwrap();
        std::fs::create_dir_all(f.run_dir(8)).unwrap(); // report half written, no summary
        std::fs::write(f.run_dir(8).join("report.json"), "{}").unwrap();
        let latency = vec![StageBuckets {
            stage: events::stages::Stage::Queue,
            le_s: vec![0.1],
            counts: vec![2, 1],
            sum_s: 0.5,
        }];
        let summary = Summary {
            row: row.clone(),
            latency: latency.clone(),
        };
        replace(
            &f.run_dir(7).join(SUMMARY),
            &serde_json::to_string(&summary).unwrap(),
        )
        .unwrap();
        std::fs::write(f.run_dir(7).join("report.json"), "{\"run\": 7}").unwrap();
        assert_eq!(f.finished().unwrap(), vec![(row, latency)]);
        assert_eq!(f.file(7, "report.json").as_deref(), Some("{\"run\": 7}"));
        assert_eq!(f.file(8, "report.json"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
