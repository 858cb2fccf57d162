//! One line of a consumer's metrics file (`docs/design.md`, "METRICS_FILE"): the `EventMetrics`
//! JSON object a consumer appends for each event it applied. Pure: the parse and the units.
//!
//! The verifier reads `event_id`, `t3_start` (the consumer received the record), `t5_end` (the
//! store acknowledged its effects) and, when present, `t1_kafka` (the Kafka record timestamp:
//! T2). The other fields (`event_type`, `t0_created`, `kafka_lag_ms`, `processing_time_ms`,
//! `total_latency_ms`, `timestamp`) are the consumer's own view and are not needed: the
//! schedule, the insert time and the type come from the outbox.
//!
//! A time is a JSON number, in one of two units told apart by magnitude: integer microseconds
//! since the epoch (`1796150000123456`; what `event-processor` writes) or seconds, integer or
//! fractional (`1796150000.123456`; Python's `time.time()`). Below 10^11 it is seconds (10^11 µs
//! would be a day after 1970, 10^11 s the year 5138); from 10^11 to 10^14 it would be
//! milliseconds, which the line is refused for rather than guessed at.

use serde_json::Value;
use uuid::Uuid;

/// What the verifier takes from one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MetricsLine {
    /// The event.
    pub event_id: Uuid,
    /// The Kafka record timestamp, µs (`t1_kafka`), when the line has it.
    pub t2: Option<i64>,
    /// The consumer received the record, µs.
    pub t3: i64,
    /// The store acknowledged the event's effects, µs.
    pub t5: i64,
}

/// Below this a time is seconds.
const SECONDS_BELOW: f64 = 1e11;
/// From [`SECONDS_BELOW`] to this a time would be milliseconds: refused.
const MILLIS_BELOW: f64 = 1e14;

/// Parses one line; the error says what is wrong with it, in words.
pub(crate) fn parse(line: &str) -> Result<MetricsLine, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| "not a JSON object".to_owned())?;
    let id = obj
        .get("event_id")
        .and_then(Value::as_str)
        .ok_or_else(|| "no event_id string".to_owned())?;
    let event_id =
        Uuid::parse_str(id).map_err(|e| format!("event_id {id:?} is not a UUID ({e})"))?;
    let time = |field: &str| -> Result<Option<i64>, String> {
        match obj.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => micros(field, v).map(Some),
        }
    };
    let t3 = time("t3_start")?.ok_or_else(|| "no t3_start".to_owned())?;
    let t5 = time("t5_end")?.ok_or_else(|| "no t5_end".to_owned())?;
    if t5 < t3 {
        return Err(format!("t5_end {t5} µs is before t3_start {t3} µs"));
    }
    Ok(MetricsLine {
        event_id,
        t2: time("t1_kafka")?,
        t3,
        t5,
    })
}

/// A time field in µs since the epoch (see the module's note on units).
pub(crate) fn micros(field: &str, v: &Value) -> Result<i64, String> {
    let x = v
        .as_f64()
        .ok_or_else(|| format!("{field} is not a number ({v})"))?;
    if !(x > 0.0 && x.is_finite()) {
        return Err(format!("{field} {v} is not a time after 1970"));
    }
    if x < SECONDS_BELOW {
        return Ok((x * 1e6).round() as i64);
    }
    if x < MILLIS_BELOW {
        return Err(format!(
            "{field} {v} looks like milliseconds: give microseconds (an integer) or seconds"
        ));
    }
    // An integer in µs is taken exactly (an f64 holds today's µs to the unit, but not every
    // integer a line could carry).
    Ok(v.as_i64().unwrap_or(x.round() as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0193a1b2-0000-7000-8000-000000000001";

    #[test]
    fn event_processor_lines_in_microseconds() {
        let line = format!(
            r#"{{"event_id":"{ID}","event_type":"UserCreated","t0_created":1796150000000000,"t1_kafka":1796150000004000,"t3_start":1796150000006123,"t5_end":1796150000009456,"kafka_lag_ms":2.1,"processing_time_ms":3.3,"total_latency_ms":9.4,"timestamp":"2026-12-01T10:00:00Z"}}"#
        );
        assert_eq!(
            parse(&line),
            Ok(MetricsLine {
                event_id: ID.parse().unwrap(),
                t2: Some(1_796_150_000_004_000),
                t3: 1_796_150_000_006_123,
                t5: 1_796_150_000_009_456,
            })
        );
    }

    #[test]
    fn python_lines_in_seconds_and_without_t1() {
        let line = format!(
            r#"{{"event_id":"{ID}","t3_start":1796150000.006123,"t5_end":1796150000.0095}}"#
        );
        let m = parse(&line).unwrap();
        assert_eq!(
            (m.t2, m.t3, m.t5),
            (None, 1_796_150_000_006_123, 1_796_150_000_009_500)
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("not json", "not JSON"),
            ("[1]", "not a JSON object"),
            (r#"{"t3_start":1,"t5_end":2}"#, "no event_id"),
            (
                r#"{"event_id":"x","t3_start":1,"t5_end":2}"#,
                "is not a UUID",
            ),
            (
                &format!(r#"{{"event_id":"{ID}","t5_end":2}}"#),
                "no t3_start",
            ),
            (
                &format!(r#"{{"event_id":"{ID}","t3_start":"now","t5_end":2}}"#),
                "t3_start is not a number",
            ),
            (
                &format!(
                    r#"{{"event_id":"{ID}","t3_start":1796150000123,"t5_end":1796150000124}}"#
                ),
                "looks like milliseconds",
            ),
            (
                &format!(r#"{{"event_id":"{ID}","t3_start":-5,"t5_end":2}}"#),
                "not a time after 1970",
            ),
            (
                &format!(r#"{{"event_id":"{ID}","t3_start":1796150001,"t5_end":1796150000}}"#),
                "is before t3_start",
            ),
        ];
        for (line, want) in cases {
            let e = parse(line).unwrap_err();
            assert!(e.contains(want), "{line}: {e}");
        }
    }
}
