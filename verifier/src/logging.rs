//! Where the log goes: stderr (with colours on a terminal), or a file (always while the
//! dashboard owns the terminal).

use std::io::IsTerminal as _;
use std::sync::Arc;

use crate::config::LogConfig;
use crate::error::Error;

/// Installs the global subscriber.
pub fn init(log: &LogConfig) -> Result<(), Error> {
    let builder = tracing_subscriber::fmt()
        .with_max_level(log.level)
        .with_target(false);
    match &log.file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| Error::LogFile {
                    path: path.clone(),
                    source,
                })?;
            builder.with_ansi(false).with_writer(Arc::new(file)).init();
        }
        None => builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .init(),
    }
    Ok(())
}
