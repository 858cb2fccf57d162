//! From a Kafka record to an event the projections can apply, or to the reason it cannot be
//! applied (which goes into the dead-letter record's header). Pure: no I/O, no clock.

use events::envelope::{decode_envelope, Op};
use events::{EventType, Payload};
use uuid::Uuid;

pub use events::stages::Stamps;

/// An outbox event, decoded and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Event id (`activity.event_outbox.id`).
    pub id: Uuid,
    /// Generator run, when a run wrote it.
    pub run_id: Option<i64>,
    /// Position in the run.
    pub seq: Option<i64>,
    /// The typed body.
    pub payload: Payload,
    /// Timestamps carried by the record.
    pub stamps: Stamps,
}

/// Why a record was dead-lettered. [`Rejection::kind`] is a fixed label for metrics; the
/// message is for people (the DLQ header and the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Fixed category: `invalid_envelope`, `not_an_insert`, `unknown_event_type`,
    /// `invalid_payload`, `aggregate_mismatch`, `invalid_timestamp`.
    pub kind: &'static str,
    /// What exactly was wrong.
    pub message: String,
}

impl Rejection {
    fn new(kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// Every [`Rejection::kind`], for metrics that list each one from the start.
pub const REJECTION_KINDS: [&str; 6] = [
    "invalid_envelope",
    "not_an_insert",
    "unknown_event_type",
    "invalid_payload",
    "aggregate_mismatch",
    "invalid_timestamp",
];

/// Decodes a record value (and its Kafka timestamp in ms) into an [`Event`].
pub fn decode_record(value: Option<&[u8]>, kafka_ts_ms: Option<i64>) -> Result<Event, Rejection> {
    let envelope =
        decode_envelope(value).map_err(|e| Rejection::new("invalid_envelope", e.to_string()))?;
    if !matches!(envelope.op, Op::Create | Op::Read) {
        return Err(Rejection::new(
            "not_an_insert",
            format!(
                "operation {:?} is not an outbox insert (only c and r carry events)",
                envelope.op
            ),
        ));
    }
    let row = envelope.after.ok_or_else(|| {
        Rejection::new("invalid_envelope", "insert envelope without an `after` row")
    })?;
    let event_type: EventType =
        row.event_type
            .parse()
            .map_err(|e: events::payload::UnknownEventType| {
                Rejection::new("unknown_event_type", e.to_string())
            })?;
    let payload = Payload::decode(event_type, &row.payload).map_err(|e| {
        Rejection::new(
            "invalid_payload",
            format!("{event_type} payload of event {}: {e}", row.id),
        )
    })?;
    if payload.aggregate_id() != row.aggregate_id {
        return Err(Rejection::new(
            "aggregate_mismatch",
            format!(
                "event {}: aggregate_id {} differs from the payload's id {}",
                row.id,
                row.aggregate_id,
                payload.aggregate_id()
            ),
        ));
    }
    let stamp_error =
        |e: events::TimestampError| Rejection::new("invalid_timestamp", e.to_string());
    let stamps = Stamps {
        t_sched: row.t_sched_us().map_err(stamp_error)?,
        t0: row.t0_us().map_err(stamp_error)?,
        t0c: envelope.source.ts_us,
        t1: envelope.ts_us,
        t2: kafka_ts_ms.map(|ms| ms.saturating_mul(1000)),
    };
    Ok(Event {
        id: row.id,
        run_id: row.run_id,
        seq: row.seq,
        payload,
        stamps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = include_str!("../../crates/events/tests/fixtures/debezium_create.json");
    const USER_PAYLOAD: &str = r#"{\"user_id\": \"0193a1b2-0000-7000-8000-0000000000aa\", \"name\": \"Ada Lovelace\", \"email\": \"ada@example.org\", \"city\": \"London\", \"country\": \"UK\", \"interests\": [\"chess\"]}"#;

    /// The captured envelope with a complete UserCreated payload.
    fn valid() -> String {
        let start = CREATE.find(r#""payload":""#).unwrap() + r#""payload":""#.len();
        let end = start + CREATE[start..].find(r#"","scheduled_at""#).unwrap();
        format!("{}{USER_PAYLOAD}{}", &CREATE[..start], &CREATE[end..])
    }

    #[test]
    fn decodes_a_valid_event_with_every_stamp() {
        let e = decode_record(Some(valid().as_bytes()), Some(1_795_816_353_330)).unwrap();
        assert_eq!(e.payload.event_type(), EventType::UserCreated);
        assert_eq!((e.run_id, e.seq), (Some(7), Some(1)));
        assert_eq!(
            e.stamps,
            Stamps {
                t_sched: Some(1_795_816_353_210_643),
                t0: 1_795_816_353_211_890,
                t0c: 1_795_816_353_212_871,
                t1: 1_795_816_353_328_219,
                t2: Some(1_795_816_353_330_000),
            }
        );
    }

    #[test]
    fn each_kind_of_bad_record_is_named() {
        let kind = |v: Option<&[u8]>| decode_record(v, None).unwrap_err().kind;
        assert_eq!(kind(None), "invalid_envelope");
        assert_eq!(kind(Some(b"{oops")), "invalid_envelope");
        let update = valid().replace(r#""op":"c""#, r#""op":"u""#);
        assert_eq!(kind(Some(update.as_bytes())), "not_an_insert");
        let unknown = valid().replace("\"UserCreated\"", "\"UserDeleted\"");
        let r = decode_record(Some(unknown.as_bytes()), None).unwrap_err();
        assert_eq!(r.kind, "unknown_event_type");
        assert!(r.message.contains("UserDeleted"), "{}", r.message);
        // the fixture's own payload lacks country and interests
        let r = decode_record(Some(CREATE.as_bytes()), None).unwrap_err();
        assert_eq!(r.kind, "invalid_payload");
        assert!(r.message.contains("country"), "{}", r.message);
        let other = valid().replace(
            r#""aggregate_id":"0193a1b2-0000-7000-8000-0000000000aa""#,
            r#""aggregate_id":"0193a1b2-0000-7000-8000-0000000000bb""#,
        );
        assert_eq!(kind(Some(other.as_bytes())), "aggregate_mismatch");
        let bad_time = valid().replace("2026-11-27T21:52:33.211890Z", "yesterday");
        assert_eq!(kind(Some(bad_time.as_bytes())), "invalid_timestamp");
    }
}
