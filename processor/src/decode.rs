//! From a Kafka record to an event the projections can apply, or to the reason it cannot be
//! applied (which goes into the dead-letter record's header). Pure: no I/O, no clock.

use events::envelope::{decode_envelope, DecodeError, Op};
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

/// Why a record cannot be applied: a fixed label for metrics and the `dlq.reason.kind` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectionKind {
    /// Not a Debezium envelope (not JSON, a tombstone, no `after` row).
    InvalidEnvelope,
    /// An update, delete or truncate: only inserts carry events.
    NotAnInsert,
    /// An `event_type` that is none of the three.
    UnknownEventType,
    /// A payload missing a field or of the wrong shape.
    InvalidPayload,
    /// The payload's id differs from `aggregate_id`.
    AggregateMismatch,
    /// `created_at` or `scheduled_at` that is not RFC 3339.
    InvalidTimestamp,
}

impl RejectionKind {
    /// Every kind, for metrics that list each one from the start.
    pub const ALL: [RejectionKind; 6] = [
        RejectionKind::InvalidEnvelope,
        RejectionKind::NotAnInsert,
        RejectionKind::UnknownEventType,
        RejectionKind::InvalidPayload,
        RejectionKind::AggregateMismatch,
        RejectionKind::InvalidTimestamp,
    ];

    /// The label (`invalid_envelope`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectionKind::InvalidEnvelope => "invalid_envelope",
            RejectionKind::NotAnInsert => "not_an_insert",
            RejectionKind::UnknownEventType => "unknown_event_type",
            RejectionKind::InvalidPayload => "invalid_payload",
            RejectionKind::AggregateMismatch => "aggregate_mismatch",
            RejectionKind::InvalidTimestamp => "invalid_timestamp",
        }
    }
}

impl std::fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a record was dead-lettered: its kind, and the message for people (the DLQ header and
/// the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The fixed category.
    pub kind: RejectionKind,
    /// What exactly was wrong.
    pub message: String,
}

impl Rejection {
    fn new(kind: RejectionKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

fn not_an_insert(op: Op, detail: &dyn std::fmt::Display) -> Rejection {
    Rejection::new(
        RejectionKind::NotAnInsert,
        format!(
            "operation {op:?} ({}) is not an outbox insert (only c and r carry events): {detail}",
            op.code()
        ),
    )
}

/// Decodes a record value (and its Kafka timestamp in ms) into an [`Event`].
pub fn decode_record(value: Option<&[u8]>, kafka_ts_ms: Option<i64>) -> Result<Event, Rejection> {
    let envelope = decode_envelope(value).map_err(|e| match e {
        // A delete, or an update without its row: named as the operation it is.
        DecodeError::NoRow { op: Some(op) } if !op.is_insert() => not_an_insert(op, &e),
        e => Rejection::new(RejectionKind::InvalidEnvelope, e.to_string()),
    })?;
    if !envelope.op.is_insert() {
        return Err(not_an_insert(
            envelope.op,
            &"it carries a row, but only inserts are events",
        ));
    }
    let row = envelope.after;
    let event_type: EventType =
        row.event_type
            .parse()
            .map_err(|e: events::payload::UnknownEventType| {
                Rejection::new(RejectionKind::UnknownEventType, e.to_string())
            })?;
    let payload = Payload::decode(event_type, &row.payload).map_err(|e| {
        Rejection::new(
            RejectionKind::InvalidPayload,
            format!("{event_type} payload of event {}: {e}", row.id),
        )
    })?;
    if payload.aggregate_id() != row.aggregate_id {
        return Err(Rejection::new(
            RejectionKind::AggregateMismatch,
            format!(
                "event {}: aggregate_id {} differs from the payload's id {}",
                row.id,
                row.aggregate_id,
                payload.aggregate_id()
            ),
        ));
    }
    let stamp_error =
        |e: events::TimestampError| Rejection::new(RejectionKind::InvalidTimestamp, e.to_string());
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
        assert_eq!(kind(None), RejectionKind::InvalidEnvelope);
        assert_eq!(kind(Some(b"{oops")), RejectionKind::InvalidEnvelope);
        let update = valid().replace(r#""op":"c""#, r#""op":"u""#);
        assert_eq!(kind(Some(update.as_bytes())), RejectionKind::NotAnInsert);
        // "after": null is said, whatever else the envelope lacks
        let r = decode_record(Some(br#"{"op":"c","after":null,"ts_us":1}"#), None).unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidEnvelope);
        assert!(
            r.message.contains("\"after\": null (op c)"),
            "{}",
            r.message
        );
        // a delete has no row after it: it is named as a delete
        let delete = br#"{"op":"d","before":{"id":"x"},"after":null,"source":{}}"#;
        let r = decode_record(Some(delete), None).unwrap_err();
        assert_eq!(r.kind, RejectionKind::NotAnInsert);
        assert!(
            r.message.contains("Delete (d)") && r.message.contains("\"after\": null"),
            "{}",
            r.message
        );
        let unknown = valid().replace("\"UserCreated\"", "\"UserDeleted\"");
        let r = decode_record(Some(unknown.as_bytes()), None).unwrap_err();
        assert_eq!(r.kind, RejectionKind::UnknownEventType);
        assert!(r.message.contains("UserDeleted"), "{}", r.message);
        // the fixture's own payload lacks country and interests
        let r = decode_record(Some(CREATE.as_bytes()), None).unwrap_err();
        assert_eq!(r.kind, RejectionKind::InvalidPayload);
        assert!(r.message.contains("country"), "{}", r.message);
        let other = valid().replace(
            r#""aggregate_id":"0193a1b2-0000-7000-8000-0000000000aa""#,
            r#""aggregate_id":"0193a1b2-0000-7000-8000-0000000000bb""#,
        );
        assert_eq!(
            kind(Some(other.as_bytes())),
            RejectionKind::AggregateMismatch
        );
        let bad_time = valid().replace("2026-11-27T21:52:33.211890Z", "yesterday");
        assert_eq!(
            kind(Some(bad_time.as_bytes())),
            RejectionKind::InvalidTimestamp
        );
    }
}
