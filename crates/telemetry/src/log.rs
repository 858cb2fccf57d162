//! Log levels as the demo scripts spell them, and connection strings fit for a message.

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

/// A connection string fit for a message or a log: its password, if it has one, as `***`
/// (`mongodb://app:s3cret@host/db` reads `mongodb://app:***@host/db`).
pub fn redacted_uri(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return uri.to_owned();
    };
    let host_start = rest.find('/').unwrap_or(rest.len());
    match rest[..host_start].rfind('@') {
        Some(at) => {
            let user = rest[..at].split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***{}", &rest[at..])
        }
        None => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_reaches_a_message() {
        assert_eq!(
            redacted_uri("mongodb://app:s3cret@127.0.0.1:27017/activity?authSource=admin"),
            "mongodb://app:***@127.0.0.1:27017/activity?authSource=admin"
        );
        assert_eq!(
            redacted_uri("mongodb://127.0.0.1:27017/activity"),
            "mongodb://127.0.0.1:27017/activity"
        );
    }

    #[test]
    fn levels_accept_the_demo_spelling() {
        assert_eq!(parse_level("WARNING"), Ok(tracing::Level::WARN));
        assert_eq!(parse_level("debug"), Ok(tracing::Level::DEBUG));
    }
}
