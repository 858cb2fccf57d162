//! Observe mode (`--receipts observe`): no cooperation from the consumer. Every `poll` the
//! verifier reads the run's new events from the outbox, then looks in the store for the effect
//! of the oldest [`CHECK`] still pending (a user created, an activity created, a join: its event
//! id in the activity's `applied_events` when the consumer keeps that list, else the joining
//! user in `participants`) and takes T5 as the moment the read that first found it returned. An event is applied
//! somewhere between the start of the last read that did not find it and the end of the one
//! that did: that gap is each event's resolution, kept in a histogram and reported, so T5 is
//! never claimed finer than it was seen. T3 is not seen: queue and process are not measured.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::receipts::Answer;
use crate::join::{Receipt, ReceiptStamps};
use crate::measure::StageSummary;
use crate::sources::mongo::Seen;
use crate::sources::postgres::Watched;
use crate::sources::{Mongo, Pg, SourceError};

/// Pending events whose effect one poll looks for, oldest first.
pub(crate) const CHECK: usize = 1_000;
/// New events read from the outbox per poll.
const FROM_OUTBOX: i64 = 5_000;

/// What observing cost and how fine it saw, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ObserveTally {
    /// The poll interval, ms.
    pub poll_ms: f64,
    /// Reads of the store (one per poll with something pending).
    pub polls: u64,
    /// Documents read from the store.
    pub documents_read: u64,
    /// Seconds from the first poll to the last.
    pub seconds: f64,
    /// `documents_read / seconds`.
    pub documents_per_s: Option<f64>,
    /// Effects found.
    pub found: u64,
    /// Joins found by their event id in `applied_events`.
    #[serde(default)]
    pub joins_in_applied_events: u64,
    /// Joins found by the joining user in `participants` (a consumer that keeps no
    /// `applied_events`).
    #[serde(default)]
    pub joins_in_participants: u64,
    /// Per event, the window its write is known to lie in (last read without it to the end of
    /// the first read with it).
    pub resolution: StageSummary,
}

impl ObserveTally {
    /// Which rule found the joins, for the report's `receipts:` line.
    pub fn joins_rule(&self) -> String {
        match (self.joins_in_applied_events, self.joins_in_participants) {
            (0, 0) => "no join found".to_owned(),
            (a, 0) => format!("joins found by their event id in applied_events ({a})"),
            (0, p) => format!(
                "joins found by the joining user in participants ({p}; the consumer keeps no applied_events)"
            ),
            (a, p) => format!(
                "joins found by their event id in applied_events ({a}) and by the joining user in participants ({p})"
            ),
        }
    }
}

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

/// An event being looked for, and when a read last did not find it.
struct Pending {
    event: Watched,
    /// µs: the start of the last read that did not find its effect (or `created_at`).
    known_absent_at: i64,
}

/// Observes the effects of run `run_id` (`n` events) until the follow loop is gone, sending
/// receipts to `got`.
pub(crate) async fn observe(
    pg: Pg,
    mongo: Mongo,
    (run_id, n): (i64, i64),
    poll: Duration,
    got: mpsc::Sender<Answer>,
    tally: Tally,
) {
    if let Err(e) = observe_loop(&pg, &mongo, (run_id, n), poll, &got, &tally).await {
        let _ = got.send(Err(e)).await;
    }
}

async fn observe_loop(
    pg: &Pg,
    mongo: &Mongo,
    (run_id, n): (i64, i64),
    poll: Duration,
    got: &mpsc::Sender<Answer>,
    tally: &Tally,
) -> Result<(), SourceError> {
    let mut pending: BTreeMap<i64, Pending> = BTreeMap::new();
    let mut next_seq = 1;
    let mut tick = tokio::time::interval(poll);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let first = Instant::now();
    loop {
        tick.tick().await;
        // Once the run's n events are known, the outbox has nothing more to say.
        let new = if next_seq <= n {
            pg.events_from(run_id, next_seq, FROM_OUTBOX).await?
        } else {
            Vec::new()
        };
        for event in new {
            next_seq = event.seq + 1;
            let known_absent_at = event.t0;
            pending.insert(
                event.seq,
                Pending {
                    event,
                    known_absent_at,
                },
            );
        }
        if pending.is_empty() {
            continue;
        }
        let receipts = match look(mongo, &mut pending, tally).await {
            Ok(r) => r,
            // The store down: said once by the follow loop, and read again next poll.
            Err(e @ SourceError::Mongo { .. }) => {
                if got.send(Err(e)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        tally.lock().expect("observe tally").tally.seconds = first.elapsed().as_secs_f64();
        if !receipts.is_empty() && got.send(Ok(receipts)).await.is_err() {
            return Ok(()); // following ended
        }
    }
}

/// One read of the store for the oldest pending events: those found become receipts.
async fn look(
    mongo: &Mongo,
    pending: &mut BTreeMap<i64, Pending>,
    tally: &Tally,
) -> Result<Vec<Receipt>, SourceError> {
    let batch: Vec<Watched> = pending
        .values()
        .take(CHECK)
        .map(|p| p.event.clone())
        .collect();
    let started = now_us();
    let effects = mongo.effects(&batch).await?;
    let ended = now_us();
    let mut t = tally.lock().expect("observe tally");
    t.tally.polls += 1;
    t.tally.documents_read += effects.read;
    let mut receipts = Vec::with_capacity(effects.found.len());
    for e in &batch {
        if let Some(seen) = effects.found.get(&e.seq) {
            let p = pending.remove(&e.seq).expect("pending");
            let _ = t
                .resolution
                .record((ended - p.known_absent_at).clamp(1, 3_600_000_000) as u64);
            t.tally.found += 1;
            match seen {
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
        } else if let Some(p) = pending.get_mut(&e.seq) {
            p.known_absent_at = started;
        }
    }
    Ok(receipts)
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}
