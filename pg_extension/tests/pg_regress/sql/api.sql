-- The user-visible API of outbox_demo, as a DBA meets it in psql. Output is deterministic: a
-- fixed seed fixes every payload (entity ids included); timings are left out.
\set VERBOSITY default
\set SHOW_CONTEXT never
SET client_min_messages = warning;

-- What the extension gives: functions and the procedure, none SECURITY DEFINER, each pinning
-- search_path but demo_run (a procedure that commits cannot carry SET).
SELECT n.nspname || '.' || p.proname AS routine, p.prokind,
       pg_get_function_identity_arguments(p.oid) AS arguments,
       p.prosecdef AS security_definer, p.proconfig AS settings
  FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace
  JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'outbox_demo'
 ORDER BY 1;

-- Bulk mode: the returned row, and the run it wrote.
SELECT users, activities, participants, total_events FROM demo_generate(10, seed => 1);
SELECT seq, event_type, aggregate_type, payload
  FROM activity.event_outbox
 WHERE run_id = (SELECT max(run_id) FROM outbox_demo.runs)
 ORDER BY seq;
SELECT mode, status, n, seed, mix, written, users, activities, participants, deviations
  FROM outbox_demo.runs ORDER BY run_id;

-- A custom mix, in batches of 7.
SELECT users, activities, participants, total_events
  FROM demo_generate(100, mix => '20/30/50', seed => 2, batch_size => 7);

-- Rate mode: 5 events at 1000/s, 2 per transaction; scheduled_at 1 ms apart.
CALL demo_run(5, rate => 1000, txn_size => 2, seed => 3);
SELECT seq, event_type,
       extract(epoch FROM scheduled_at - first_value(scheduled_at) OVER (ORDER BY seq)) * 1000 AS due_ms
  FROM activity.event_outbox
 WHERE run_id = (SELECT max(run_id) FROM outbox_demo.runs)
 ORDER BY seq;
SELECT run_id, mode, status, n, written, progress_pct, rate, txn_size, lag_p50_ms IS NOT NULL AS lag_recorded
  FROM demo_status();

-- Bad input: SQLSTATE 22023 with a detail and a hint, and nothing written.
SELECT * FROM demo_generate(0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM demo_generate(NULL);
\echo :LAST_ERROR_SQLSTATE
CALL demo_run(10, rate => NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM demo_generate(10, mix => '50/30');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM demo_generate(10, mix => '0/50/50');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM demo_generate(10, batch_size => 0);
\echo :LAST_ERROR_SQLSTATE
CALL demo_run(10, rate => 0);
\echo :LAST_ERROR_SQLSTATE
CALL demo_run(10, rate => 100, txn_size => 0);
\echo :LAST_ERROR_SQLSTATE
SET outbox_demo.max_events = 1000;
SELECT * FROM demo_generate(1001);
\echo :LAST_ERROR_SQLSTATE
RESET outbox_demo.max_events;
SELECT demo_stop(999);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM demo_reset();
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS events, (SELECT count(*) FROM outbox_demo.runs) AS runs FROM activity.event_outbox;

-- Reset: demo data only.
SELECT demo_stop() AS stopped;
SELECT * FROM demo_reset(confirm => true);
SELECT count(*) AS events_left FROM activity.event_outbox;
