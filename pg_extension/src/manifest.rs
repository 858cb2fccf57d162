//! The run manifest `outbox_demo.runs`: one row per run with its seed, parameters, counts per
//! type, start and finish, status and (rate mode) generator lag. The verifier reads it as the
//! ground truth of what must arrive.

use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{PgBuiltInOids, PgOid};

use crate::args::RunArgs;

pgrx::extension_sql!(
    r#"
CREATE SCHEMA IF NOT EXISTS outbox_demo;
COMMENT ON SCHEMA outbox_demo IS 'outbox_demo extension: run manifest and internal functions';

CREATE TABLE outbox_demo.runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mode            text NOT NULL CHECK (mode IN ('bulk', 'rate')),
    status          text NOT NULL
                    CHECK (status IN ('running', 'completed', 'stopped', 'interrupted', 'failed')),
    n               bigint NOT NULL CHECK (n > 0),
    seed            bigint NOT NULL,
    mix             text NOT NULL,
    reuse_entities  boolean NOT NULL,
    batch_size      integer,
    rate            double precision,
    txn_size        integer,
    written         bigint NOT NULL DEFAULT 0,
    users           bigint NOT NULL DEFAULT 0,
    activities      bigint NOT NULL DEFAULT 0,
    participants    bigint NOT NULL DEFAULT 0,
    deviations      bigint NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    first_due_at    timestamptz,
    progress_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    elapsed_ms      double precision,
    events_per_sec  double precision,
    lag_p50_us      bigint,
    lag_p90_us      bigint,
    lag_p99_us      bigint,
    lag_max_us      bigint,
    lag_over_10ms   bigint,
    stop_requested  boolean NOT NULL DEFAULT false,
    backend_pid     integer NOT NULL DEFAULT pg_backend_pid(),
    error           text,
    CONSTRAINT runs_counts_add_up CHECK (written = users + activities + participants),
    CONSTRAINT runs_written_le_n CHECK (written <= n)
);
COMMENT ON TABLE outbox_demo.runs IS
    'One row per demo_generate / demo_run call: what was asked, what was written, generator lag';
COMMENT ON COLUMN outbox_demo.runs.first_due_at IS 'rate mode: when event 1 was due (start of the schedule)';
COMMENT ON COLUMN outbox_demo.runs.lag_p50_us IS 'rate mode: insert time minus scheduled_at, 50th percentile';
COMMENT ON COLUMN outbox_demo.runs.deviations IS 'events of another type than planned because the rules blocked the planned one';
SELECT pg_catalog.pg_extension_config_dump('outbox_demo.runs', '');
-- run_id must never repeat one already in the outbox (the extension may have been dropped and
-- created again over existing demo events): start numbering after the largest there.
DO $$
BEGIN
    IF to_regclass('activity.event_outbox') IS NOT NULL THEN
        PERFORM setval(pg_get_serial_sequence('outbox_demo.runs', 'run_id'), m, true)
           FROM (SELECT max(run_id) AS m FROM activity.event_outbox) t WHERE m IS NOT NULL;
    END IF;
END $$;
GRANT USAGE ON SCHEMA outbox_demo TO PUBLIC;
GRANT SELECT ON outbox_demo.runs TO PUBLIC;

-- Each run as of now: a rate run whose progress stopped for 5 s (src/rate.rs STALE_AFTER: its
-- session was cancelled or ended) reads interrupted, ended at its last progress. Derived when
-- read, so looking needs no right to write; the next generator call records it in the manifest.
CREATE VIEW outbox_demo.run_status AS
SELECT r.run_id, r.mode,
       CASE WHEN s.stale THEN 'interrupted' ELSE r.status END AS status,
       r.n, r.seed, r.mix, r.reuse_entities, r.batch_size, r.rate, r.txn_size, r.written,
       r.users, r.activities, r.participants, r.deviations, r.started_at, r.first_due_at,
       r.progress_at,
       CASE WHEN s.stale THEN r.progress_at ELSE r.finished_at END AS finished_at,
       r.elapsed_ms, r.events_per_sec, r.lag_p50_us, r.lag_p90_us, r.lag_p99_us, r.lag_max_us,
       r.lag_over_10ms, r.stop_requested, r.backend_pid,
       CASE WHEN s.stale THEN 'no progress for 5 s: the session running it was cancelled or ended'
            ELSE r.error END AS error
  FROM outbox_demo.runs r
 CROSS JOIN LATERAL (SELECT r.status = 'running' AND r.mode = 'rate'
                        AND r.progress_at < clock_timestamp() - interval '5 seconds' AS stale) s;
COMMENT ON VIEW outbox_demo.run_status IS
    'outbox_demo.runs as of now: rate runs whose session is gone read interrupted';
GRANT SELECT ON outbox_demo.run_status TO PUBLIC;
"#,
    name = "manifest",
    bootstrap
);

/// Creates the manifest row of a run and returns its id. A rate run starts at the origin of its
/// schedule (`first_due_us`): `started_at` and `first_due_at` are one value, so its
/// `elapsed_ms` and `events_per_sec` are measured from when event 1 was due, not from a clock
/// read made a moment later. A bulk run starts when its row is written.
pub fn insert(
    client: &mut SpiClient<'_>,
    mode: &str,
    args: &RunArgs,
    batch_size: Option<i32>,
    rate: Option<f64>,
    txn_size: Option<i32>,
    first_due_us: Option<i64>,
) -> i64 {
    record_interrupted(client);
    let g = &args.generator;
    client
        .update(
            "INSERT INTO outbox_demo.runs
                 (mode, status, n, seed, mix, reuse_entities, batch_size, rate, txn_size,
                  first_due_at, started_at)
             SELECT $1, 'running', $2, $3, $4, $5, $6, $7, $8, due, coalesce(due, clock_timestamp())
               FROM (SELECT 'epoch'::timestamptz + $9 * interval '1 microsecond' AS due) origin
             RETURNING run_id",
            None,
            &[
                mode.into(),
                (g.n as i64).into(),
                (g.seed as i64).into(),
                g.mix.to_string().into(),
                args.reuse_entities.into(),
                batch_size.into(),
                rate.into(),
                txn_size.into(),
                first_due_us.into(),
            ],
        )
        .and_then(|t| t.first().get_one::<i64>())
        .unwrap_or_else(|e| error!("outbox_demo: writing the run manifest failed: {e}"))
        .unwrap_or_else(|| error!("outbox_demo: the run manifest returned no run_id"))
}

/// Records in the manifest the rate runs that `outbox_demo.run_status` reads as interrupted.
/// Done by a generator call, whose caller has the right to update the manifest (checked
/// before), never by a reader.
fn record_interrupted(client: &mut SpiClient<'_>) {
    client
        .update(
            "UPDATE outbox_demo.runs r
                SET status = s.status, finished_at = s.finished_at, error = s.error
               FROM outbox_demo.run_status s
              WHERE s.run_id = r.run_id AND r.status = 'running' AND s.status = 'interrupted'",
            None,
            &[],
        )
        .unwrap_or_else(|e| error!("outbox_demo: recording interrupted runs failed: {e}"));
}

/// Progress of a run, written with the events it counts (same transaction).
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Events written per type.
    pub counts: [u64; 3],
    /// Steps where the rules blocked the planned type.
    pub deviations: u64,
}

pub use outbox_logic::schedule::Lag;

/// The manifest's progress update (`update` runs after every transaction of a rate run: parsing
/// and planning it each time was a quarter of the generator's CPU, `perf` of its backend at
/// 500/s), so a run prepares it once ([`ProgressUpdate::prepare`]).
const UPDATE: &str = "UPDATE outbox_demo.runs SET
         users = $2, activities = $3, participants = $4, written = $2 + $3 + $4,
         deviations = $5, progress_at = c.now,
         lag_p50_us = coalesce($6, lag_p50_us), lag_p90_us = coalesce($7, lag_p90_us),
         lag_p99_us = coalesce($8, lag_p99_us), lag_max_us = coalesce($9, lag_max_us),
         lag_over_10ms = coalesce($10, lag_over_10ms),
         status = coalesce($11, status), error = coalesce($12, error),
         finished_at = CASE WHEN $11 IS NULL THEN NULL ELSE c.now END,
         elapsed_ms = extract(epoch FROM c.now - started_at) * 1000,
         events_per_sec = ($2 + $3 + $4) / greatest(
             extract(epoch FROM c.now - started_at), 1e-6)
     FROM (SELECT clock_timestamp() AS now) c
     WHERE run_id = $1
     RETURNING stop_requested";

/// A run's progress update in the manifest, prepared once for the run.
pub struct ProgressUpdate {
    statement: OwnedPreparedStatement,
    run_id: i64,
}

impl ProgressUpdate {
    /// Prepares the update of run `run_id`'s manifest row.
    pub fn prepare(client: &SpiClient<'_>, run_id: i64) -> Self {
        let int8 = PgOid::BuiltIn(PgBuiltInOids::INT8OID);
        let text = PgOid::BuiltIn(PgBuiltInOids::TEXTOID);
        let mut types = vec![int8; 10];
        types.extend([text, text]);
        let statement = client
            .prepare_mut(UPDATE, &types)
            .unwrap_or_else(|e| {
                error!("outbox_demo: preparing the run manifest update failed: {e}")
            })
            .keep();
        Self { statement, run_id }
    }

    /// Records progress (and lag), and, with `status`, ends the run. One clock read stamps
    /// `progress_at`, `finished_at` and `elapsed_ms`, so they agree to the microsecond. Returns
    /// whether someone asked the run to stop (`demo_stop`).
    pub fn write(
        &self,
        client: &mut SpiClient<'_>,
        progress: Progress,
        lag: Option<Lag>,
        status: Option<&str>,
        error: Option<&str>,
    ) -> bool {
        let [users, activities, participants] = progress.counts.map(|c| c as i64);
        let run_id = self.run_id;
        client
            .update(
                &self.statement,
                None,
                &[
                    run_id.into(),
                    users.into(),
                    activities.into(),
                    participants.into(),
                    (progress.deviations as i64).into(),
                    lag.map(|l| l.p50).into(),
                    lag.map(|l| l.p90).into(),
                    lag.map(|l| l.p99).into(),
                    lag.map(|l| l.max).into(),
                    lag.map(|l| l.over_10ms).into(),
                    status.into(),
                    error.into(),
                ],
            )
            .and_then(|t| t.first().get_one::<bool>())
            .unwrap_or_else(|e| error!("outbox_demo: updating the run manifest failed: {e}"))
            .unwrap_or_else(|| error!("outbox_demo: run {run_id} is missing from the run manifest"))
    }
}
