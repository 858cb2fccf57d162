//! Why the verifier could not run: exit code 2, with a message that names what was wrong (the
//! flag, the service and its address, the file) and what to do.

use std::path::PathBuf;

use crate::sources::SourceError;

/// Why the verifier could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or a file a flag names.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A service, or the run.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// `/metrics` and `/status` cannot listen where they were told.
    #[error("{0}; set VERIFIER_ADDR (--listen) to another address, or off")]
    Listen(#[source] std::io::Error),
    /// The report could not be written.
    #[error(transparent)]
    Artifacts(#[from] crate::report::artifacts::WriteError),
    /// The daemon's folder of runs (`serve --runs-dir`) cannot be read or written.
    #[error("the folder of runs {dir} (--runs-dir, VERIFIER_RUNS_DIR): {source}")]
    RunsDir {
        /// The folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A soak's folder could not be read or its report written.
    #[error("soak-report: {0}")]
    Soak(#[from] crate::soak::files::SoakFileError),
    /// The token file (`serve --token-file`) could not be written.
    #[error("cannot write the token file {path} (serve --token-file): {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The ready file (`--ready-file`) could not be written.
    #[error("cannot write the ready file {path}: {source}")]
    ReadyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The log file could not be opened.
    #[error("cannot open the log file {path}: {source}")]
    LogFile {
        /// The file (`--log-file`, or verifier.log for the dashboard).
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// A flag, a combination of flags, or a file a flag names, that cannot work: exit code 2.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A command that needs no service (`soak-report`) asked for a service configuration.
    #[error("soak-report reads a folder and needs no service: call verifier::soak::report")]
    NoServices,
    /// `LOG_LEVEL` is not a level.
    #[error("{0}")]
    LogLevel(String),
    /// `--run next` outside `watch`.
    #[error("--run next waits for a run to start: only watch does that; report and check need a run id or latest")]
    NextOutsideWatch,
    /// `--format html` without a folder to write it into.
    #[error("--format html writes report.html: give --out DIR")]
    HtmlWithoutOut,
    /// A capacity search that cannot work.
    #[error("{0}")]
    Capacity(String),
    /// `--listen` is not an address.
    #[error("{0}")]
    Listen(String),
    /// The canary's figures cannot work.
    #[error("{0}")]
    Canary(String),
    /// The SLO file cannot be read or is not an SLO file.
    #[error("--slo {path}: {problem}")]
    Slo {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
    /// The baseline cannot be read or is not a report.json.
    #[error("--baseline {path}: not a report.json: {problem}")]
    Baseline {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: String,
    },
}
