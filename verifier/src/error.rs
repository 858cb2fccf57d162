//! Why the verifier could not run: exit code 2, with a message that names what was wrong (the
//! flag, the service and its address, the file) and what to do.

use std::path::PathBuf;

use crate::config::ConfigError;
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
    #[error("writing the report into {dir}: {source}")]
    Artifacts {
        /// The folder (`--out`).
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
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
