//! Writing events into `activity.event_outbox`: one prepared `INSERT … SELECT unnest(…)` per
//! batch, its arrays built in a memory context of their own, deleted after the batch, so a run
//! of any size holds one batch in memory. The statement is kept (`SPI_keepplan`), so a rate run
//! prepares it once and uses it in every transaction.

use datagen::PlannedEvent;
use pgrx::datum::IntoDatum;
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
    payloads: Vec<JsonbDatum>,
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

    /// Adds an event, with a new strictly increasing UUIDv7 event id ([`event_id`]).
    pub fn push(&mut self, event: &PlannedEvent) {
        let t = event.event_type();
        self.ids.push(event_id());
        self.seqs.push(event.seq as i64);
        self.event_types.push(t.as_str());
        self.aggregate_types.push(t.aggregate_type());
        self.aggregate_ids.push(event.payload.aggregate_id());
        self.payloads.push(JsonbDatum::of(&event.payload));
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

/// A UUIDv7 event id, strictly increasing within the thread that makes it (RFC 9562, method 3:
/// the 74 bits after the millisecond timestamp start random in each millisecond and count up
/// within it). Strictly increasing ids always go to the rightmost leaf of the primary key, where
/// PostgreSQL's btree takes its fast path instead of descending the tree. The random bits come
/// from a per-thread ChaCha stream seeded once from the OS, not a system call per id.
pub fn event_id() -> uuid::Uuid {
    use rand::{RngExt, SeedableRng};
    const COUNTER_BITS: u32 = 74;
    struct State {
        rng: rand_chacha::ChaCha8Rng,
        last_ms: u64,
        counter: u128,
    }
    thread_local! {
        static STATE: std::cell::RefCell<State> = std::cell::RefCell::new(State {
            rng: rand_chacha::ChaCha8Rng::from_seed(
                *uuid::Uuid::new_v4().as_u128().to_le_bytes().repeat(2).first_chunk::<32>().unwrap_or(&[7; 32]),
            ),
            last_ms: 0,
            counter: 0,
        });
    }
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    STATE.with(|state| {
        let mut s = state.borrow_mut();
        // a fresh random start leaves the top counter bit clear: 2^73 ids of headroom
        let fresh =
            |rng: &mut rand_chacha::ChaCha8Rng| rng.random::<u128>() >> (128 - COUNTER_BITS + 1);
        if now_ms > s.last_ms {
            s.last_ms = now_ms;
            s.counter = fresh(&mut s.rng);
        } else {
            s.counter += 1;
            if s.counter >> COUNTER_BITS != 0 {
                // counter exhausted within one millisecond: borrow the next millisecond
                s.last_ms += 1;
                s.counter = fresh(&mut s.rng);
            }
        }
        let rand_a = (s.counter >> 62) & 0xFFF;
        let rand_b = s.counter & ((1 << 62) - 1);
        let value = (u128::from(s.last_ms & 0xFFFF_FFFF_FFFF) << 80)
            | (0x7 << 76)
            | (rand_a << 64)
            | (0b10 << 62)
            | rand_b;
        uuid::Uuid::from_u128(value)
    })
}

/// A payload as a finished binary `jsonb` datum, built by [`outbox_logic::jsonb`] wherever the batch
/// is filled (the planner thread in bulk mode) and only copied into PostgreSQL memory by the
/// backend.
#[derive(Debug)]
pub struct JsonbDatum(Vec<u8>);

impl JsonbDatum {
    /// Encodes a payload. Payloads hold strings, whole numbers and arrays of strings only, so
    /// encoding cannot fail; if a future field breaks that, the run fails loudly.
    pub fn of(payload: &events::Payload) -> JsonbDatum {
        let value = match payload {
            events::Payload::UserCreated(p) => serde_json::to_value(p),
            events::Payload::ActivityCreated(p) => serde_json::to_value(p),
            events::Payload::ParticipantJoined(p) => serde_json::to_value(p),
        };
        let bytes = value
            .map_err(|e| e.to_string())
            .and_then(|v| outbox_logic::jsonb::encode(&v).map_err(|e| e.to_string()));
        match bytes {
            Ok(bytes) => JsonbDatum(bytes),
            Err(e) => panic!("outbox_demo: a payload cannot be encoded as jsonb: {e}"),
        }
    }

    /// The datum's bytes, varlena header included.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl IntoDatum for JsonbDatum {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        // SAFETY: palloc returns at least len bytes (aligned for any type) in the current
        // memory context; the bytes are a complete varlena (header included).
        unsafe {
            let ptr = pg_sys::palloc(self.0.len()).cast::<u8>();
            std::ptr::copy_nonoverlapping(self.0.as_ptr(), ptr, self.0.len());
            Some(pg_sys::Datum::from(ptr))
        }
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
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
           unnest($6::uuid[]), unnest($7::jsonb[])";

const INSERT_SCHEDULED: &str = "INSERT INTO activity.event_outbox
        (id, run_id, seq, event_type, aggregate_type, aggregate_id, payload, scheduled_at)
    SELECT unnest($1::uuid[]), $2, unnest($3::int8[]), unnest($4::text[]), unnest($5::text[]),
           unnest($6::uuid[]), unnest($7::jsonb[]),
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
            oid(PgBuiltInOids::JSONBARRAYOID),
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
