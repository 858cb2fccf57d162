//! Observe mode (`--receipts observe`): no cooperation from the consumer. Every `poll` the
//! verifier reads the run's new events from the outbox, then looks in the store for the effect
//! of the pending events the [`Watchlist`] picks (the first few of each partition, placed by the
//! follow loop's Kafka read, and a round of those passed over): a user created, an activity
//! created, a join: its event id in the activity's `applied_events` when the consumer keeps
//! that list, else the joining user in `participants`. T5 is the moment the read that first
//! found the effect returned. An event is applied
//! somewhere between the start of the last read that did not find it and the end of the one
//! that did: that gap is each event's resolution, kept in a histogram and reported, so T5 is
//! never claimed finer than it was seen. T3 is not seen: queue and process are not measured.
//!
//! When following stops, the follow loop asks for a last look ([`LastLook`]): the rest of the
//! outbox is read and every event still pending is looked for, a thousand per read, so that an
//! event the watch list had not come back to yet is never reported missing.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::{mpsc, oneshot};

use super::receipts::Answer;
use super::watchlist::{Found, Watchlist};
use crate::model::join::{Receipt, ReceiptStamps};
use crate::model::measure::StageSummary;
use crate::model::receipt_source::ObserveTally;
use crate::sources::mongo::Seen;
use crate::sources::postgres::Watched;
use crate::sources::{Mongo, Pg, SourceError};

/// New events read from the outbox per poll.
const FROM_OUTBOX: i64 = 5_000;
/// Pending events looked for per read in the last look.
const LAST_LOOK_READ: usize = 1_000;

/// Shared between the observer and the report.
pub(crate) struct Shared {
    tally: ObserveTally,
    resolution: Histogram<u64>,
}

/// The tally shared with the report.
pub(crate) type Tally = Arc<Mutex<Shared>>;

/// A new tally for a poll interval.
pub(crate) fn tally(poll: Duration) -> Tally {
    Arc::new(Mutex::new(Shared {
        tally: ObserveTally {
            poll_ms: poll.as_secs_f64() * 1000.0,
            ..ObserveTally::default()
        },
        resolution: events::stages::latency_histogram(),
    }))
}

/// The tally as the report shows it.
pub(crate) fn summary(t: &Tally) -> ObserveTally {
    let s = t.lock().expect("observe tally");
    let mut out = s.tally.clone();
    out.documents_per_s = (out.seconds > 0.0).then(|| out.documents_read as f64 / out.seconds);
    out.resolution = StageSummary::of("t5_resolution", &s.resolution, false);
    out
}

/// The observer's ends of its links with the follow loop.
pub(crate) struct Links {
    /// Each event of the run the loop's Kafka read sees.
    pub placed: mpsc::UnboundedReceiver<Placed>,
    /// Where receipts go.
    pub got: mpsc::Sender<Answer>,
    /// The loop's request for a last look, once following stops.
    pub last_look: oneshot::Receiver<LastLook>,
}

/// An event of the run seen on Kafka: seq, partition, offset.
pub(crate) type Placed = (i64, i32, i64);

/// Where the last look's receipts go.
pub(crate) type LastLook = oneshot::Sender<Answer>;

/// Observes the effects of run `run_id` (`n` events) until the follow loop asks for the last
/// look or is gone, sending receipts to `links.got`.
pub(crate) async fn observe(
    pg: Pg,
    mongo: Mongo,
    (run_id, n): (i64, i64),
    poll: Duration,
    links: Links,
    tally: Tally,
) {
    let got = links.got.clone();
    let mut o = Observer {
        pg: &pg,
        mongo: &mongo,
        run: (run_id, n),
        next_seq: 1,
        list: Watchlist::new(),
        tally: &tally,
    };
    if let Err(e) = o.run(poll, links).await {
        let _ = got.send(Err(e)).await;
    }
}

/// What the observer reads from and what it has seen.
struct Observer<'a> {
    pg: &'a Pg,
    mongo: &'a Mongo,
    /// The run's id and number of events.
    run: (i64, i64),
    /// The next seq to read from the outbox.
    next_seq: i64,
    list: Watchlist,
    tally: &'a Tally,
}

impl Observer<'_> {
    /// Every `poll`: the outbox's new events, then one read of the store.
    async fn run(&mut self, poll: Duration, mut links: Links) -> Result<(), SourceError> {
        let mut tick = tokio::time::interval(poll);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let first = Instant::now();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                ask = &mut links.last_look => {
                    // No request: following is gone.
                    if let Ok(reply) = ask {
                        let _ = reply.send(self.last_look(&mut links.placed).await);
                    }
                    return Ok(());
                }
            }
            self.read_outbox(FROM_OUTBOX).await?;
            self.drain(&mut links.placed);
            if self.list.is_empty() {
                continue;
            }
            let batch = self.list.batch();
            let receipts = match self.look(batch).await {
                Ok(r) => r,
                // The store down: said once by the follow loop, and read again next poll.
                Err(e @ SourceError::Mongo { .. }) => {
                    if links.got.send(Err(e)).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.tally.lock().expect("observe tally").tally.seconds = first.elapsed().as_secs_f64();
            if !receipts.is_empty() && links.got.send(Ok(receipts)).await.is_err() {
                return Ok(()); // following ended
            }
        }
    }

    /// Up to `limit` new events of the run from the outbox (none once all `n` are known).
    async fn read_outbox(&mut self, limit: i64) -> Result<usize, SourceError> {
        let (run_id, n) = self.run;
        if self.next_seq > n {
            return Ok(0);
        }
        let new = self.pg.events_from(run_id, self.next_seq, limit).await?;
        if let Some(last) = new.last() {
            self.next_seq = last.seq + 1;
        }
        let count = new.len();
        self.list.add(new);
        Ok(count)
    }

    /// The placements the Kafka read has sent so far.
    fn drain(&mut self, placed: &mut mpsc::UnboundedReceiver<Placed>) {
        while let Ok((seq, partition, offset)) = placed.try_recv() {
            self.list.place(seq, partition, offset);
        }
    }

    /// Following has stopped: the rest of the outbox, then every pending event looked for.
    async fn last_look(
        &mut self,
        placed: &mut mpsc::UnboundedReceiver<Placed>,
    ) -> Result<Vec<Receipt>, SourceError> {
        while self.read_outbox(FROM_OUTBOX).await? > 0 {}
        self.drain(placed);
        let pending = self.list.all_pending();
        let mut receipts = Vec::new();
        for chunk in pending.chunks(LAST_LOOK_READ) {
            receipts.extend(self.look(chunk.to_vec()).await?);
        }
        self.tally
            .lock()
            .expect("observe tally")
            .tally
            .found_by_last_look = receipts.len() as u64;
        Ok(receipts)
    }

    /// One read of the store for `batch`: the events found become receipts.
    async fn look(&mut self, batch: Vec<Watched>) -> Result<Vec<Receipt>, SourceError> {
        look(self.mongo, &mut self.list, batch, self.tally).await
    }
}

/// One read of the store for `batch`, events of the watch list: those found become receipts.
async fn look(
    mongo: &Mongo,
    list: &mut Watchlist,
    batch: Vec<Watched>,
    tally: &Tally,
) -> Result<Vec<Receipt>, SourceError> {
    let started = now_us();
    let effects = mongo.effects(&batch).await?;
    let ended = now_us();
    let found: BTreeSet<i64> = effects.found.keys().copied().collect();
    let mut t = tally.lock().expect("observe tally");
    t.tally.polls += 1;
    t.tally.looked_for += batch.len() as u64;
    t.tally.documents_read += effects.read;
    let mut receipts = Vec::with_capacity(found.len());
    for Found {
        event: e,
        resolution_us,
    } in list.settle(&batch, &found, (started, ended))
    {
        let _ = t
            .resolution
            .record(resolution_us.clamp(1, 3_600_000_000) as u64);
        t.tally.found += 1;
        match effects.found[&e.seq] {
            Seen::Created => {}
            Seen::JoinInAppliedEvents => t.tally.joins_in_applied_events += 1,
            Seen::JoinInParticipants => t.tally.joins_in_participants += 1,
        }
        receipts.push(Receipt {
            seq: e.seq,
            event_type: e.event_type,
            stamps: ReceiptStamps {
                t_sched: e.t_sched,
                t0: e.t0,
                t2: None,
            },
            t3: None,
            t5: ended,
        });
    }
    t.tally.passed_over = list.passed_over() as u64;
    Ok(receipts)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
