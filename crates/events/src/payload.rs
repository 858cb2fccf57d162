//! The three event types and their payloads (`docs/design.md`, "Events").
//!
//! The generator serialises these into `activity.event_outbox.payload`; the processor decodes
//! them from the envelope's `after.payload`. Decoding is strict about what is required and
//! tolerant of extra fields, so a payload missing a field is rejected (and dead-lettered) while a
//! newer producer may add fields.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The kind of an event, as written in `event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EventType {
    /// A user signed up. Aggregate: the user.
    UserCreated,
    /// A user organised an activity. Aggregate: the activity.
    ActivityCreated,
    /// A user joined an activity. Aggregate: the activity.
    ParticipantJoined,
}

impl EventType {
    /// Every event type, in the order of the mix (`users/activities/participants`).
    pub const ALL: [EventType; 3] = [
        EventType::UserCreated,
        EventType::ActivityCreated,
        EventType::ParticipantJoined,
    ];

    /// The `event_type` column's text.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "UserCreated",
            EventType::ActivityCreated => "ActivityCreated",
            EventType::ParticipantJoined => "ParticipantJoined",
        }
    }

    /// The `aggregate_type` column's text: the kind of entity whose id is the Kafka key.
    pub const fn aggregate_type(self) -> &'static str {
        match self {
            EventType::UserCreated => "user",
            EventType::ActivityCreated | EventType::ParticipantJoined => "activity",
        }
    }

    /// Position in [`EventType::ALL`] (and in per-type count arrays).
    pub const fn index(self) -> usize {
        match self {
            EventType::UserCreated => 0,
            EventType::ActivityCreated => 1,
            EventType::ParticipantJoined => 2,
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `event_type` that is none of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown event type {0:?} (known: UserCreated, ActivityCreated, ParticipantJoined)")]
pub struct UnknownEventType(pub String);

impl FromStr for EventType {
    type Err = UnknownEventType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownEventType(s.to_owned()))
    }
}

/// `UserCreated`: a user signed up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCreated {
    /// The user's id (the aggregate id).
    pub user_id: Uuid,
    /// Full name.
    pub name: String,
    /// Email address, unique among users.
    pub email: String,
    /// Home city.
    pub city: String,
    /// Home country.
    pub country: String,
    /// Activity categories the user follows.
    pub interests: Vec<String>,
}

/// `ActivityCreated`: a user organised an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCreated {
    /// The activity's id (the aggregate id).
    pub activity_id: Uuid,
    /// The user who organises it; created by an earlier event.
    pub organizer_id: Uuid,
    /// Title shown to users.
    pub title: String,
    /// Category, e.g. `hiking`.
    pub category: String,
    /// Where it takes place.
    pub city: String,
    /// When it starts, RFC 3339.
    pub starts_at: String,
    /// How long it lasts.
    pub duration_minutes: u32,
    /// How many participants it takes at most (the organiser not counted).
    pub capacity: u32,
}

/// `ParticipantJoined`: a user joined an activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantJoined {
    /// The activity joined (the aggregate id).
    pub activity_id: Uuid,
    /// The user who joined: not the organiser, and only once per activity.
    pub user_id: Uuid,
    /// When, RFC 3339.
    pub joined_at: String,
}

/// A decoded payload of any of the three types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// See [`UserCreated`].
    UserCreated(UserCreated),
    /// See [`ActivityCreated`].
    ActivityCreated(ActivityCreated),
    /// See [`ParticipantJoined`].
    ParticipantJoined(ParticipantJoined),
}

impl Payload {
    /// The payload's event type.
    pub fn event_type(&self) -> EventType {
        match self {
            Payload::UserCreated(_) => EventType::UserCreated,
            Payload::ActivityCreated(_) => EventType::ActivityCreated,
            Payload::ParticipantJoined(_) => EventType::ParticipantJoined,
        }
    }

    /// The id of the entity the event belongs to (the outbox's `aggregate_id`, the Kafka key).
    pub fn aggregate_id(&self) -> Uuid {
        match self {
            Payload::UserCreated(p) => p.user_id,
            Payload::ActivityCreated(p) => p.activity_id,
            Payload::ParticipantJoined(p) => p.activity_id,
        }
    }

    /// Decodes the JSON text of a payload of the given type.
    pub fn decode(event_type: EventType, json: &str) -> Result<Payload, serde_json::Error> {
        Ok(match event_type {
            EventType::UserCreated => Payload::UserCreated(serde_json::from_str(json)?),
            EventType::ActivityCreated => Payload::ActivityCreated(serde_json::from_str(json)?),
            EventType::ParticipantJoined => Payload::ParticipantJoined(serde_json::from_str(json)?),
        })
    }

    /// Appends the payload's JSON text to `out` (field order as declared; no whitespace).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let result = match self {
            Payload::UserCreated(p) => serde_json::to_writer(&mut *out, p),
            Payload::ActivityCreated(p) => serde_json::to_writer(&mut *out, p),
            Payload::ParticipantJoined(p) => serde_json::to_writer(&mut *out, p),
        };
        // Writing plain structs of strings, numbers and UUIDs into a Vec cannot fail.
        debug_assert!(result.is_ok(), "serialising a payload failed: {result:?}");
    }

    /// The payload's JSON text.
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        self.write_json(&mut out);
        // serde_json writes UTF-8 only.
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_text() {
        for t in EventType::ALL {
            assert_eq!(t.as_str().parse::<EventType>(), Ok(t));
            assert_eq!(EventType::ALL[t.index()], t);
        }
        assert_eq!(
            "OrderPlaced".parse::<EventType>(),
            Err(UnknownEventType("OrderPlaced".into()))
        );
        assert_eq!(EventType::UserCreated.aggregate_type(), "user");
        assert_eq!(EventType::ParticipantJoined.aggregate_type(), "activity");
    }

    #[test]
    fn payloads_round_trip_and_missing_fields_are_rejected() {
        let joined = Payload::ParticipantJoined(ParticipantJoined {
            activity_id: Uuid::from_u128(1),
            user_id: Uuid::from_u128(2),
            joined_at: "2026-01-01T00:00:00Z".into(),
        });
        let json = joined.to_json();
        assert_eq!(
            json,
            r#"{"activity_id":"00000000-0000-0000-0000-000000000001","user_id":"00000000-0000-0000-0000-000000000002","joined_at":"2026-01-01T00:00:00Z"}"#
        );
        assert_eq!(
            Payload::decode(EventType::ParticipantJoined, &json).unwrap(),
            joined
        );
        assert_eq!(joined.aggregate_id(), Uuid::from_u128(1));

        let missing = r#"{"activity_id":"00000000-0000-0000-0000-000000000001"}"#;
        let err = Payload::decode(EventType::ParticipantJoined, missing).unwrap_err();
        assert!(err.to_string().contains("missing field `user_id`"), "{err}");

        // extra fields from a newer producer are tolerated
        let extra = json.replace('}', r#","referrer":"newsletter"}"#);
        assert_eq!(
            Payload::decode(EventType::ParticipantJoined, &extra).unwrap(),
            joined
        );
    }
}
