//! Bulk mode: `demo_generate(n, …)` writes a whole run in the caller's transaction.
//!
//! The events are planned on a second thread while the backend inserts the previous batch: on
//! two cores generating and inserting overlap, so a run costs about as much as its inserts. The
//! thread runs only `datagen` (no PostgreSQL call), with every signal blocked so PostgreSQL's
//! signal handlers only ever run on the backend's own thread.

use std::sync::mpsc;

use datagen::{Generator, PlanError};
use pgrx::prelude::*;

use crate::args::{self, RunArgs};
use crate::error::invalid_argument;
use crate::manifest::{self, Progress};
use crate::privileges;
use crate::world;
use crate::writer::{Batch, OutboxWriter};

/// Batches planned ahead of the insert.
const PIPELINE_DEPTH: usize = 2;

/// Writes `n` realistic, referentially consistent events into `activity.event_outbox` and
/// returns one row describing the run. Everything happens in the caller's transaction: an error
/// (or a cancel) writes nothing.
#[pg_extern(volatile, parallel_unsafe)]
#[search_path(pg_catalog, pg_temp)]
#[allow(clippy::type_complexity)]
pub fn demo_generate(
    n: Option<i64>,
    mix: default!(Option<&str>, "'50/30/20'"),
    seed: default!(Option<i64>, "NULL"),
    batch_size: default!(Option<i32>, 5000),
    reuse_entities: default!(Option<bool>, false),
) -> TableIterator<
    'static,
    (
        name!(run_id, i64),
        name!(users, i64),
        name!(activities, i64),
        name!(participants, i64),
        name!(total_events, i64),
        name!(elapsed_ms, f64),
        name!(events_per_sec, f64),
    ),
> {
    let n = args::required(
        "n",
        n,
        "Give the number of events, e.g. SELECT * FROM demo_generate(10000).",
    );
    let mix = args::required(
        "mix",
        mix,
        "Leave mix out for the default '50/30/20', or give three percentages that sum to 100.",
    );
    let batch_size = args::required(
        "batch_size",
        batch_size,
        "Leave batch_size out for the default 5000, or give 1 to 100000.",
    );
    let reuse = args::required(
        "reuse_entities",
        reuse_entities,
        "Leave reuse_entities out (false), or give true or false.",
    );
    let args = args::run_args(n, mix, seed, reuse);
    let batch_size = args::size("batch_size", batch_size);

    Spi::connect_mut(|client| {
        require_rights(client, "demo_generate", &args);
        let generator = new_generator(client, &args);
        let run_id = manifest::insert(
            client,
            "bulk",
            &args,
            Some(batch_size as i32),
            None,
            None,
            None,
        );
        let writer = OutboxWriter::prepare(client, run_id, false);

        let (tx, rx) = mpsc::sync_channel::<Result<Batch, PlanError>>(PIPELINE_DEPTH);
        let planner = spawn_without_signals(move || plan(generator, batch_size, tx));

        let mut progress = Progress::default();
        for planned in rx.iter() {
            check_for_interrupts!();
            let batch = planned.unwrap_or_else(|e| plan_failed(&e));
            for (total, added) in progress.counts.iter_mut().zip(batch.counts) {
                *total += added;
            }
            writer.write(client, batch);
        }
        let deviations = planner
            .join()
            .unwrap_or_else(|_| error!("outbox_demo: the event planner thread panicked"));
        progress.deviations = deviations;
        let written: u64 = progress.counts.iter().sum();
        if written != args.generator.n {
            error!(
                "outbox_demo: planned {} events but {written} arrived from the planner",
                args.generator.n
            );
        }
        // a bulk run cannot be stopped: it is one statement
        let _stop_requested = manifest::ProgressUpdate::prepare(client, run_id).write(
            client,
            progress,
            None,
            Some("completed"),
            None,
        );
        let (elapsed_ms, events_per_sec) = client
            .select(
                "SELECT elapsed_ms, events_per_sec FROM outbox_demo.runs WHERE run_id = $1",
                None,
                &[run_id.into()],
            )
            .and_then(|t| t.first().get_two::<f64, f64>())
            .unwrap_or_else(|e| error!("outbox_demo: reading the run manifest failed: {e}"));
        let [users, activities, participants] = progress.counts.map(|c| c as i64);
        TableIterator::once((
            run_id,
            users,
            activities,
            participants,
            written as i64,
            elapsed_ms.unwrap_or(0.0),
            // whole events a second: the manifest keeps the exact figure
            events_per_sec.unwrap_or(0.0).round(),
        ))
    })
}

/// Raises 42501 when the caller lacks a right a run needs (reading earlier runs too, when it
/// reuses their entities); nothing is written before.
pub fn require_rights(client: &pgrx::spi::SpiClient<'_>, operation: &str, args: &RunArgs) {
    privileges::require(client, operation, privileges::GENERATE);
    if args.reuse_entities {
        privileges::require(client, operation, privileges::GENERATE_REUSING);
    }
}

/// Creates the generator of a run, over the entities of earlier runs when it reuses them, turning
/// a mix the world cannot satisfy into a user error.
pub fn new_generator(client: &pgrx::spi::SpiClient<'_>, args: &RunArgs) -> Generator {
    let world = if args.reuse_entities {
        world::load(client)
    } else {
        datagen::World::empty()
    };
    Generator::new(args.generator.clone(), world).unwrap_or_else(|e| plan_failed(&e))
}

/// Raises the user error for a plan that cannot be carried out.
pub fn plan_failed(e: &PlanError) -> ! {
    invalid_argument(
        format!("cannot generate this run: {e}"),
        "Every reference must point to an entity created earlier: an activity needs an existing organiser, a participant an existing user and an activity with room.".into(),
        "Give UserCreated (and, for joins, ActivityCreated) a share of the mix, e.g. '50/30/20', or continue earlier runs with reuse_entities => true.",
    )
}

/// The planner thread: fills batches and hands them over; returns the deviation count. Stops
/// early when the receiver is gone (the backend raised an error).
fn plan(
    mut generator: Generator,
    batch_size: usize,
    tx: mpsc::SyncSender<Result<Batch, PlanError>>,
) -> u64 {
    let mut batch = Batch::with_capacity(batch_size);
    while let Some(event) = generator.next_event() {
        match event {
            Ok(event) => batch.push(&event),
            Err(e) => {
                let _ = tx.send(Err(e));
                return generator.deviations();
            }
        }
        if batch.len() == batch_size {
            let full = std::mem::replace(&mut batch, Batch::with_capacity(batch_size));
            if tx.send(Ok(full)).is_err() {
                return generator.deviations();
            }
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(Ok(batch));
    }
    generator.deviations()
}

/// Spawns a thread with every signal blocked (a new thread inherits the mask of its creator:
/// block, spawn, restore).
fn spawn_without_signals<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> std::thread::JoinHandle<T> {
    // SAFETY: plain libc calls on stack-owned signal sets; the old mask is restored before
    // returning, whatever the spawn did.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        let handle = std::thread::Builder::new()
            .name("outbox_demo planner".into())
            .spawn(f);
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        handle.unwrap_or_else(|e| error!("outbox_demo: starting the planner thread failed: {e}"))
    }
}
