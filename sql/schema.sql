-- The application schema in database app (DESIGN.md, "PostgreSQL"): the outbox the pipeline
-- carries, the heartbeat table that keeps the replication slot moving, the publication Debezium
-- reads, and the connector's grants. The outbox belongs to the application, not to the
-- outbox_demo extension.
-- Run by stack/up.sh as a superuser connected to database app, after sql/roles.sql.
-- Idempotent: creates what is missing, destroys nothing.

SET ROLE app;

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

SELECT 'CREATE PUBLICATION outbox_publication FOR TABLE activity.event_outbox, activity.cdc_heartbeat'
 WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'outbox_publication') \gexec

GRANT CONNECT ON DATABASE app TO debezium;
GRANT USAGE ON SCHEMA activity TO debezium;
GRANT SELECT ON activity.event_outbox TO debezium;
GRANT SELECT, INSERT, UPDATE ON activity.cdc_heartbeat TO debezium;

RESET ROLE;
