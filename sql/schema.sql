-- The application schema in database app (docs/design.md, "PostgreSQL"): the outbox and heartbeat
-- tables (sql/outbox.sql), the publication Debezium reads, and the connector's grants. The
-- outbox belongs to the application, not to the outbox_demo extension.
-- Run by stack/up.sh as a superuser connected to database app, after sql/roles.sql.
-- Idempotent: creates what is missing, destroys nothing.

SET ROLE app;

\ir outbox.sql

SELECT 'CREATE PUBLICATION outbox_publication FOR TABLE activity.event_outbox, activity.cdc_heartbeat'
 WHERE NOT EXISTS (SELECT FROM pg_publication WHERE pubname = 'outbox_publication') \gexec

GRANT CONNECT ON DATABASE app TO debezium;
GRANT USAGE ON SCHEMA activity TO debezium;
GRANT SELECT ON activity.event_outbox TO debezium;
GRANT SELECT, INSERT, UPDATE ON activity.cdc_heartbeat TO debezium;

RESET ROLE;
