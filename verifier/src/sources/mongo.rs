//! MongoDB: the receipts (`processed_events`) and the projections the integrity rules read.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures_util::TryStreamExt as _;
use mongodb::bson::{doc, Bson, Document};

use super::{Endpoints, SourceError};
use crate::model::integrity::{ActivityDoc, Expected, State, StatisticsDoc};
use crate::model::join::{Receipt, ReceiptStamps};
use crate::sources::postgres::Watched;
use events::EventType;

/// MongoDB: receipts and projections.
#[derive(Clone)]
pub(crate) struct Mongo {
    db: mongodb::Database,
    uri: String,
}

/// Largest `$in` list sent in one query.
pub(crate) const IN_CHUNK: usize = 1000;

fn strings(d: &Document, key: &str) -> Vec<String> {
    d.get_array(key)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn int(d: &Document, key: &str) -> Option<i64> {
    match d.get(key)? {
        Bson::Int64(v) => Some(*v),
        Bson::Int32(v) => Some(i64::from(*v)),
        Bson::Double(v) => Some(*v as i64),
        _ => None,
    }
}

/// How observe mode saw an event's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seen {
    /// The user, or the activity with its organizer, is in the store.
    Created,
    /// The join's event id is in the activity's `applied_events` (a consumer that keeps it).
    JoinInAppliedEvents,
    /// The joining user is in the activity's `participants`: a user joins an activity at most
    /// once, across runs too (the generator's rule), so that user there is this join's effect.
    JoinInParticipants,
}

/// What one read of the store found: `seq` → how its effect was seen; documents read.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub found: BTreeMap<i64, Seen>,
    pub read: u64,
}

/// The documents one read returned: users' ids, activities by id.
struct Found<'a> {
    users: BTreeSet<&'a str>,
    activities: BTreeMap<&'a str, &'a Document>,
}

impl<'a> Found<'a> {
    fn new(users: &'a [Document], activities: &'a [Document]) -> Self {
        Self {
            users: users.iter().filter_map(|d| d.get_str("_id").ok()).collect(),
            activities: activities
                .iter()
                .filter_map(|d| Some((d.get_str("_id").ok()?, d)))
                .collect(),
        }
    }
}

fn lists(d: &Document, key: &str, value: &str) -> bool {
    d.get_array(key)
        .is_ok_and(|a| a.iter().any(|v| v.as_str() == Some(value)))
}

/// Whether `e`'s effect is in what was read: a user created, an activity created (not a stub:
/// it has its organizer), a join by its event id in `applied_events` when the consumer keeps
/// that list, else by the joining user in `participants`.
fn seen(e: &Watched, store: &Found<'_>) -> Option<Seen> {
    let entity = e.entity_id.as_str();
    match e.event_type {
        EventType::UserCreated => store.users.contains(entity).then_some(Seen::Created),
        EventType::ActivityCreated => {
            let d = store.activities.get(entity)?;
            matches!(d.get("organizer_id"), Some(v) if *v != Bson::Null).then_some(Seen::Created)
        }
        EventType::ParticipantJoined => {
            let d = store.activities.get(entity)?;
            if lists(d, "applied_events", &e.event_id) {
                Some(Seen::JoinInAppliedEvents)
            } else {
                let joiner = e.joiner.as_deref()?;
                lists(d, "participants", joiner).then_some(Seen::JoinInParticipants)
            }
        }
    }
}

pub(crate) use telemetry::log::redacted_uri;

impl Mongo {
    /// Connects and checks that the store answers.
    pub(crate) async fn connect(e: &Endpoints) -> Result<Self, SourceError> {
        let unreachable = |source| SourceError::MongoConnect {
            uri: redacted_uri(&e.mongodb_uri),
            source: Box::new(source),
        };
        let mut opts = mongodb::options::ClientOptions::parse(&e.mongodb_uri)
            .await
            .map_err(unreachable)?;
        opts.server_selection_timeout = Some(Duration::from_secs(5));
        opts.app_name = Some("verifier".into());
        let db_name = opts
            .default_database
            .clone()
            .unwrap_or_else(|| events::names::MONGO_DATABASE.into());
        let client = mongodb::Client::with_options(opts).map_err(unreachable)?;
        client
            .database("admin")
            .run_command(doc! { "ping": 1 })
            .await
            .map_err(unreachable)?;
        Ok(Self {
            db: client.database(&db_name),
            uri: redacted_uri(&e.mongodb_uri),
        })
    }

    /// The store's address as messages name it (its password left out).
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// Whether the store answers a `ping`.
    pub(crate) async fn ping(&self) -> Result<(), SourceError> {
        self.db
            .run_command(doc! { "ping": 1 })
            .await
            .map(drop)
            .map_err(self.error("ping".into()))
    }

    fn error(&self, what: String) -> impl FnOnce(mongodb::error::Error) -> SourceError + '_ {
        move |source| SourceError::Mongo {
            uri: self.uri.clone(),
            what,
            source: Box::new(source),
        }
    }

    async fn by_ids(
        &self,
        coll: &str,
        ids: &[String],
        projection: Document,
    ) -> Result<Vec<Document>, SourceError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(IN_CHUNK) {
            let cursor = self
                .db
                .collection::<Document>(coll)
                .find(doc! { "_id": { "$in": chunk } })
                .projection(projection.clone())
                .batch_size(IN_CHUNK as u32)
                .await
                .map_err(self.error(format!("reading {coll}")))?;
            let docs: Vec<Document> = cursor
                .try_collect()
                .await
                .map_err(self.error(format!("reading {coll}")))?;
            out.extend(docs);
        }
        Ok(out)
    }

    /// Which of `events` have their effect in the store (observe mode), and how each was seen
    /// ([`seen`] says when an effect counts). Also counts the documents read.
    pub(crate) async fn effects(&self, events: &[Watched]) -> Result<Effects, SourceError> {
        let ids = |want: &dyn Fn(EventType) -> bool| -> Vec<String> {
            let set: BTreeSet<&str> = events
                .iter()
                .filter(|e| want(e.event_type))
                .map(|e| e.entity_id.as_str())
                .collect();
            set.into_iter().map(str::to_owned).collect()
        };
        let users = ids(&|t| t == EventType::UserCreated);
        let activities = ids(&|t| t != EventType::UserCreated);
        let user_docs = self
            .by_ids(events::names::USERS, &users, doc! { "_id": 1 })
            .await?;
        let activity_docs = self
            .by_ids(
                events::names::ACTIVITIES,
                &activities,
                doc! { "organizer_id": 1, "participants": 1, "applied_events": 1 },
            )
            .await?;
        let store = Found::new(&user_docs, &activity_docs);
        Ok(Effects {
            found: events
                .iter()
                .filter_map(|e| Some((e.seq, seen(e, &store)?)))
                .collect(),
            read: (user_docs.len() + activity_docs.len()) as u64,
        })
    }

    /// Receipts of the given event ids (`seq` → receipt), where present.
    pub(crate) async fn receipts(&self, ids: &[String]) -> Result<Vec<Receipt>, SourceError> {
        let docs = self
            .by_ids(
                events::names::PROCESSED_EVENTS,
                ids,
                doc! { "partition": 0, "offset": 0 },
            )
            .await?;
        docs.iter().map(|d| self.receipt(d)).collect()
    }

    fn receipt(&self, d: &Document) -> Result<Receipt, SourceError> {
        let bad = |problem: String| SourceError::BadReceipt {
            uri: self.uri.clone(),
            id: d.get_str("_id").unwrap_or("?").to_owned(),
            problem,
        };
        let get = |k: &str| int(d, k).ok_or_else(|| bad(format!("no integer {k}")));
        let t = d.get_str("event_type").unwrap_or("");
        Ok(Receipt {
            seq: get("seq")?,
            event_type: t.parse().map_err(|e| bad(format!("{e}")))?,
            stamps: ReceiptStamps {
                t_sched: int(d, "t_sched"),
                t0: get("t0")?,
                t2: int(d, "t2"),
            },
            t3: Some(get("t3")?),
            t5: get("t5")?,
        })
    }

    /// Which of `ids` exist in `coll`. Counts first: when all exist (the usual case) no
    /// document is transferred.
    async fn existing(
        &self,
        coll: &str,
        ids: &[String],
        read: &mut u64,
    ) -> Result<BTreeSet<String>, SourceError> {
        let mut out = BTreeSet::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let c = self.db.collection::<Document>(coll);
            let n = c
                .count_documents(doc! { "_id": { "$in": chunk } })
                .await
                .map_err(self.error(format!("counting in {coll}")))?;
            *read += n;
            if n as usize == chunk.len() {
                out.extend(chunk.iter().cloned());
            } else {
                let docs = self.by_ids(coll, chunk, doc! { "_id": 1 }).await?;
                out.extend(
                    docs.iter()
                        .filter_map(|d| d.get_str("_id").ok().map(str::to_owned)),
                );
            }
        }
        Ok(out)
    }

    /// The documents the integrity rules read for one chunk of expectations.
    pub(crate) async fn state(
        &self,
        expected: &Expected,
        read: &mut u64,
    ) -> Result<State, SourceError> {
        use events::names::{ACTIVITIES, STATISTICS, USERS};
        let ids: Vec<String> = expected.joins.keys().cloned().collect();
        let activity_docs = self
            .by_ids(
                ACTIVITIES,
                &ids,
                doc! { "organizer_id": 1, "participants": 1, "applied_events": 1 },
            )
            .await?;
        let stats_docs = self
            .by_ids(
                STATISTICS,
                &ids,
                doc! { "participant_count": 1, "applied_events": 1 },
            )
            .await?;
        *read += (activity_docs.len() + stats_docs.len()) as u64;
        let activities: Vec<ActivityDoc> = activity_docs
            .iter()
            .map(|d| ActivityDoc {
                id: d.get_str("_id").unwrap_or("").to_owned(),
                organizer_id: d.get_str("organizer_id").ok().map(str::to_owned),
                participants: strings(d, "participants"),
                applied_events: strings(d, "applied_events"),
            })
            .collect();
        let statistics = stats_docs
            .iter()
            .map(|d| {
                let id = d.get_str("_id").unwrap_or("").to_owned();
                let s = StatisticsDoc {
                    id: id.clone(),
                    participant_count: int(d, "participant_count").unwrap_or(0),
                    applied_events: strings(d, "applied_events"),
                };
                (id, s)
            })
            .collect();
        let want: Vec<String> = State::users_to_check(expected, &activities)
            .into_iter()
            .collect();
        let users = self.existing(USERS, &want, read).await?;
        Ok(State {
            users,
            activities: activities.into_iter().map(|a| (a.id.clone(), a)).collect(),
            statistics,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_type: EventType, entity: &str, event_id: &str, joiner: Option<&str>) -> Watched {
        Watched {
            seq: 1,
            event_id: event_id.into(),
            event_type,
            entity_id: entity.into(),
            joiner: joiner.map(str::to_owned),
            t_sched: None,
            t0: 0,
        }
    }

    fn join(activity: &str, event_id: &str, user: &str) -> Watched {
        event(EventType::ParticipantJoined, activity, event_id, Some(user))
    }

    #[test]
    fn a_join_is_seen_by_its_event_id_else_by_its_user_in_participants() {
        let users = [doc! { "_id": "u1" }];
        let activities = [
            // kept by a consumer that records applied_events
            doc! { "_id": "a1", "organizer_id": "u0", "participants": ["u1"], "applied_events": ["e1"] },
            // kept by one that does not
            doc! { "_id": "a2", "organizer_id": "u0", "participants": ["u1", "u2"] },
            // created by a join read before its activity
            doc! { "_id": "a3", "participants": ["u2"] },
        ];
        let store = Found::new(&users, &activities);
        let seen = |e: &Watched| seen(e, &store);
        assert_eq!(
            seen(&join("a1", "e1", "u1")),
            Some(Seen::JoinInAppliedEvents)
        );
        assert_eq!(
            seen(&join("a2", "e2", "u2")),
            Some(Seen::JoinInParticipants)
        );
        assert_eq!(
            seen(&join("a3", "e3", "u2")),
            Some(Seen::JoinInParticipants)
        );
        // not applied: its user in no list, its activity not there, or no user to look for
        assert_eq!(seen(&join("a2", "e4", "u3")), None);
        assert_eq!(seen(&join("a9", "e5", "u1")), None);
        assert_eq!(
            seen(&event(EventType::ParticipantJoined, "a2", "e6", None)),
            None
        );
    }

    #[test]
    fn entities_are_seen_when_created_and_a_stub_activity_is_not() {
        let users = [doc! { "_id": "u1" }];
        let activities = [
            doc! { "_id": "a1", "organizer_id": "u1" },
            doc! { "_id": "a3", "participants": ["u2"] },
            doc! { "_id": "a4", "organizer_id": Bson::Null },
        ];
        let store = Found::new(&users, &activities);
        let created = |t, id: &str| seen(&event(t, id, "e", None), &store);
        assert_eq!(created(EventType::UserCreated, "u1"), Some(Seen::Created));
        assert_eq!(created(EventType::UserCreated, "u2"), None);
        assert_eq!(
            created(EventType::ActivityCreated, "a1"),
            Some(Seen::Created)
        );
        assert_eq!(created(EventType::ActivityCreated, "a3"), None);
        assert_eq!(created(EventType::ActivityCreated, "a4"), None);
        assert_eq!(created(EventType::ActivityCreated, "a9"), None);
    }
}
