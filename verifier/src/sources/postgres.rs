//! PostgreSQL: the run manifest, the outbox and the replication slot.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::manifest::RunInfo;

use super::{Endpoints, SourceError};

/// One event of a run, as the outbox has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutboxEvent {
    /// Position in the run.
    pub seq: i64,
    /// Its type.
    pub event_type: events::EventType,
    /// `scheduled_at`, µs (rate mode).
    pub t_sched: Option<i64>,
    /// `created_at`, µs.
    pub t0: i64,
}

/// An event observe mode looks for in the store: what its effect is on (`entity_id`, the
/// outbox's `aggregate_id`: the user, or the activity created or joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watched {
    /// Position in the run.
    pub seq: i64,
    /// The outbox id.
    pub event_id: String,
    /// Its type.
    pub event_type: events::EventType,
    /// The user or activity its effect is on.
    pub entity_id: String,
    /// For a join, the user who joined (the payload's `user_id`): its effect is that user in
    /// the activity's `participants`.
    pub joiner: Option<String>,
    /// `scheduled_at`, µs.
    pub t_sched: Option<i64>,
    /// `created_at`, µs.
    pub t0: i64,
}

/// How long a lost connection is tried again (every [`RECONNECT_EVERY`]) before the query that
/// met it fails: longer than a PostgreSQL restart.
const RECONNECT_FOR: Duration = Duration::from_secs(120);
const RECONNECT_EVERY: Duration = Duration::from_millis(500);

/// Whether `e` says the connection is gone (closed, or the server shutting down or ending the
/// backend: SQLSTATE class 57P and 08), rather than that the statement failed.
fn connection_lost(client: &tokio_postgres::Client, e: &tokio_postgres::Error) -> bool {
    client.is_closed()
        || e.is_closed()
        || e.code()
            .is_some_and(|c| c.code().starts_with("57P") || c.code().starts_with("08"))
}

/// A connection to database `app`. When the server closes it (a restart, a terminated
/// backend), the reads below connect again and are asked once more ([`Pg::retrying`]): each is
/// one statement that only reads, so asking again is safe.
pub(crate) struct Pg {
    client: std::sync::RwLock<Arc<tokio_postgres::Client>>,
    /// Held while connecting again, so that tasks sharing this `Pg` connect once.
    reconnecting: tokio::sync::Mutex<()>,
    /// How long a lost connection is tried again: [`RECONNECT_FOR`], or zero (not at all).
    reconnect_for: Duration,
    endpoints: Endpoints,
    addr: String,
}

const RUN_COLUMNS: &str = "run_id, mode, status, n, written, seed, mix, rate, \
    (extract(epoch from started_at) * 1e6)::bigint, (extract(epoch from finished_at) * 1e6)::bigint";

impl Pg {
    /// Connects; a lost connection is made again by the next read ([`Pg::retrying`]).
    pub(crate) async fn connect(e: &Endpoints) -> Result<Self, SourceError> {
        Self::with_reconnect(e, RECONNECT_FOR).await
    }

    /// Connects; a read on a lost connection fails at once (for a probe, which reports the
    /// outage and connects again itself).
    pub(crate) async fn connect_once(e: &Endpoints) -> Result<Self, SourceError> {
        Self::with_reconnect(e, Duration::ZERO).await
    }

    async fn with_reconnect(e: &Endpoints, reconnect_for: Duration) -> Result<Self, SourceError> {
        let client = Self::open(e).await?;
        Ok(Self {
            client: std::sync::RwLock::new(Arc::new(client)),
            reconnecting: tokio::sync::Mutex::new(()),
            reconnect_for,
            endpoints: e.clone(),
            addr: e.pg_addr(),
        })
    }

    /// The connection now (a statement run on it after it was lost fails: [`Pg::retrying`]
    /// asks again on a new one).
    pub(crate) fn client(&self) -> Arc<tokio_postgres::Client> {
        Arc::clone(&self.client.read().expect("pg client"))
    }

    /// Runs `f` on the connection; when it fails because the connection is gone, connects
    /// again (for up to [`RECONNECT_FOR`]) and runs it once more.
    async fn retrying<T, F, Fut>(&self, f: F) -> Result<T, tokio_postgres::Error>
    where
        F: Fn(Arc<tokio_postgres::Client>) -> Fut,
        Fut: Future<Output = Result<T, tokio_postgres::Error>>,
    {
        let client = self.client();
        match f(Arc::clone(&client)).await {
            Err(e) if !self.reconnect_for.is_zero() && connection_lost(&client, &e) => {
                match self.reconnect(&client, &e).await {
                    Some(fresh) => f(fresh).await,
                    None => Err(e),
                }
            }
            done => done,
        }
    }

    /// A new connection in place of `lost` (unless another task has already made one).
    async fn reconnect(
        &self,
        lost: &Arc<tokio_postgres::Client>,
        why: &tokio_postgres::Error,
    ) -> Option<Arc<tokio_postgres::Client>> {
        let _one = self.reconnecting.lock().await;
        let now = self.client();
        if !Arc::ptr_eq(&now, lost) && !now.is_closed() {
            return Some(now);
        }
        tracing::warn!(
            "PostgreSQL at {}: the connection was lost ({why}); connecting again",
            self.addr
        );
        let since = Instant::now();
        while since.elapsed() < self.reconnect_for {
            match Self::open(&self.endpoints).await {
                Ok(c) => {
                    let fresh = Arc::new(c);
                    *self.client.write().expect("pg client") = Arc::clone(&fresh);
                    // a warning's pair: whoever saw the loss sees the end of it
                    tracing::warn!(
                        "PostgreSQL at {}: connected again after {:.1} s",
                        self.addr,
                        since.elapsed().as_secs_f64()
                    );
                    return Some(fresh);
                }
                Err(e) => tracing::debug!("PostgreSQL at {}: not yet: {e}", self.addr),
            }
            tokio::time::sleep(RECONNECT_EVERY).await;
        }
        None
    }

    async fn open(e: &Endpoints) -> Result<tokio_postgres::Client, SourceError> {
        let addr = e.pg_addr();
        let mut config = tokio_postgres::Config::new();
        config
            .host(&e.pg_host)
            .port(e.pg_port)
            .user(&e.pg_user)
            .dbname(&e.pg_database)
            .application_name("verifier")
            // The audit's DROP TABLE IF EXISTS would log a NOTICE for every run.
            .options("-c client_min_messages=warning")
            .connect_timeout(Duration::from_secs(5));
        if let Some(p) = &e.pg_password {
            config.password(p);
        }
        let (client, connection) =
            config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(|source| match e.pg_password {
                    None => SourceError::PgNoPassword {
                        addr: addr.clone(),
                        source,
                    },
                    Some(_) => SourceError::PgConnect {
                        addr: addr.clone(),
                        source,
                    },
                })?;
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("PostgreSQL connection closed: {err}");
            }
        });
        Ok(client)
    }

    /// A failed query, with what it was reading.
    pub(crate) fn query_error(
        &self,
        what: &'static str,
    ) -> impl FnOnce(tokio_postgres::Error) -> SourceError + '_ {
        move |source| SourceError::PgQuery {
            addr: self.addr.clone(),
            what,
            source,
        }
    }

    fn manifest_error(&self, source: tokio_postgres::Error) -> SourceError {
        SourceError::Manifest {
            addr: self.addr.clone(),
            source,
        }
    }

    fn run_info(&self, row: &tokio_postgres::Row) -> Result<RunInfo, SourceError> {
        let run_id: i64 = row.get(0);
        let bad = |source| SourceError::ManifestValue {
            addr: self.addr.clone(),
            run_id,
            source,
        };
        Ok(RunInfo {
            run_id,
            mode: row.get::<_, &str>(1).parse().map_err(bad)?,
            status: row.get::<_, &str>(2).parse().map_err(bad)?,
            n: row.get(3),
            written: row.get(4),
            seed: row.get(5),
            mix: row.get(6),
            rate: row.get(7),
            started_us: row.get(8),
            finished_us: row.get(9),
        })
    }

    /// The manifest rows of `query` (over [`RUN_COLUMNS`]) with its one optional parameter.
    async fn runs(&self, query: &str, param: Option<i64>) -> Result<Vec<RunInfo>, SourceError> {
        // The view reads a rate run whose session is gone as interrupted (finished), so such a
        // run is judged by what it wrote instead of being waited for.
        let q = format!("SELECT {RUN_COLUMNS} FROM outbox_demo.run_status {query}");
        let q = q.as_str();
        let rows = match param {
            None => {
                self.retrying(|c| async move { c.query(q, &[]).await })
                    .await
            }
            Some(p) => {
                self.retrying(|c| async move { c.query(q, &[&p]).await })
                    .await
            }
        }
        .map_err(|e| self.manifest_error(e))?;
        rows.iter().map(|r| self.run_info(r)).collect()
    }

    /// The manifest of run `id`.
    pub(crate) async fn run(&self, id: i64) -> Result<RunInfo, SourceError> {
        let runs = self.runs("WHERE run_id = $1", Some(id)).await?;
        runs.into_iter().next().ok_or(SourceError::UnknownRun(id))
    }

    /// The manifest of the run with the highest id.
    pub(crate) async fn latest(&self) -> Result<RunInfo, SourceError> {
        let runs = self.runs("ORDER BY run_id DESC LIMIT 1", None).await?;
        runs.into_iter().next().ok_or(SourceError::NoRun)
    }

    /// The first run with an id above `id`, if one exists yet.
    pub(crate) async fn run_after(&self, id: i64) -> Result<Option<RunInfo>, SourceError> {
        let runs = self
            .runs("WHERE run_id > $1 ORDER BY run_id LIMIT 1", Some(id))
            .await?;
        Ok(runs.into_iter().next())
    }

    /// The ids of every run from `first` on, oldest first (the daemon's runs to follow: ids only,
    /// read twice a second).
    pub(crate) async fn run_ids_from(&self, first: i64) -> Result<Vec<i64>, SourceError> {
        let rows = self
            .retrying(|c| async move {
                c.query(
                    "SELECT run_id FROM outbox_demo.runs WHERE run_id >= $1 ORDER BY run_id",
                    &[&first],
                )
                .await
            })
            .await
            .map_err(|e| self.manifest_error(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Where a daemon starting for the first time begins: the oldest run still writing, else
    /// the next run to come (the highest id plus one).
    pub(crate) async fn first_to_follow(&self) -> Result<i64, SourceError> {
        let row = self
            .retrying(|c| async move {
                c.query_one(
                    "SELECT coalesce(min(run_id) FILTER (WHERE status = 'running'), \
                     coalesce(max(run_id), 0) + 1) FROM outbox_demo.run_status",
                    &[],
                )
                .await
            })
            .await
            .map_err(|e| self.manifest_error(e))?;
        Ok(row.get(0))
    }

    /// The highest run id in the manifest (0 when it is empty).
    pub(crate) async fn max_run_id(&self) -> Result<i64, SourceError> {
        let row = self
            .retrying(|c| async move {
                c.query_one("SELECT coalesce(max(run_id), 0) FROM outbox_demo.runs", &[])
                    .await
            })
            .await
            .map_err(|e| self.manifest_error(e))?;
        Ok(row.get(0))
    }

    /// Writes a run on this connection (its own: the call holds it for the run's length):
    /// `demo_generate(events, mix, seed)` without a rate (its run id), else
    /// `CALL demo_run(events, rate, 1, mix, seed)` (`None`: the manifest names the run). The
    /// extension's error, with its SQLSTATE and hint, is the `Err`.
    pub(crate) async fn start_run(
        &self,
        events: i64,
        rate: Option<f64>,
        mix: Option<&str>,
        seed: Option<i64>,
    ) -> Result<Option<i64>, String> {
        let c = self.client();
        let mix = mix.unwrap_or("50/30/20");
        let result = match rate {
            None => c
                .query_one(
                    "SELECT run_id FROM demo_generate($1, $2, $3)",
                    &[&events, &mix, &seed],
                )
                .await
                .map(|row| Some(row.get(0))),
            Some(rate) => c
                .execute(
                    "CALL demo_run($1, $2, 1, $3, $4)",
                    &[&events, &rate, &mix, &seed],
                )
                .await
                .map(|_| None),
        };
        result.map_err(|e| match e.as_db_error() {
            Some(db) => format!(
                "{} (SQLSTATE {}){}",
                db.message(),
                db.code().code(),
                db.hint().map_or(String::new(), |h| format!("; hint: {h}"))
            ),
            None => format!("PostgreSQL at {}: {e}", self.addr),
        })
    }

    /// Runs `call` (a rate run: `CALL demo_run(…)`) on this connection until it returns or
    /// `stop` turns true; then it is cancelled, as Ctrl-C in psql would (what it committed
    /// stays, the run reads `interrupted`). Should this process die instead, the server ends the
    /// call itself within a second of the connection closing (`client_connection_check_interval`),
    /// so no rate run outlives the process that started it.
    pub(crate) async fn call_until(
        &self,
        call: &str,
        what: &'static str,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), SourceError> {
        let client = self.client();
        if let Err(e) = client
            .batch_execute("SET client_connection_check_interval = '1s'")
            .await
        {
            tracing::warn!("PostgreSQL at {}: cannot set client_connection_check_interval ({e}): a rate run would outlive a verifier that dies", self.addr);
        }
        let cancel = client.cancel_token();
        tokio::select! {
            done = client.batch_execute(call) => done.map_err(self.query_error(what)),
            () = async { drop(stop.wait_for(|stop| *stop).await) } => {
                if let Err(e) = cancel.cancel_query(tokio_postgres::NoTls).await {
                    tracing::warn!("PostgreSQL at {}: cancelling {what}: {e}; stop it with SELECT demo_stop()", self.addr);
                }
                Ok(())
            }
        }
    }

    /// Rows of the run in the outbox.
    pub(crate) async fn outbox_rows(&self, run_id: i64) -> Result<u64, SourceError> {
        let n: i64 = self
            .retrying(|c| async move {
                c.query_one(
                    "SELECT count(*) FROM activity.event_outbox WHERE run_id = $1",
                    &[&run_id],
                )
                .await
            })
            .await
            .map_err(self.query_error("counting the run's outbox rows"))?
            .get(0);
        Ok(n as u64)
    }

    /// Event ids of the given seqs of a run (seqs without an outbox row are left out).
    pub(crate) async fn ids(
        &self,
        run_id: i64,
        seqs: &[i64],
    ) -> Result<BTreeMap<i64, String>, SourceError> {
        let rows = self
            .retrying(|c| async move { c.query(
                "SELECT seq, id::text FROM activity.event_outbox WHERE run_id = $1 AND seq = ANY($2)",
                &[&run_id, &seqs],
            ).await })
            .await
            .map_err(self.query_error("reading event ids from the outbox"))?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    /// Where the outbox has `ids`: the run's events with their seq, type, `scheduled_at` and
    /// `created_at` (µs), and the ids of other runs' events. An id in neither is not in the
    /// outbox, or not visible yet (logical decoding can send a commit on before other sessions
    /// see it).
    pub(crate) async fn events_by_id(
        &self,
        run_id: i64,
        ids: &[uuid::Uuid],
    ) -> Result<(HashMap<uuid::Uuid, OutboxEvent>, HashSet<uuid::Uuid>), SourceError> {
        let rows = self
            .retrying(|c| async move {
                c.query(
                "SELECT id, seq, event_type, (extract(epoch from scheduled_at) * 1e6)::bigint, \
                 (extract(epoch from created_at) * 1e6)::bigint, run_id \
                 FROM activity.event_outbox WHERE id = ANY($1)",
                &[&ids],
            ).await
            })
            .await
            .map_err(self.query_error("looking up the metrics file's events in the outbox"))?;
        let mut of_run = HashMap::with_capacity(rows.len());
        let mut of_others = HashSet::new();
        for r in rows {
            if r.get::<_, i64>(5) != run_id {
                of_others.insert(r.get(0));
                continue;
            }
            let event_type = self.event_type(&r.get::<_, String>(2), run_id)?;
            of_run.insert(
                r.get(0),
                OutboxEvent {
                    seq: r.get(1),
                    event_type,
                    t_sched: r.get(3),
                    t0: r.get(4),
                },
            );
        }
        Ok((of_run, of_others))
    }

    /// The run's events from `from_seq` on, in seq order, at most `limit`: what observe mode
    /// watches the store for.
    pub(crate) async fn events_from(
        &self,
        run_id: i64,
        from_seq: i64,
        limit: i64,
    ) -> Result<Vec<Watched>, SourceError> {
        let rows = self
            .retrying(|c| async move {
                c.query(
                    "SELECT seq, id::text, event_type, aggregate_id::text, \
                 (extract(epoch from scheduled_at) * 1e6)::bigint, \
                 (extract(epoch from created_at) * 1e6)::bigint, \
                 CASE WHEN event_type = 'ParticipantJoined' THEN payload->>'user_id' END \
                 FROM activity.event_outbox WHERE run_id = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                    &[&run_id, &from_seq, &limit],
                )
                .await
            })
            .await
            .map_err(self.query_error("reading the run's events from the outbox"))?;
        rows.iter()
            .map(|r| {
                Ok(Watched {
                    seq: r.get(0),
                    event_id: r.get(1),
                    event_type: self.event_type(&r.get::<_, String>(2), run_id)?,
                    entity_id: r.get(3),
                    t_sched: r.get(4),
                    t0: r.get(5),
                    joiner: r.get(6),
                })
            })
            .collect()
    }

    /// An outbox row's `event_type`, parsed.
    fn event_type(&self, t: &str, run_id: i64) -> Result<events::EventType, SourceError> {
        t.parse().map_err(|e| SourceError::OutboxRow {
            addr: self.addr.clone(),
            problem: format!("event_type of a row of run {run_id}: {e}"),
        })
    }

    /// `created_at` of one event of the run, µs.
    pub(crate) async fn created_us(
        &self,
        run_id: i64,
        seq: i64,
    ) -> Result<Option<i64>, SourceError> {
        Ok(self
            .retrying(|c| async move { c.query_opt(
                "SELECT (extract(epoch from created_at) * 1e6)::bigint FROM activity.event_outbox WHERE run_id = $1 AND seq = $2",
                &[&run_id, &seq],
            ).await })
            .await
            .map_err(self.query_error("reading an event's created_at"))?
            .map(|r| r.get(0)))
    }

    /// The WAL position now (as text): every transaction committed before this call is at or
    /// before it.
    pub(crate) async fn current_wal_lsn(&self) -> Result<String, SourceError> {
        Ok(self
            .retrying(
                |c| async move { c.query_one("SELECT pg_current_wal_lsn()::text", &[]).await },
            )
            .await
            .map_err(self.query_error("reading the WAL position"))?
            .get(0))
    }

    /// Whether the replication slot has confirmed the WAL up to `lsn` (`None`: no such slot).
    pub(crate) async fn slot_passed(&self, lsn: &str) -> Result<Option<bool>, SourceError> {
        Ok(self
            .retrying(|c| async move { c.query_opt(
                "SELECT confirmed_flush_lsn >= $2::text::pg_lsn FROM pg_replication_slots WHERE slot_name = $1",
                &[&events::names::REPLICATION_SLOT, &lsn],
            ).await })
            .await
            .map_err(self.query_error("reading the replication slot"))?
            .and_then(|r| r.get(0)))
    }

    /// Bytes of WAL the replication slot has not confirmed (`None`: no such slot).
    /// Where the WAL is now, in bytes from its start: two readings give the WAL written between.
    pub(crate) async fn wal_position(&self) -> Result<i64, SourceError> {
        Ok(self
            .retrying(|c| async move {
                c.query_one(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
                    &[],
                )
                .await
            })
            .await
            .map_err(self.query_error("reading the WAL position"))?
            .get(0))
    }

    pub(crate) async fn slot_lag_bytes(&self) -> Result<Option<i64>, SourceError> {
        Ok(self
            .retrying(|c| async move {
                c.query_opt(
                    "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn)::bigint \
                 FROM pg_replication_slots WHERE slot_name = $1",
                    &[&events::names::REPLICATION_SLOT],
                )
                .await
            })
            .await
            .map_err(self.query_error("reading the replication slot"))?
            .and_then(|r| r.get(0)))
    }
}
