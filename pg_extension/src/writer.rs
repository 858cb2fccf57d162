//! Writing events into `activity.event_outbox`: one prepared `INSERT … SELECT unnest(…)` per
//! batch, its arrays built in a memory context of their own, deleted after the batch, so a run
//! of any size holds one batch in memory. The statement is kept (`SPI_keepplan`), so a rate run
//! prepares it once and uses it in every transaction.

use datagen::PlannedEvent;
use pgrx::prelude::*;
use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{PgBuiltInOids, PgMemoryContexts, PgOid};

/// The events of one batch, as the columns the insert takes.
#[derive(Debug, Default)]
pub struct Batch {
    ids: Vec<uuid::Uuid>,
    seqs: Vec<i64>,
    event_types: Vec<&'static str>,
    aggregate_types: Vec<&'static str>,
    aggregate_ids: Vec<uuid::Uuid>,
    payloads: Vec<String>,
    /// µs since the Unix epoch; rate mode only.
    scheduled_us: Vec<i64>,
    /// Events per type in this batch.
    pub counts: [u64; 3],
}

impl Batch {
    /// An empty batch with room for `capacity` events.
    pub fn with_capacity(capacity: usize) -> Batch {
        Batch {
            ids: Vec::with_capacity(capacity),
            seqs: Vec::with_capacity(capacity),
            event_types: Vec::with_capacity(capacity),
            aggregate_types: Vec::with_capacity(capacity),
            aggregate_ids: Vec::with_capacity(capacity),
            payloads: Vec::with_capacity(capacity),
            scheduled_us: Vec::new(),
            counts: [0; 3],
        }
    }

    /// Adds an event, with a new UUIDv7 event id (time-ordered, so the primary key index is
    /// appended to, not scattered into).
    pub fn push(&mut self, event: &PlannedEvent) {
        let t = event.event_type();
        self.ids.push(event_id());
        self.seqs.push(event.seq as i64);
        self.event_types.push(t.as_str());
        self.aggregate_types.push(t.aggregate_type());
        self.aggregate_ids.push(event.payload.aggregate_id());
        self.payloads.push(event.payload.to_json());
        self.counts[t.index()] += 1;
    }

    /// Adds an event with its `scheduled_at` (rate mode).
    pub fn push_scheduled(&mut self, event: &PlannedEvent, scheduled_us: i64) {
        self.push(event);
        self.scheduled_us.push(scheduled_us);
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the batch holds no event.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// A UUIDv7 event id: the current Unix time in milliseconds and 74 random bits. The random
/// bits come from a per-thread ChaCha stream seeded once from the OS, not from a `getrandom`
/// system call per id (which cost more than the rest of the id).
pub fn event_id() -> uuid::Uuid {
    use rand::{RngExt, SeedableRng};
    thread_local! {
        static RNG: std::cell::RefCell<rand_chacha::ChaCha8Rng> = std::cell::RefCell::new(
            rand_chacha::ChaCha8Rng::from_seed(*uuid::Uuid::new_v4().as_bytes()
                .repeat(2).first_chunk::<32>().unwrap_or(&[7; 32])),
        );
    }
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let random: [u8; 10] = RNG.with(|rng| rng.borrow_mut().random());
    uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
}

fn pg_uuids(ids: &[uuid::Uuid]) -> Vec<pgrx::Uuid> {
    ids.iter()
        .map(|u| pgrx::Uuid::from_bytes(*u.as_bytes()))
        .collect()
}

/// The prepared insert of one run.
pub struct OutboxWriter {
    statement: OwnedPreparedStatement,
    run_id: i64,
    scheduled: bool,
}

// `unnest` in the target list streams rows through ProjectSet; in FROM it would be a function
// scan that first copies the whole batch into a tuplestore.
const INSERT: &str = "INSERT INTO activity.event_outbox
        (id, run_id, seq, event_type, aggregate_type, aggregate_id, payload)
    SELECT unnest($1::uuid[]), $2, unnest($3::int8[]), unnest($4::text[]), unnest($5::text[]),
           unnest($6::uuid[]), unnest($7::text[])::jsonb";

const INSERT_SCHEDULED: &str = "INSERT INTO activity.event_outbox
        (id, run_id, seq, event_type, aggregate_type, aggregate_id, payload, scheduled_at)
    SELECT unnest($1::uuid[]), $2, unnest($3::int8[]), unnest($4::text[]), unnest($5::text[]),
           unnest($6::uuid[]), unnest($7::text[])::jsonb,
           'epoch'::timestamptz + unnest($8::int8[]) * interval '1 microsecond'";

impl OutboxWriter {
    /// Prepares the insert for `run_id`; `scheduled` also writes `scheduled_at`.
    pub fn prepare(client: &SpiClient<'_>, run_id: i64, scheduled: bool) -> OutboxWriter {
        let oid = |o| PgOid::BuiltIn(o);
        let mut types = vec![
            oid(PgBuiltInOids::UUIDARRAYOID),
            oid(PgBuiltInOids::INT8OID),
            oid(PgBuiltInOids::INT8ARRAYOID),
            oid(PgBuiltInOids::TEXTARRAYOID),
            oid(PgBuiltInOids::TEXTARRAYOID),
            oid(PgBuiltInOids::UUIDARRAYOID),
            oid(PgBuiltInOids::TEXTARRAYOID),
        ];
        if scheduled {
            types.push(oid(PgBuiltInOids::INT8ARRAYOID));
        }
        let sql = if scheduled { INSERT_SCHEDULED } else { INSERT };
        let statement = client
            .prepare_mut(sql, &types)
            .unwrap_or_else(|e| error!("outbox_demo: preparing the outbox insert failed: {e}"))
            .keep();
        OutboxWriter {
            statement,
            run_id,
            scheduled,
        }
    }

    /// Inserts a batch.
    pub fn write(&self, client: &mut SpiClient<'_>, batch: Batch) {
        if batch.is_empty() {
            return;
        }
        let run_id = self.run_id;
        let scheduled = self.scheduled;
        let statement = &self.statement;
        let mut batch_cx = PgMemoryContexts::new("outbox_demo batch");
        // SAFETY: the arrays are built and consumed inside this context, and nothing allocated
        // in it outlives the call (the statement's result is dropped inside); the context is
        // deleted when `batch_cx` drops.
        unsafe {
            batch_cx.switch_to(|_| {
                let Batch {
                    ids,
                    seqs,
                    event_types,
                    aggregate_types,
                    aggregate_ids,
                    payloads,
                    scheduled_us,
                    ..
                } = batch;
                let mut args = vec![
                    pg_uuids(&ids).into(),
                    run_id.into(),
                    seqs.into(),
                    event_types.into(),
                    aggregate_types.into(),
                    pg_uuids(&aggregate_ids).into(),
                    payloads.into(),
                ];
                if scheduled {
                    args.push(scheduled_us.into());
                }
                client.update(statement, None, &args).unwrap_or_else(|e| {
                    error!("outbox_demo: inserting into activity.event_outbox failed: {e}")
                });
            });
        }
    }
}
