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

/// A decoded Debezium envelope.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Envelope {
    /// The row before the change (inserts: `None`).
    pub before: Option<OutboxRow>,
    /// The row after the change (deletes: `None`).
    pub after: Option<OutboxRow>,
    /// Where and when the change was committed.
    pub source: Source,
    /// What happened.
    pub op: Op,
    /// When Debezium read the change, µs since the epoch (`t1`).
    pub ts_us: i64,
}

/// Why a record value is not a usable outbox envelope. The processor puts the reason in the
/// dead-letter record's header.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The record has no value (a tombstone).
    #[error("record has no value (tombstone)")]
    Empty,
    /// The value is not JSON of the envelope's shape.
    #[error("not a Debezium envelope: {0}")]
    Json(#[from] serde_json::Error),
}

/// Decodes a record value into an [`Envelope`].
pub fn decode_envelope(value: Option<&[u8]>) -> Result<Envelope, DecodeError> {
    let bytes = value.ok_or(DecodeError::Empty)?;
    Ok(serde_json::from_slice(bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREATE: &str = include_str!("../tests/fixtures/debezium_create.json");

    #[test]
    fn decodes_a_captured_insert() {
        let env = decode_envelope(Some(CREATE.as_bytes())).unwrap();
        assert_eq!(env.op, Op::Create);
        assert_eq!(env.before, None);
        assert_eq!(env.ts_us, 1_795_816_353_328_219);
        assert_eq!(env.source.ts_us, 1_795_816_353_212_871);
        assert_eq!(env.source.lsn, Some(26_662_920));
        assert_eq!(env.source.tx_id, Some(770));
        assert_eq!(
            (env.source.schema.as_str(), env.source.table.as_str()),
            ("activity", "event_outbox")
        );
        let row = env.after.unwrap();
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
        // valid JSON, but no source block
        assert!(matches!(
            decode_envelope(Some(br#"{"op":"c","ts_us":1}"#)),
            Err(DecodeError::Json(_))
        ));
    }

    #[test]
    fn a_row_without_scheduled_at_has_no_t_sched() {
        let text = CREATE.replace(
            r#""scheduled_at":"2026-11-27T21:52:33.210643Z""#,
            r#""scheduled_at":null"#,
        );
        let row = decode_envelope(Some(text.as_bytes()))
            .unwrap()
            .after
            .unwrap();
        assert_eq!(row.t_sched_us().unwrap(), None);
    }
}
