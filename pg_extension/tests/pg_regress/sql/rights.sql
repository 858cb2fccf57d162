-- A DBA who is not the owner: a login role with no grants can look at the runs (demo_status
-- only reads); each writing function refuses with SQLSTATE 42501, names what is missing and
-- hints the exact GRANT, and writes nothing; after those grants it succeeds.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE ROLE outbox_dba;
SELECT count(*) AS runs_before FROM outbox_demo.runs;

SET ROLE outbox_dba;
SELECT count(*) >= 0 AS can_look FROM demo_status();
SELECT * FROM demo_generate(10, seed => 1);
\echo :LAST_ERROR_SQLSTATE
CALL demo_run(5, rate => 1000);
\echo :LAST_ERROR_SQLSTATE
SELECT demo_stop();
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM demo_reset(confirm => true);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS runs_after_refusals FROM outbox_demo.runs;

-- The grants the hints named.
GRANT USAGE ON SCHEMA activity TO outbox_dba;
GRANT INSERT ON activity.event_outbox TO outbox_dba;
GRANT INSERT, UPDATE ON outbox_demo.runs TO outbox_dba;
SET ROLE outbox_dba;
SELECT users, activities, participants, total_events FROM demo_generate(10, seed => 1);
CALL demo_run(5, rate => 1000, seed => 2);
SELECT demo_stop() AS stopped;
SELECT * FROM demo_reset(confirm => true);
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT, DELETE ON activity.event_outbox TO outbox_dba;
GRANT DELETE ON outbox_demo.runs TO outbox_dba;
SET ROLE outbox_dba;
SELECT * FROM demo_reset(confirm => true);
RESET ROLE;

REVOKE ALL ON activity.event_outbox, outbox_demo.runs FROM outbox_dba;
REVOKE ALL ON SCHEMA activity FROM outbox_dba;
DROP ROLE outbox_dba;
