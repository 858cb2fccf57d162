//! After following stops: a last look for the receipts of every event still unaccounted for,
//! the fate of each event still without one (lost, pending or undetermined: [`crate::model::fate`]),
//! the first of them named, MongoDB's state audited (once every event has a receipt), and the
//! report built.

use crate::model::fate::{fate, FateCounts, Reach};
use crate::model::join::Join;
use crate::model::manifest::RunInfo;
use crate::model::receipt_source::{ReceiptSource, ReceiptsInfo};
use crate::model::slo::Slo;
use crate::report::{Inputs, Missing, Report, LISTED};
use crate::sources::{SourceError, IN_CHUNK};

use super::{ConsumerProgress, Services};

/// What the follow loop knew when it stopped.
pub(crate) struct Stopped {
    /// When following stopped, µs since the epoch.
    pub(crate) at_us: i64,
    /// How far each part of the pipeline got.
    pub(crate) reach: Reach,
    /// The consumer group then.
    pub(crate) consumer: Option<ConsumerProgress>,
    /// Where the receipts came from.
    pub(crate) receipts: ReceiptsInfo,
    /// A fault run: its log, and the fault it told of (`None`: none started).
    pub(crate) fault: Option<(
        std::path::PathBuf,
        Option<crate::model::fault::FaultSummary>,
    )>,
    /// End to end per second of following.
    pub(crate) latency_per_second: Vec<crate::report::LatencySecond>,
}

/// Sweeps, audits and reports on `run`.
pub(crate) async fn finish(
    s: &Services,
    run: &RunInfo,
    join: &mut Join,
    slo: &Slo,
    stopped: Stopped,
) -> Result<Report, SourceError> {
    if stopped.receipts.mode == ReceiptSource::ProcessedEvents.mode() {
        // A metrics file was read to where it ended when following stopped.
        sweep(s, run.run_id, join).await?;
    }
    let outbox_rows = s.pg.outbox_rows(run.run_id).await?;
    let mut fates = FateCounts::default();
    for (_, at) in join.unreceipted() {
        fates.add(fate(at, &stopped.reach));
    }
    let missing = missing(s, run.run_id, join, &stopped.reach).await?;
    let audit = if join.counts().receipts == join.counts().expected {
        Some(crate::sources::audit::audit(&s.pg, &s.mongo, run.run_id).await?)
    } else {
        None
    };
    Ok(Report::build(
        join,
        Inputs {
            run: run.clone(),
            outbox_rows,
            missing,
            audit,
            slo: slo.clone(),
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            stopped_following_us: stopped.at_us,
            fates,
            consumer: stopped.consumer,
            receipts: stopped.receipts,
            fault: stopped.fault,
            latency_per_second: stopped.latency_per_second,
        },
    ))
}

/// Looks for the receipt of every event still without one, whether or not the verifier saw it
/// on Kafka.
async fn sweep(s: &Services, run_id: i64, join: &mut Join) -> Result<(), SourceError> {
    let mut from = 1;
    loop {
        let chunk: Vec<i64> = join
            .unfinished(from, IN_CHUNK)
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        let Some(&last) = chunk.last() else {
            return Ok(());
        };
        let ids: Vec<String> = s.pg.ids(run_id, &chunk).await?.into_values().collect();
        for r in s.mongo.receipts(&ids).await? {
            join.on_receipt(&r);
        }
        from = last + 1;
    }
}

/// The first [`LISTED`] events without a receipt, with their ids, where they were last seen and
/// their fate.
async fn missing(
    s: &Services,
    run_id: i64,
    join: &Join,
    reach: &Reach,
) -> Result<Vec<Missing>, SourceError> {
    let listed = join.unfinished(1, LISTED);
    let seqs: Vec<i64> = listed.iter().map(|(seq, _)| *seq).collect();
    let ids = s.pg.ids(run_id, &seqs).await?;
    Ok(listed
        .into_iter()
        .map(|(seq, last_stage)| Missing {
            event_id: ids.get(&seq).cloned(),
            seq,
            last_stage,
            fate: Some(fate(join.last_copy(seq), reach)),
        })
        .collect())
}
