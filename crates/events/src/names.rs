//! Names fixed by `docs/design.md`. Change one only together with every place that uses it.

/// Kafka topic Debezium writes the outbox's changes to (`<topic.prefix>.<schema>.<table>`).
pub const CDC_TOPIC: &str = "postgres.activity.event_outbox";
/// Dead-letter topic for records the processor cannot apply.
pub const DLQ_TOPIC: &str = "postgres.activity.event_outbox.dlq";
/// Partitions of [`CDC_TOPIC`] created by `stack/up.sh`.
pub const CDC_PARTITIONS: i32 = 3;
/// Consumer group of the event processor.
pub const PROCESSOR_GROUP: &str = "event-processor-group";
/// Consumer group of the verifier's own read of the CDC topic.
pub const VERIFIER_GROUP: &str = "verifier-group";

/// PostgreSQL database of the application.
pub const PG_DATABASE: &str = "app";
/// The outbox table, schema-qualified.
pub const OUTBOX_TABLE: &str = "activity.event_outbox";
/// Logical replication slot of the Debezium connector.
pub const REPLICATION_SLOT: &str = "debezium_outbox";

/// MongoDB database of the projections.
pub const MONGO_DATABASE: &str = "activity";
/// Collection of users, `_id` = user id.
pub const USERS: &str = "users";
/// Collection of activities, `_id` = activity id.
pub const ACTIVITIES: &str = "activities";
/// Collection of per-activity statistics, `_id` = activity id.
pub const STATISTICS: &str = "statistics";
/// One receipt per processed event, `_id` = event id.
pub const PROCESSED_EVENTS: &str = "processed_events";

/// Default addresses (all loopback; see `docs/design.md`, "Ports").
pub mod defaults {
    /// `KAFKA_BOOTSTRAP` when unset.
    pub const KAFKA_BOOTSTRAP: &str = "127.0.0.1:9092";
    /// `MONGODB_URI` when unset.
    pub const MONGODB_URI: &str = "mongodb://127.0.0.1:27017/activity";
    /// `PGHOST` when unset.
    pub const PGHOST: &str = "127.0.0.1";
    /// `PGPORT` when unset.
    pub const PGPORT: u16 = 5432;
    /// `PGUSER` when unset: the application role created by `sql/roles.sql`. Its password is
    /// generated once per install of the local stack (`.stack/secrets/`); there is no default.
    pub const PGUSER: &str = "app";
}
