//! Microsecond timestamps since the Unix epoch.
//!
//! Every stage timestamp in this project (`t_sched`, `t0` … `t5`, see `docs/design.md`) is an `i64`
//! count of microseconds since 1970-01-01T00:00:00Z. Debezium sends `timestamptz` columns as
//! ISO-8601 strings with an offset (`2026-11-27T21:33:47.123456Z`); [`parse_timestamp_us`] turns
//! them into that unit without losing the microseconds.

use chrono::DateTime;

/// A timestamp string that is not ISO-8601 / RFC 3339 with an offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 timestamp with offset: {input:?}")]
pub struct TimestampError {
    /// The text that failed to parse.
    pub input: String,
}

/// Parses an RFC 3339 timestamp (`2026-11-27T21:33:47.123456Z`, any offset, 0 to 9 fraction
/// digits) into microseconds since the epoch. Nanoseconds below a microsecond are truncated
/// toward the past.
pub fn parse_timestamp_us(text: &str) -> Result<i64, TimestampError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|_| TimestampError {
            input: text.to_owned(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debezium_zoned_timestamps() {
        assert_eq!(parse_timestamp_us("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_timestamp_us("2026-11-27T21:33:47.123456Z"),
            Ok(1_795_815_227_123_456)
        );
        // fewer fraction digits, and an offset other than Z
        assert_eq!(
            parse_timestamp_us("2026-11-27T22:33:47.1+01:00"),
            Ok(1_795_815_227_100_000)
        );
        // nanoseconds are truncated to the microsecond
        assert_eq!(parse_timestamp_us("1970-01-01T00:00:00.000001999Z"), Ok(1));
    }

    #[test]
    fn rejects_text_without_offset() {
        let err = parse_timestamp_us("2026-11-27 21:33:47").unwrap_err();
        assert_eq!(err.input, "2026-11-27 21:33:47");
    }
}
