//! Log levels as the demo scripts spell them.

/// Parses a log level as the demo scripts spell them (`WARNING`) or as tracing does (`warn`).
pub fn parse_level(s: &str) -> Result<tracing::Level, String> {
    match s.to_ascii_uppercase().as_str() {
        "ERROR" => Ok(tracing::Level::ERROR),
        "WARNING" | "WARN" => Ok(tracing::Level::WARN),
        "INFO" => Ok(tracing::Level::INFO),
        "DEBUG" => Ok(tracing::Level::DEBUG),
        "TRACE" => Ok(tracing::Level::TRACE),
        _ => Err(format!(
            "LOG_LEVEL (--log-level) = {s:?} is not a level; use ERROR, WARNING, INFO, DEBUG or TRACE"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_accept_the_demo_spelling() {
        assert_eq!(parse_level("WARNING"), Ok(tracing::Level::WARN));
        assert_eq!(parse_level("debug"), Ok(tracing::Level::DEBUG));
    }
}
