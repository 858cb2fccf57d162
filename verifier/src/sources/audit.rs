//! The state audit's I/O: what the outbox says MongoDB must hold, streamed from PostgreSQL in
//! chunks of [`IN_CHUNK`] entities, each chunk's documents read from the store and judged by the
//! pure rules of [`crate::model::integrity`]. Memory stays bounded whatever the run's size.

use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt as _};
use futures_util::TryStreamExt as _;

use crate::model::integrity::{Audit, Expected, Finding};
use crate::sources::{Mongo, Pg, SourceError, IN_CHUNK};

/// Chunks audited at once: FerretDB on 2 cores reads 1.6x as many documents per second with
/// two requests in flight as with one.
const AUDIT_CONCURRENCY: usize = 2;

/// Audits MongoDB's state after a run: first the users the run created, then every activity it
/// touched with every join of it in the outbox (from any run).
pub(crate) async fn audit(pg: &Pg, mongo: &Mongo, run_id: i64) -> Result<Audit, SourceError> {
    let started = std::time::Instant::now();
    let mut auditor = Auditor {
        mongo,
        audit: Audit::default(),
        in_flight: FuturesUnordered::new(),
    };
    users(pg, run_id, &mut auditor).await?;
    activities(pg, run_id, &mut auditor).await?;
    while auditor.finish_one().await? {}
    let mut audit = auditor.audit;
    audit.seconds = started.elapsed().as_secs_f64();
    Ok(audit)
}

/// The users the run created, a chunk at a time.
async fn users(pg: &Pg, run_id: i64, auditor: &mut Auditor<'_>) -> Result<(), SourceError> {
    let what = "reading the run's users from the outbox";
    let rows = pg
        .client()
        .query_raw(
            "SELECT aggregate_id::text FROM activity.event_outbox WHERE run_id = $1 AND event_type = 'UserCreated'",
            [&run_id],
        )
        .await
        .map_err(pg.query_error(what))?;
    futures_util::pin_mut!(rows);
    let mut expected = Expected::default();
    while let Some(row) = rows.try_next().await.map_err(pg.query_error(what))? {
        expected.users.insert(row.get(0));
        if expected.users.len() == IN_CHUNK {
            auditor.submit(std::mem::take(&mut expected)).await?;
        }
    }
    auditor.submit(expected).await
}

/// Every activity the run touched with every join of it in the outbox, a chunk of activities
/// at a time.
async fn activities(pg: &Pg, run_id: i64, auditor: &mut Auditor<'_>) -> Result<(), SourceError> {
    let what = "reading the activities the run touched from the outbox";
    // In a temporary table with statistics: joined with the whole outbox, a CTE's guessed row
    // count can make the planner loop over jsonb rows.
    pg.client()
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS pg_temp.verifier_touched;
             CREATE TEMP TABLE verifier_touched AS
               SELECT aggregate_id, bool_or(event_type = 'ActivityCreated') AS created
               FROM activity.event_outbox WHERE run_id = {run_id} AND aggregate_type = 'activity'
               GROUP BY aggregate_id;
             ANALYZE verifier_touched;"
        ))
        .await
        .map_err(pg.query_error(what))?;
    let rows = pg
        .client()
        .query_raw(
            "SELECT t.aggregate_id::text, j.payload->>'user_id', t.created
             FROM verifier_touched t
             LEFT JOIN activity.event_outbox j
               ON j.aggregate_id = t.aggregate_id AND j.event_type = 'ParticipantJoined'
             ORDER BY t.aggregate_id",
            std::iter::empty::<i64>(),
        )
        .await
        .map_err(pg.query_error(what))?;
    futures_util::pin_mut!(rows);
    let mut expected = Expected::default();
    while let Some(row) = rows.try_next().await.map_err(pg.query_error(what))? {
        let id: String = row.get(0);
        if !expected.joins.contains_key(&id) && expected.joins.len() == IN_CHUNK {
            auditor.submit(std::mem::take(&mut expected)).await?;
        }
        if row.get::<_, bool>(2) {
            expected.activities.insert(id.clone());
        }
        let joined: Option<String> = row.get(1);
        expected.joins.entry(id).or_default().extend(joined);
    }
    auditor.submit(expected).await?;
    pg.client()
        .batch_execute("DROP TABLE IF EXISTS pg_temp.verifier_touched")
        .await
        .map_err(pg.query_error(what))
}

type ChunkResult = Result<(Vec<Finding>, u64), SourceError>;

/// Audits chunks, [`AUDIT_CONCURRENCY`] at a time.
struct Auditor<'a> {
    mongo: &'a Mongo,
    audit: Audit,
    in_flight: FuturesUnordered<BoxFuture<'a, ChunkResult>>,
}

impl<'a> Auditor<'a> {
    async fn submit(&mut self, chunk: Expected) -> Result<(), SourceError> {
        if self.in_flight.len() == AUDIT_CONCURRENCY {
            self.finish_one().await?;
        }
        self.in_flight
            .push(Box::pin(audit_chunk(self.mongo, chunk)));
        Ok(())
    }

    /// Waits for one chunk; false when none was in flight.
    async fn finish_one(&mut self) -> Result<bool, SourceError> {
        match self.in_flight.next().await {
            None => Ok(false),
            Some(done) => {
                let (findings, read) = done?;
                self.audit.add(findings);
                self.audit.documents_read += read;
                Ok(true)
            }
        }
    }
}

async fn audit_chunk(mongo: &Mongo, expected: Expected) -> ChunkResult {
    if expected.users.is_empty() && expected.joins.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let mut read = 0;
    let state = mongo.state(&expected, &mut read).await?;
    Ok((crate::model::integrity::audit(&expected, &state), read))
}
