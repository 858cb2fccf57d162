//! The receipt reads, on their own tasks so that a slow store never stalls the Kafka read: the
//! follow loop asks for the receipts of events seen on Kafka ([`Requests`]), [`fetch`] answers.

use std::sync::Arc;

use tokio::sync::mpsc;

use crate::model::join::{Join, Receipt};
use crate::sources::{Mongo, Pg, SourceError, IN_CHUNK};

/// Receipt requests at once: with two in flight FerretDB on 2 cores serves 1.6x the documents.
pub(crate) const IN_FLIGHT: usize = 2;

/// What a request returns.
pub(crate) type Answer = Result<Vec<Receipt>, SourceError>;

/// Whether an answer that found `found` receipts calls for the next request at once, rather
/// than at the next poll: only while the store holds a backlog of receipts (half a request's
/// worth or more found). Asking again after every answer that found anything kept
/// [`IN_FLIGHT`] requests at the store all the time at a steady rate, each finding the few
/// receipts written since the one before: at 500 events/s the verifier's PostgreSQL sessions
/// (each request first reads its seqs' event ids) spent 0.54x the CPU per event once it waited
/// for the poll (BENCHMARKS.md, `VERIFIER_BINARY`).
pub(crate) fn ask_again_now(found: usize) -> bool {
    found * 2 >= IN_CHUNK
}

/// Requests to the receipt reader in flight, and where the next one starts.
#[derive(Debug, Default)]
pub(crate) struct Requests {
    in_flight: usize,
    next_from: i64,
    /// Every seq below this one has a receipt.
    low: i64,
}

impl Requests {
    /// Nothing asked yet.
    pub(crate) fn new() -> Self {
        Self {
            in_flight: 0,
            next_from: 1,
            low: 1,
        }
    }

    /// Asks for the next receipts to look for, up to [`IN_FLIGHT`] requests at once, each for
    /// different seqs.
    pub(crate) fn send(&mut self, join: &Join, want: &mpsc::Sender<Vec<i64>>) {
        while self.low <= join.counts().expected as i64 && join.has_receipt(self.low) {
            self.low += 1;
        }
        if self.in_flight == 0 {
            self.next_from = self.low;
        }
        while self.in_flight < IN_FLIGHT {
            let seqs = join.awaiting_receipt(self.next_from.max(self.low), IN_CHUNK);
            let Some(&last) = seqs.last() else { return };
            if want.try_send(seqs).is_err() {
                return;
            }
            self.next_from = last + 1;
            self.in_flight += 1;
        }
    }

    /// One request was answered.
    pub(crate) fn answered(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

/// Reads the receipts of the seqs asked for, each request on its own task, until the asking
/// side is gone.
pub(crate) async fn fetch(
    pg: Pg,
    mongo: Mongo,
    run_id: i64,
    mut want: mpsc::Receiver<Vec<i64>>,
    got: mpsc::Sender<Answer>,
) {
    let pg = Arc::new(pg);
    while let Some(seqs) = want.recv().await {
        let (pg, mongo, got) = (Arc::clone(&pg), mongo.clone(), got.clone());
        tokio::spawn(async move {
            let result = async {
                let ids: Vec<String> = pg.ids(run_id, &seqs).await?.into_values().collect();
                mongo.receipts(&ids).await
            }
            .await;
            let _ = got.send(result).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_again_at_once_only_behind_a_backlog() {
        assert!(!ask_again_now(1));
        assert!(!ask_again_now(IN_CHUNK / 2 - 1));
        assert!(ask_again_now(IN_CHUNK / 2));
        assert!(ask_again_now(IN_CHUNK));
    }
}
