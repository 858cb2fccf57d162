//! Rate mode: `CALL demo_run(n, rate => …, txn_size => …)`.
//!
//! A procedure (plpgsql, in `lib.rs`) that commits as it goes, driving two functions kept in
//! schema `outbox_demo`: `run_begin` plans the run and records it, and `run_step` writes the next
//! transaction when it is due. The schedule is open loop: event k is due at
//! `start + (k − 1) / rate` and is stamped with that time in `scheduled_at`, whether or not the
//! database keeps up; a transaction of `txn_size` events is written when its last event is due.
//! When the database falls behind, the schedule is not stretched: later events go in at once
//! and their lag (insert time − `scheduled_at`) is measured into the manifest.
//!
//! A step never waits more than [`MAX_WAIT`] before returning, so the procedure commits (and the
//! manifest's `progress_at` moves) at least that often. A run whose progress stops for
//! [`STALE_AFTER`] (its session was cancelled or ended) reads `interrupted` in
//! `outbox_demo.run_status` and `demo_status()`, and is recorded so by the next generator call;
//! `demo_stop()` asks a run to stop after its current step.
//!
//! The planned run lives in backend memory between steps: a rate run belongs to its session.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use datagen::Generator;
use outbox_logic::schedule::{LagRecorder, Schedule};
use pgrx::prelude::*;

use crate::args;
use crate::bulk::new_generator;
use crate::error::raise;
use crate::manifest::{self, Progress, ProgressUpdate};
use crate::writer::{Batch, OutboxWriter};

/// The longest a step waits before handing back to the procedure.
pub const MAX_WAIT: Duration = Duration::from_millis(200);
/// How long without progress makes a running rate run count as interrupted (the view
/// `outbox_demo.run_status` spells the same 5 seconds).
pub const STALE_AFTER: Duration = Duration::from_secs(5);

struct RateRun {
    generator: Generator,
    writer: OutboxWriter,
    /// The run's manifest row, updated after every transaction.
    manifest: ProgressUpdate,
    schedule: Schedule,
    /// Next seq to write.
    next: u64,
    progress: Progress,
    lag: LagRecorder,
}

thread_local! {
    static RUNS: RefCell<HashMap<i64, RateRun>> = RefCell::new(HashMap::new());
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Functions in schema `outbox_demo`, called by the `demo_run` procedure.
#[pg_schema]
pub mod outbox_demo {
    use super::*;

    /// Plans a rate run, records it in the manifest and returns its id. Used by `demo_run`.
    #[pg_extern(volatile, parallel_unsafe)]
    #[search_path(pg_catalog, pg_temp)]
    pub fn run_begin(
        n: Option<i64>,
        rate: Option<f64>,
        txn_size: Option<i32>,
        mix: Option<&str>,
        seed: Option<i64>,
        reuse_entities: Option<bool>,
    ) -> i64 {
        let n = args::required(
            "n",
            n,
            "Give the number of events, e.g. CALL demo_run(10000, rate => 500).",
        );
        let rate = args::required(
            "rate",
            rate,
            "Give the events per second, e.g. CALL demo_run(10000, rate => 500).",
        );
        let txn_size = args::required(
            "txn_size",
            txn_size,
            "Leave txn_size out for the default 1, or give 1 to 100000.",
        );
        let mix = args::required(
            "mix",
            mix,
            "Leave mix out for the default '50/30/20', or give three percentages that sum to 100.",
        );
        let reuse = args::required(
            "reuse_entities",
            reuse_entities,
            "Leave reuse_entities out (false), or give true or false.",
        );
        let args = args::run_args(n, mix, seed, reuse);
        let rate = args::rate(rate);
        let txn = args::size("txn_size", txn_size);
        Spi::connect_mut(|client| {
            crate::bulk::require_rights(client, "demo_run", &args);
            let generator = new_generator(client, &args);
            let start_us = now_us();
            let run_id = manifest::insert(
                client,
                "rate",
                &args,
                None,
                Some(rate),
                Some(txn as i32),
                Some(start_us),
            );
            let writer = OutboxWriter::prepare(client, run_id, true);
            let run = RateRun {
                generator,
                writer,
                manifest: ProgressUpdate::prepare(client, run_id),
                schedule: Schedule::new(start_us, rate, txn as u64, args.generator.n),
                next: 1,
                progress: Progress::default(),
                lag: LagRecorder::default(),
            };
            RUNS.with(|runs| runs.borrow_mut().insert(run_id, run));
            run_id
        })
    }

    /// Writes the next transaction of run `run_id` when it is due (waiting at most 200 ms), and
    /// returns whether the run is over (completed, stopped or failed). Used by `demo_run`.
    #[pg_extern(volatile, parallel_unsafe)]
    #[search_path(pg_catalog, pg_temp)]
    pub fn run_step(run_id: i64) -> bool {
        RUNS.with(|runs| {
            let mut runs = runs.borrow_mut();
            let Some(run) = runs.get_mut(&run_id) else {
                raise(
                    PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    format!("rate run {run_id} is not running in this session"),
                    "A rate run lives in the session that started it with demo_run().".into(),
                    "Start a new run with CALL demo_run(...); see demo_status() for earlier ones.",
                )
            };
            let done = Spi::connect_mut(|client| step(client, run_id, run));
            if done {
                runs.remove(&run_id);
            }
            done
        })
    }
}

fn step(client: &mut pgrx::spi::SpiClient<'_>, run_id: i64, run: &mut RateRun) -> bool {
    let Some(txn) = run.schedule.transaction(run.next) else {
        return true;
    };
    let (first, last) = (*txn.start(), *txn.end());
    if !wait_until(run.schedule.due_us(last)) {
        // not due yet: commit progress, and come back unless asked to stop
        let stop = run.manifest.write(client, run.progress, None, None, None);
        return stop && stopped(client, run);
    }

    let mut batch = Batch::with_capacity((last - first + 1) as usize);
    let mut scheduled = Vec::with_capacity(batch.len());
    for seq in first..=last {
        match run.generator.next_event() {
            Some(Ok(event)) => {
                let s = run.schedule.due_us(seq);
                batch.push_scheduled(&event, s);
                scheduled.push(s);
            }
            Some(Err(e)) => {
                // Record the consistent partial run, then tell the caller why it ended.
                run.manifest.write(
                    client,
                    run.progress,
                    Some(run.lag.summary()),
                    Some("failed"),
                    Some(&e.to_string()),
                );
                pgrx::warning!("outbox_demo: rate run {run_id} ended at event {seq}: {e}");
                return true;
            }
            None => break,
        }
    }
    let counts = batch.counts;
    let inserted_at = now_us();
    run.writer.write(client, batch);
    for s in scheduled {
        run.lag.record(s, inserted_at);
    }
    for (total, added) in run.progress.counts.iter_mut().zip(counts) {
        *total += added;
    }
    run.progress.deviations = run.generator.deviations();
    run.next = last + 1;
    let done = run.next > run.schedule.n();
    let stop = run.manifest.write(
        client,
        run.progress,
        Some(run.lag.summary()),
        done.then_some("completed"),
        None,
    );
    done || (stop && stopped(client, run))
}

/// Ends a run that `demo_stop` asked to stop; returns true.
fn stopped(client: &mut pgrx::spi::SpiClient<'_>, run: &RateRun) -> bool {
    run.manifest.write(
        client,
        run.progress,
        Some(run.lag.summary()),
        Some("stopped"),
        None,
    );
    true
}

/// How close to its due time a wait ends with short sleeps, in µs (a sleep overshoots by up to
/// the kernel's timer slack, 50 µs, and the wake-up).
const SPIN_US: u64 = 100;

/// Waits (interruptibly) until `due_us`, or at most [`MAX_WAIT`]; returns whether it is due.
fn wait_until(due_us: i64) -> bool {
    let give_up = now_us() + MAX_WAIT.as_micros() as i64;
    loop {
        check_for_interrupts!();
        let now = now_us();
        if now >= due_us {
            return true;
        }
        if now >= give_up {
            return false;
        }
        let left = (due_us.min(give_up) - now) as u64;
        if left > 2_000 {
            // sleep on the latch, leaving the last millisecond to the short sleeps below
            let ms = (left / 1_000 - 1) as libc::c_long;
            // SAFETY: MyLatch is the backend's own latch; WaitLatch and ResetLatch are the
            // documented way to sleep interruptibly in a backend.
            unsafe {
                pg_sys::WaitLatch(
                    pg_sys::MyLatch,
                    (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH)
                        as i32,
                    ms,
                    pg_sys::PG_WAIT_EXTENSION,
                );
                pg_sys::ResetLatch(pg_sys::MyLatch);
            }
        } else {
            // one sleep to within SPIN_US of the due time, then short ones: sleeping 100 µs at a
            // time woke the backend about 20 times per event at 500/s (perf of the backend; the
            // session's CPU was about 0.9x without them, its lag unchanged)
            let us = if left > 2 * SPIN_US {
                left - SPIN_US
            } else {
                left.min(SPIN_US / 2)
            };
            std::thread::sleep(Duration::from_micros(us));
        }
    }
}
