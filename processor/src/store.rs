//! Applies a [`Plan`] to MongoDB (or FerretDB) with plain `insert` and `update` commands.
//!
//! The driver's `Client::bulk_write` needs MongoDB 8, which the local store does not speak, so
//! batches go out as multi-document `insert` and multi-statement `update` commands. A
//! duplicate-key write error (code 11000) means "already applied" (see [`crate::plan`]); any
//! other error fails the batch, which the caller retries whole: every write is idempotent.

use mongodb::bson::{doc, Bson, Document};
use mongodb::options::ClientOptions;
use mongodb::{Client, Database};
use std::sync::Arc;
use tokio::sync::Semaphore;

use crate::plan::{fill_statement, Plan};

/// MongoDB's duplicate-key error code.
const DUPLICATE_KEY: i32 = 11000;
/// Documents or statements per command: well under the 16 MiB message and 100,000-write limits.
const CHUNK: usize = 1000;

/// A store operation failed. The message names the store's address.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `MONGODB_URI` is not a connection string the driver takes (its password masked).
    #[error("MONGODB_URI={uri:?} is not a MongoDB connection string: {source}")]
    Uri {
        /// The connection string, its password as `***`.
        uri: String,
        /// The driver's reason.
        #[source]
        source: Box<mongodb::error::Error>,
    },
    /// The command did not complete (network, timeout, server error).
    #[error("MongoDB store at {address}: {source}")]
    Command {
        /// Host and port of the store.
        address: String,
        /// The driver's error.
        #[source]
        source: Box<mongodb::error::Error>,
    },
    /// The command ran but a write in it failed for a reason other than a duplicate key.
    #[error(
        "MongoDB store at {address}: write to {collection} failed with code {code}: {message}"
    )]
    Write {
        /// Host and port of the store.
        address: String,
        /// The collection written.
        collection: String,
        /// Server error code.
        code: i32,
        /// Server error message.
        message: String,
    },
}

/// A connection to the projections' database.
#[derive(Debug, Clone)]
pub struct Store {
    db: Database,
    address: String,
    /// One permit per command that may be at the store at once (see [`Store::new`]).
    writers: Arc<Semaphore>,
}

/// What applying a plan found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Applied {
    /// Writes that were already applied before (duplicate keys, guarded joins).
    pub already_applied: usize,
}

impl Store {
    /// Parses `uri` (its path names the database; `activity` when it names none). Does not
    /// connect yet; see [`Store::ping`]. At most `writers` commands are sent at once; the rest
    /// wait their turn here, in order (`STORE_WRITERS`: on FerretDB's SQLite backend, which
    /// runs one write transaction at a time per database, neither 1 nor 8 was faster than the
    /// default 3; BENCHMARKS.md).
    pub async fn new(uri: &str, writers: usize) -> Result<Self, StoreError> {
        let invalid = |e| StoreError::Uri {
            uri: telemetry::log::redacted_uri(uri),
            source: Box::new(e),
        };
        let mut options = ClientOptions::parse(uri).await.map_err(invalid)?;
        let address = options
            .hosts
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let db_name = options
            .default_database
            .clone()
            .unwrap_or_else(|| events::names::MONGO_DATABASE.to_owned());
        options.app_name = Some("event-processor".to_owned());
        // Fail a command after 5 s instead of 30 s when the store is away, so the retry loop
        // logs and backs off promptly.
        options.server_selection_timeout = Some(std::time::Duration::from_secs(5));
        options.connect_timeout = Some(std::time::Duration::from_secs(3));
        // The three collections are written concurrently: keep that many connections (and one
        // for the receipts) open from the start, so the first batch does not pay for the
        // handshakes.
        options.min_pool_size = Some(4);
        let client = Client::with_options(options).map_err(invalid)?;
        Ok(Self {
            db: client.database(&db_name),
            address,
            writers: Arc::new(Semaphore::new(writers.max(1))),
        })
    }

    /// Host and port of the store, for messages.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The database name.
    pub fn database(&self) -> &str {
        self.db.name()
    }

    /// Drops the projections and the receipts (a collection that does not exist is skipped).
    /// Returns the names of the collections that existed.
    pub async fn drop_projections(&self) -> Result<Vec<&'static str>, StoreError> {
        use events::names::{ACTIVITIES, PROCESSED_EVENTS, STATISTICS, USERS};
        let existing = self
            .db
            .list_collection_names()
            .await
            .map_err(|e| StoreError::Command {
                address: self.address.clone(),
                source: Box::new(e),
            })?;
        let mut dropped = Vec::new();
        for name in [USERS, ACTIVITIES, STATISTICS, PROCESSED_EVENTS] {
            if existing.iter().any(|e| e == name) {
                self.command(doc! { "drop": name }).await?;
                dropped.push(name);
            }
        }
        Ok(dropped)
    }

    /// Checks that the store answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.command(doc! { "ping": 1 }).await.map(|_| ())
    }

    async fn command(&self, command: Document) -> Result<Document, StoreError> {
        // The semaphore is never closed, so acquiring only waits.
        let _turn = self.writers.acquire().await;
        self.db
            .run_command(command)
            .await
            .map_err(|e| StoreError::Command {
                address: self.address.clone(),
                source: Box::new(e),
            })
    }

    fn write_error(&self, collection: &str, e: &Document) -> StoreError {
        StoreError::Write {
            address: self.address.clone(),
            collection: collection.to_owned(),
            code: e.get_i32("code").unwrap_or(-1),
            message: e.get_str("errmsg").unwrap_or("").to_owned(),
        }
    }

    /// Inserts `docs` unordered. Returns the indices (into `docs`) whose `_id` already existed.
    pub async fn insert(
        &self,
        collection: &str,
        docs: &[Document],
    ) -> Result<Vec<usize>, StoreError> {
        let mut duplicates = Vec::new();
        for (c, chunk) in docs.chunks(CHUNK).enumerate() {
            let reply = self
                .command(doc! { "insert": collection, "documents": chunk, "ordered": false })
                .await?;
            for e in write_errors(&reply) {
                if e.get_i32("code") != Ok(DUPLICATE_KEY) {
                    return Err(self.write_error(collection, e));
                }
                let index = e.get_i32("index").unwrap_or(0).max(0) as usize;
                duplicates.push(c * CHUNK + index);
            }
        }
        Ok(duplicates)
    }

    /// Runs update statements in order. A duplicate-key error on a statement (an upsert whose
    /// guard found the effect already applied) counts as applied and the rest go on. Returns
    /// how many statements were already applied.
    pub async fn update_in_order(
        &self,
        collection: &str,
        statements: &[Document],
    ) -> Result<usize, StoreError> {
        let mut already = 0;
        let mut start = 0;
        while start < statements.len() {
            let end = (start + CHUNK).min(statements.len());
            let reply = self
                .command(doc! { "update": collection, "updates": &statements[start..end], "ordered": true })
                .await?;
            let first_error = write_errors(&reply).next().cloned();
            match first_error {
                None => start = end,
                Some(e) if e.get_i32("code") == Ok(DUPLICATE_KEY) => {
                    already += 1;
                    start += e.get_i32("index").unwrap_or(0).max(0) as usize + 1;
                }
                Some(e) => return Err(self.write_error(collection, &e)),
            }
        }
        Ok(already)
    }

    /// Per collection, creations first (with fills for documents that already existed), then
    /// the guarded joins on what they created; the joins on documents created before go
    /// alongside (see [`crate::plan`]); the three collections concurrently.
    pub async fn apply(&self, plan: &Plan) -> Result<Applied, StoreError> {
        use events::names::{ACTIVITIES, STATISTICS, USERS};
        let users = async { Ok::<_, StoreError>(self.insert(USERS, &plan.users).await?.len()) };
        let activities = self.create_then_join(
            ACTIVITIES,
            &plan.activities,
            &plan.activity_fills,
            &plan.activity_joins,
        );
        let activities_early = self.update_in_order(ACTIVITIES, &plan.activity_joins_early);
        let statistics = self.create_then_join(
            STATISTICS,
            &plan.statistics,
            &plan.statistics_fills,
            &plan.statistics_joins,
        );
        let statistics_early = self.update_in_order(STATISTICS, &plan.statistics_joins_early);
        let (u, a, ae, s, se) = tokio::try_join!(
            users,
            activities,
            activities_early,
            statistics,
            statistics_early
        )?;
        Ok(Applied {
            already_applied: u + a + ae + s + se,
        })
    }

    async fn create_then_join(
        &self,
        collection: &str,
        creations: &[Document],
        fills: &[(String, Document)],
        joins: &[Document],
    ) -> Result<usize, StoreError> {
        let started = std::time::Instant::now();
        let existing = self.insert(collection, creations).await?;
        let inserted = started.elapsed();
        let fill_statements: Vec<Document> = existing
            .iter()
            .filter_map(|&i| fills.get(i))
            .map(|(id, fields)| fill_statement(id, fields))
            .collect();
        self.update_in_order(collection, &fill_statements).await?;
        let joined_before = self.update_in_order(collection, joins).await?;
        tracing::debug!(
            "{collection}: {} inserts in {inserted:?}, {} fills, {} joins; {:?} in all",
            creations.len(),
            fill_statements.len(),
            joins.len(),
            started.elapsed()
        );
        Ok(existing.len() + joined_before)
    }
}

fn write_errors(reply: &Document) -> impl Iterator<Item = &Document> {
    reply
        .get_array("writeErrors")
        .map(|a| a.as_slice())
        .unwrap_or(&[])
        .iter()
        .filter_map(Bson::as_document)
}
