//! `outbox_demo`: a PostgreSQL extension (pgrx 0.18.1, PostgreSQL 15) that writes realistic,
//! referentially consistent events into `activity.event_outbox` from inside the database, and
//! records every run in its manifest `outbox_demo.runs`.
//!
//! Thin glue over `crates/datagen`:
//! - [`bulk`]: `demo_generate(n, mix, seed, batch_size, reuse_entities)`, a whole run in the
//!   caller's transaction;
//! - [`rate`]: `CALL demo_run(n, rate, txn_size, …)`, an open-loop schedule that commits as it
//!   goes;
//! - `demo_status()`, `demo_stop(run_id)`, `demo_reset(confirm)` (SQL, below);
//! - [`privileges`]: the rights each writing function needs, checked before it writes;
//! - [`manifest`]: the run manifest; [`world`]: continuing earlier runs; [`writer`]: the insert;
//!   payloads built in PostgreSQL's binary jsonb format off the backend's thread by
//!   `outbox_logic::jsonb` (crates/outbox, with the argument checks and the rate schedule, all
//!   tested without PostgreSQL).
//!
//! Security: no function is `SECURITY DEFINER`; each runs with its caller's rights and pins
//! `search_path` (`demo_run` cannot: PostgreSQL forbids `SET` on a procedure that commits, so
//! its body qualifies every name). All SQL is parameterised.

use pgrx::prelude::*;

pub mod args;
pub mod bulk;
pub mod error;
pub mod gucs;
pub mod manifest;
pub mod privileges;
pub mod rate;
pub mod world;
pub mod writer;

::pgrx::pg_module_magic!(name, version);

/// Registers the extension's settings when a backend loads the library.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    gucs::register();
}

/// The version of the installed extension library (the crate version), so a DBA can tell
/// which build PostgreSQL loaded: `SELECT outbox_demo_version();`.
#[pg_extern(immutable, parallel_safe)]
pub fn outbox_demo_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

pgrx::extension_sql!(
    r#"
-- Rate mode. A procedure that commits as it goes; see src/rate.rs. It carries no SET clause
-- (PostgreSQL forbids one on a procedure that commits) and qualifies every name instead.
CREATE PROCEDURE @extschema@.demo_run(
    n bigint,
    rate double precision,
    txn_size integer DEFAULT 1,
    mix text DEFAULT '50/30/20',
    seed bigint DEFAULT NULL,
    reuse_entities boolean DEFAULT false)
LANGUAGE plpgsql AS $body$
DECLARE
    v_run bigint;
    v_done boolean := false;
    v_row outbox_demo.runs%ROWTYPE;
BEGIN
    v_run := outbox_demo.run_begin(n, rate, txn_size, mix, seed, reuse_entities);
    RAISE NOTICE 'outbox_demo: rate run % started: % events at %/s, % per transaction',
        v_run, n, rate, txn_size;
    COMMIT;
    WHILE NOT v_done LOOP
        v_done := outbox_demo.run_step(v_run);
        COMMIT;
    END LOOP;
    SELECT * INTO v_row FROM outbox_demo.runs r WHERE r.run_id = v_run;
    IF v_row.status = 'failed' THEN
        RAISE EXCEPTION 'rate run % failed after % events: %', v_run, v_row.written, v_row.error
            USING ERRCODE = '22023',
                  DETAIL = 'The events written before the failure are committed and recorded in outbox_demo.runs.',
                  HINT = 'Give UserCreated a share of the mix so the run can always go on.';
    END IF;
    RAISE NOTICE 'outbox_demo: rate run % %: % events in % ms (% events/s); lag p50 % ms, p99 % ms, max % ms',
        v_run, v_row.status, v_row.written, round(v_row.elapsed_ms::numeric, 1),
        round(v_row.events_per_sec::numeric, 1), round(v_row.lag_p50_us / 1000.0, 3),
        round(v_row.lag_p99_us / 1000.0, 3), round(v_row.lag_max_us / 1000.0, 3);
END
$body$;
COMMENT ON PROCEDURE @extschema@.demo_run(bigint, double precision, integer, text, bigint, boolean) IS
    'Writes n events on an open-loop schedule of rate events/s, txn_size per transaction; stop with demo_stop()';

-- Runs, newest first, with progress, as of now (outbox_demo.run_status: a rate run whose
-- session is gone reads interrupted). Only reads: any role with SELECT on the manifest (PUBLIC)
-- can look.
CREATE FUNCTION @extschema@.demo_status()
RETURNS TABLE (
    run_id bigint, mode text, status text, n bigint, written bigint, progress_pct numeric,
    users bigint, activities bigint, participants bigint, seed bigint, mix text,
    rate double precision, txn_size integer, started_at timestamptz, finished_at timestamptz,
    elapsed_ms double precision, events_per_sec double precision,
    lag_p50_ms numeric, lag_p99_ms numeric, lag_max_ms numeric, lag_over_10ms bigint, error text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $body$
    SELECT r.run_id, r.mode, r.status, r.n, r.written, round(100.0 * r.written / r.n, 1),
           r.users, r.activities, r.participants, r.seed, r.mix, r.rate, r.txn_size,
           r.started_at, r.finished_at, r.elapsed_ms, r.events_per_sec,
           round(r.lag_p50_us / 1000.0, 3), round(r.lag_p99_us / 1000.0, 3),
           round(r.lag_max_us / 1000.0, 3), r.lag_over_10ms, r.error
      FROM outbox_demo.run_status r
     ORDER BY r.run_id DESC
$body$;

-- Asks running rate runs (one, or all) to stop after their current step; returns how many.
CREATE FUNCTION @extschema@.demo_stop(run_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_count bigint;
BEGIN
    PERFORM outbox_demo.check_rights('demo_stop');
    UPDATE outbox_demo.runs r SET stop_requested = true
     WHERE r.status = 'running' AND r.mode = 'rate'
       AND (demo_stop.run_id IS NULL OR r.run_id = demo_stop.run_id);
    GET DIAGNOSTICS v_count = ROW_COUNT;
    IF v_count = 0 AND demo_stop.run_id IS NOT NULL THEN
        RAISE EXCEPTION 'run % is not a running rate run', demo_stop.run_id
            USING ERRCODE = '22023',
                  DETAIL = 'Only rate runs (demo_run) run long enough to be stopped.',
                  HINT = 'See SELECT * FROM demo_status() for the runs and their status.';
    END IF;
    RETURN v_count;
END
$body$;

-- Deletes demo data only: outbox rows written by runs (run_id IS NOT NULL) and the manifest.
CREATE FUNCTION @extschema@.demo_reset(confirm boolean DEFAULT false)
RETURNS TABLE (deleted_events bigint, deleted_runs bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $body$
DECLARE
    v_events bigint;
    v_runs bigint;
BEGIN
    IF confirm IS NOT TRUE THEN
        RAISE EXCEPTION 'demo_reset deletes every generated event and the run manifest'
            USING ERRCODE = '22023',
                  DETAIL = 'Rows of activity.event_outbox written by other code (run_id IS NULL) are kept.',
                  HINT = 'Run SELECT * FROM demo_reset(confirm => true) to go ahead.';
    END IF;
    PERFORM outbox_demo.check_rights('demo_reset');
    IF EXISTS (SELECT FROM outbox_demo.runs r WHERE r.status = 'running' AND r.mode = 'rate'
                 AND r.progress_at >= clock_timestamp() - interval '5 seconds') THEN
        RAISE EXCEPTION 'a rate run is still running'
            USING ERRCODE = '55006',
                  DETAIL = 'Deleting its events under it would leave its manifest wrong.',
                  HINT = 'Stop it first: SELECT demo_stop();';
    END IF;
    DELETE FROM activity.event_outbox o WHERE o.run_id IS NOT NULL;
    GET DIAGNOSTICS v_events = ROW_COUNT;
    DELETE FROM outbox_demo.runs;
    GET DIAGNOSTICS v_runs = ROW_COUNT;
    RETURN QUERY SELECT v_events, v_runs;
END
$body$;
"#,
    name = "admin",
    finalize
);

#[cfg(any(test, feature = "pg_test"))]
#[pg_schema]
mod tests {
    include!("tests.rs");
}

/// Required by `cargo pgrx test`: hooks for the temporary test cluster.
#[cfg(test)]
pub mod pg_test {
    /// One-off set-up when the test framework starts.
    pub fn setup(_options: Vec<&str>) {}

    /// postgresql.conf settings the tests need.
    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![]
    }
}
