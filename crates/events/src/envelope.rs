//! The Debezium change envelope of an `activity.event_outbox` row.
//!
//! Kafka Connect runs the `JsonConverter` with schemas disabled, so a record value is the bare
//! envelope: `before`, `after`, `source`, `op`, `ts_us`, … (captured from the real stack in
//! `tests/fixtures/debezium_create.json`). `jsonb` columns arrive as JSON *strings*, and
//! `timestamptz` columns as ISO-8601 strings.

use serde::Deserialize;
use uuid::Uuid;

use crate::time::{parse_timestamp_us, TimestampError};

/// Debezium's operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Op {
    /// `c`: a row was inserted. The only operation an outbox produces.
    #[serde(rename = "c")]
    Create,
    /// `r`: a row read by a snapshot.
    #[serde(rename = "r")]
    Read,
    /// `u`: a row was updated.
    #[serde(rename = "u")]
    Update,
    /// `d`: a row was deleted.
    #[serde(rename = "d")]
    Delete,
    /// `t`: the table was truncated.
    #[serde(rename = "t")]
    Truncate,
}

/// The `source` block: where and when PostgreSQL committed the change.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Source {
    /// Commit time in PostgreSQL, µs since the epoch (`t0c`).
    pub ts_us: i64,
    /// Log sequence number of the change.
    pub lsn: Option<i64>,
    /// Transaction id.
    #[serde(rename = "txId")]
    pub tx_id: Option<i64>,
    /// Schema of the captured table.
    pub schema: String,
    /// Name of the captured table.
    pub table: String,
}

/// One row of `activity.event_outbox` as Debezium sends it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OutboxRow {
    /// Event id (UUIDv7).
    pub id: Uuid,
    /// Generator run that wrote the event; `None` for other writers.
    pub run_id: Option<i64>,
    /// Position in the run, 1..n.
    pub seq: Option<i64>,
    /// `UserCreated`, `ActivityCreated` or `ParticipantJoined` (others are the processor's to
    /// reject).
    pub event_type: String,
    /// `user` or `activity`.
    pub aggregate_type: String,
    /// The user or activity the event belongs to; also the Kafka key.
    pub aggregate_id: Uuid,
    /// The event body as JSON text (a `jsonb` column arrives as a string).
    pub payload: String,
    /// Intended time in rate mode, ISO-8601.
    pub scheduled_at: Option<String>,
    /// Insert time (`t0`), ISO-8601.
    pub created_at: String,
}

impl OutboxRow {
    /// `t0`: the row's `created_at` in µs since the epoch.
    pub fn t0_us(&self) -> Result<i64, TimestampError> {
        parse_timestamp_us(&self.created_at)
    }

    /// `t_sched`: the row's `scheduled_at` in µs since the epoch, when set.
    pub fn t_sched_us(&self) -> Result<Option<i64>, TimestampError> {
        self.scheduled_at
            .as_deref()
            .map(parse_timestamp_us)
            .transpose()
    }
}

/// A decoded Debezium envelope (the fields the pipeline reads; `before` and the rest are
/// ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The row after the change.
    pub after: OutboxRow,
    /// Where and when the change was committed.
    pub source: Source,
    /// What happened.
    pub op: Op,
    /// When Debezium read the change, µs since the epoch (`t1`).
    pub ts_us: i64,
}

/// Why a record value is not a usable outbox envelope. The processor puts the reason in the
/// dead-letter record's header; each message says which part of the value is wrong.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The record has no value (a tombstone).
    #[error("record has no value (tombstone)")]
    Empty,
    /// The value is not JSON.
    #[error("not a Debezium envelope: not JSON: {0}")]
    Json(#[source] serde_json::Error),
    /// The value is JSON, but not an object.
    #[error("not a Debezium envelope: the value is JSON but not an object")]
    NotAnObject,
    /// `"after": null` (or no `after`): the envelope carries no row. `op` is what the envelope
    /// says happened, when it says it in a known way (a delete has no row after it).
    #[error("the envelope has \"after\": null{}: it carries no outbox row", .op.map(|o| format!(" (op {})", o.code())).unwrap_or_default())]
    NoRow {
        /// The envelope's `op`, when known.
        op: Option<Op>,
    },
    /// The `after` row is not an outbox row.
    #[error("the envelope's \"after\" row is not an activity.event_outbox row: {0}")]
    Row(#[source] serde_json::Error),
    /// Another field of the envelope is missing or of the wrong shape.
    #[error("not a Debezium envelope: field {field:?}: {source}")]
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

impl Op {
    /// Whether the operation carries a new row: an insert (`c`) or a snapshot read (`r`).
    pub const fn is_insert(self) -> bool {
        matches!(self, Op::Create | Op::Read)
    }

    /// Debezium's one-letter code.
    pub const fn code(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Read => "r",
            Op::Update => "u",
            Op::Delete => "d",
            Op::Truncate => "t",
        }
    }
}

/// Decodes a record value into an [`Envelope`]. A missing row is said before anything else is
/// looked at, so a value with `"after": null` is named for that, not for another field.
pub fn decode_envelope(value: Option<&[u8]>) -> Result<Envelope, DecodeError> {
    use serde_json::Value;
    let bytes = value.ok_or(DecodeError::Empty)?;
    let value: Value = serde_json::from_slice(bytes).map_err(DecodeError::Json)?;
    let Value::Object(mut fields) = value else {
        return Err(DecodeError::NotAnObject);
    };
    let mut take = |field: &'static str| fields.remove(field).unwrap_or(Value::Null);
    let (after, op) = (take("after"), take("op"));
    if after.is_null() {
        return Err(DecodeError::NoRow {
            op: serde_json::from_value(op).ok(),
        });
    }
    let field = |field: &'static str| move |source| DecodeError::Field { field, source };
    Ok(Envelope {
        after: serde_json::from_value(after).map_err(DecodeError::Row)?,
        op: serde_json::from_value(op).map_err(field("op"))?,
        source: serde_json::from_value(take("source")).map_err(field("source"))?,
        ts_us: serde_json::from_value(take("ts_us")).map_err(field("ts_us"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = include_str!("../tests/fixtures/debezium_create.json");

    #[test]
    fn decodes_a_captured_insert() {
        let env = decode_envelope(Some(CREATE.as_bytes())).unwrap();
        assert_eq!(env.op, Op::Create);
        assert_eq!(env.ts_us, 1_795_816_353_328_219);
        assert_eq!(env.source.ts_us, 1_795_816_353_212_871);
        assert_eq!(env.source.lsn, Some(26_662_920));
        assert_eq!(env.source.tx_id, Some(770));
        assert_eq!(
            (env.source.schema.as_str(), env.source.table.as_str()),
            ("activity", "event_outbox")
        );
        let row = env.after;
        assert_eq!(
            row.id,
            "0193a1b2-0000-7000-8000-000000000001"
                .parse::<Uuid>()
                .unwrap()
        );
        assert_eq!((row.run_id, row.seq), (Some(7), Some(1)));
        assert_eq!(row.event_type, "UserCreated");
        assert_eq!(row.aggregate_type, "user");
        assert_eq!(row.t0_us().unwrap(), 1_795_816_353_211_890);
        assert_eq!(row.t_sched_us().unwrap(), Some(1_795_816_353_210_643));
        let payload: serde_json::Value = serde_json::from_str(&row.payload).unwrap();
        assert_eq!(payload["name"], "Ada Lovelace");
    }

    #[test]
    fn rejects_tombstones_and_non_envelopes() {
        assert!(matches!(decode_envelope(None), Err(DecodeError::Empty)));
        assert!(matches!(
            decode_envelope(Some(b"not json")),
            Err(DecodeError::Json(_))
        ));
        assert!(matches!(
            decode_envelope(Some(b"[1]")),
            Err(DecodeError::NotAnObject)
        ));
        // valid JSON with a row, but no source block
        let no_source = CREATE.replace("\"source\":", "\"sauce\":");
        let e = decode_envelope(Some(no_source.as_bytes())).unwrap_err();
        assert!(e.to_string().contains("field \"source\""), "{e}");
    }

    #[test]
    fn an_envelope_without_a_row_says_so_before_anything_else() {
        // no source, no ts_us either: the missing row is what is named
        let e = decode_envelope(Some(br#"{"op":"c","after":null}"#)).unwrap_err();
        assert!(
            matches!(
                e,
                DecodeError::NoRow {
                    op: Some(Op::Create)
                }
            ),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "the envelope has \"after\": null (op c): it carries no outbox row"
        );
        let e = decode_envelope(Some(br#"{"before":{"id":1}}"#)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the envelope has \"after\": null: it carries no outbox row"
        );
        let bad_row = CREATE.replace("\"event_type\":\"UserCreated\",", "");
        let e = decode_envelope(Some(bad_row.as_bytes())).unwrap_err();
        assert!(e.to_string().contains("missing field `event_type`"), "{e}");
    }

    #[test]
    fn a_row_without_scheduled_at_has_no_t_sched() {
        let text = CREATE.replace(
            r#""scheduled_at":"2026-11-27T21:52:33.210643Z""#,
            r#""scheduled_at":null"#,
        );
        let row = decode_envelope(Some(text.as_bytes())).unwrap().after;
        assert_eq!(row.t_sched_us().unwrap(), None);
    }
}
