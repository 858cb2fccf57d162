-- The application's tables in schema activity (docs/design.md, "PostgreSQL"): the outbox the pipeline
-- carries and the heartbeat table that keeps the replication slot moving. Plain SQL, idempotent.
-- Included by sql/schema.sql (as role app), and by the outbox_demo extension's test build, so
-- its pgrx tests run against the same table.

CREATE SCHEMA IF NOT EXISTS activity;

CREATE TABLE IF NOT EXISTS activity.event_outbox (
    id             uuid        PRIMARY KEY,          -- event id, UUIDv7 (time-ordered)
    run_id         bigint,                           -- generator run; null for other writers
    seq            bigint,                           -- 1..n, dense within a run
    event_type     text        NOT NULL,             -- UserCreated | ActivityCreated | ParticipantJoined
    aggregate_type text        NOT NULL,             -- user | activity
    aggregate_id   uuid        NOT NULL,             -- the Kafka key
    payload        jsonb       NOT NULL,             -- the event body
    scheduled_at   timestamptz,                      -- intended time, rate mode only (t_sched)
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),  -- T0
    CONSTRAINT event_outbox_seq_needs_run CHECK (seq IS NULL OR run_id IS NOT NULL)
);
COMMENT ON TABLE activity.event_outbox IS
    'Transactional outbox captured by Debezium into topic postgres.activity.event_outbox';

-- A run's events are looked up by (run_id, seq) by the verifier; seq is unique within a run.
CREATE UNIQUE INDEX IF NOT EXISTS event_outbox_run_seq
    ON activity.event_outbox (run_id, seq) WHERE run_id IS NOT NULL;

-- Debezium's heartbeat.action.query writes the one row of this table every heartbeat interval.
-- It is in the publication, so the connector sees a change and advances the slot even when the
-- outbox is idle.
CREATE TABLE IF NOT EXISTS activity.cdc_heartbeat (
    id      smallint    PRIMARY KEY,
    beat_at timestamptz NOT NULL
);
