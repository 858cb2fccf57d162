//! What a batch of events writes into MongoDB, as documents and update statements. Pure.
//!
//! # Effectively-once effects without transactions
//!
//! Kafka delivers at least once, so any event may be applied again (after a crash, a
//! rebalance, or Debezium re-sending). Every write is therefore shaped so that applying it a
//! second time changes nothing, using only single-document atomicity:
//!
//! - **Creations** (`UserCreated` → `users`; `ActivityCreated` → `activities` and
//!   `statistics`) insert a document whose `_id` is the entity's id. A replay fails with a
//!   duplicate-key error, which means "already applied". If the document exists only as a stub
//!   (see below), the creation's fields are then `$set` onto it, which is idempotent too.
//! - **Increments** (`ParticipantJoined` → the activity's `participants`, the statistics'
//!   `participant_count`) are guarded by the event's own id: each document keeps the ids of the
//!   events applied to it in `applied_events`, and the update's filter requires the id to be
//!   absent while the same update pushes it. A replay matches nothing. The statement is an
//!   upsert, so a join whose activity does not exist yet creates a stub instead of being lost;
//!   when the stub exists and already holds the id, the upsert's insert fails with a
//!   duplicate key: again "already applied".
//! - **Receipts** (`processed_events`, `_id` = event id) are inserted after the effects; a
//!   replay's receipt is a duplicate key, and the first receipt stays as it was.
//!
//! Order: events of one aggregate share a Kafka partition, so they arrive in order; within a
//! batch the statements on one document are sent in record order. The order that matters is
//! per document: a join on an activity that no creation of the batch touches (it was created
//! in an earlier batch, whose writes are acknowledged before this batch's begin) is sent
//! alongside the creations (`*_joins_early`); a join on an activity created in the same batch
//! waits for the creation (`*_joins`), since a guarded upsert racing the creation's insert
//! could meet its duplicate key and be taken for "already applied".

use events::payload::{ActivityCreated, ParticipantJoined, UserCreated};
use events::Payload;
use mongodb::bson::{doc, Bson, Document};

use crate::decode::Event;

/// The writes of one batch, per collection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// New `users` documents.
    pub users: Vec<Document>,
    /// New `activities` documents.
    pub activities: Vec<Document>,
    /// `$set` to apply when an activity insert hits an existing `_id`, keyed by `_id`.
    pub activity_fills: Vec<(String, Document)>,
    /// New `statistics` documents.
    pub statistics: Vec<Document>,
    /// `$set` to apply when a statistics insert hits an existing `_id`, keyed by `_id`.
    pub statistics_fills: Vec<(String, Document)>,
    /// Guarded upserts on `activities` created in this batch, in record order: after the
    /// creations.
    pub activity_joins: Vec<Document>,
    /// Guarded upserts on `statistics` created in this batch, in record order: after the
    /// creations.
    pub statistics_joins: Vec<Document>,
    /// Guarded upserts on `activities` no creation of this batch touches, in record order:
    /// with the creations.
    pub activity_joins_early: Vec<Document>,
    /// Guarded upserts on `statistics` no creation of this batch touches, in record order:
    /// with the creations.
    pub statistics_joins_early: Vec<Document>,
}

impl Plan {
    /// Plans the effects of `events` (in record order). With `early_joins` false, every join
    /// waits for the batch's creations (the behaviour before, for side-by-side benchmarks).
    pub fn new<'a>(events: impl IntoIterator<Item = &'a Event> + Clone, early_joins: bool) -> Self {
        let created: std::collections::HashSet<uuid::Uuid> = events
            .clone()
            .into_iter()
            .filter_map(|e| match &e.payload {
                Payload::ActivityCreated(a) => Some(a.activity_id),
                _ => None,
            })
            .collect();
        let mut plan = Plan::default();
        for e in events {
            let event_id = e.id.to_string();
            match &e.payload {
                Payload::UserCreated(u) => plan.users.push(user_doc(u, &event_id)),
                Payload::ActivityCreated(a) => {
                    let id = a.activity_id.to_string();
                    let (fields, stats_fields) = activity_fields(a, &event_id);
                    let mut activity = doc! { "_id": &id };
                    activity.extend(fields.clone());
                    activity.insert("participants", Bson::Array(vec![]));
                    activity.insert("applied_events", Bson::Array(vec![]));
                    plan.activities.push(activity);
                    plan.activity_fills.push((id.clone(), fields));
                    let mut stats = doc! { "_id": &id };
                    stats.extend(stats_fields.clone());
                    stats.insert("participant_count", 0_i64);
                    stats.insert("applied_events", Bson::Array(vec![]));
                    plan.statistics.push(stats);
                    plan.statistics_fills.push((id, stats_fields));
                }
                Payload::ParticipantJoined(j) => {
                    let (a, s) = join_statements(j, &event_id);
                    if !early_joins || created.contains(&j.activity_id) {
                        plan.activity_joins.push(a);
                        plan.statistics_joins.push(s);
                    } else {
                        plan.activity_joins_early.push(a);
                        plan.statistics_joins_early.push(s);
                    }
                }
            }
        }
        plan
    }
}

fn user_doc(u: &UserCreated, event_id: &str) -> Document {
    doc! {
        "_id": u.user_id.to_string(),
        "name": &u.name,
        "email": &u.email,
        "city": &u.city,
        "country": &u.country,
        "interests": &u.interests,
        "created_by_event": event_id,
    }
}

/// The activity's own fields and the statistics' copy of the ones worth aggregating on.
fn activity_fields(a: &ActivityCreated, event_id: &str) -> (Document, Document) {
    let activity = doc! {
        "organizer_id": a.organizer_id.to_string(),
        "title": &a.title,
        "category": &a.category,
        "city": &a.city,
        "starts_at": &a.starts_at,
        "duration_minutes": i64::from(a.duration_minutes),
        "capacity": i64::from(a.capacity),
        "created_by_event": event_id,
    };
    let stats = doc! {
        "organizer_id": a.organizer_id.to_string(),
        "category": &a.category,
        "city": &a.city,
        "capacity": i64::from(a.capacity),
    };
    (activity, stats)
}

/// The guarded upserts of one join on `activities` and on `statistics`.
fn join_statements(j: &ParticipantJoined, event_id: &str) -> (Document, Document) {
    let q = doc! { "_id": j.activity_id.to_string(), "applied_events": { "$ne": event_id } };
    let activity = doc! {
        "q": q.clone(),
        "u": { "$push": { "participants": j.user_id.to_string(), "applied_events": event_id } },
        "upsert": true,
    };
    let stats = doc! {
        "q": q,
        "u": { "$inc": { "participant_count": 1_i64 }, "$push": { "applied_events": event_id } },
        "upsert": true,
    };
    (activity, stats)
}

/// The `$set` statement that fills a creation's fields into an existing document.
pub fn fill_statement(id: &str, fields: &Document) -> Document {
    doc! { "q": { "_id": id }, "u": { "$set": fields.clone() }, "upsert": false }
}

/// Where a record came from in Kafka.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Partition of the CDC topic.
    pub partition: i32,
    /// Offset in that partition.
    pub offset: i64,
}

/// The receipt of one event: every timestamp, and where it was read.
pub fn receipt(e: &Event, t3: i64, t5: i64, at: Position) -> Document {
    let s = &e.stamps;
    let opt = |v: Option<i64>| v.map_or(Bson::Null, Bson::Int64);
    doc! {
        "_id": e.id.to_string(),
        "run_id": opt(e.run_id),
        "seq": opt(e.seq),
        "event_type": e.payload.event_type().as_str(),
        "t_sched": opt(s.t_sched),
        "t0": s.t0,
        "t0c": s.t0c,
        "t1": s.t1,
        "t2": opt(s.t2),
        "t3": t3,
        "t5": t5,
        "partition": at.partition,
        "offset": at.offset,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Stamps;
    use uuid::Uuid;

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn event(n: u128, payload: Payload) -> Event {
        Event {
            id: id(n),
            run_id: Some(1),
            seq: Some(n as i64),
            payload,
            stamps: Stamps {
                t_sched: None,
                t0: 10,
                t0c: 20,
                t1: 30,
                t2: Some(40),
            },
        }
    }

    fn batch() -> Vec<Event> {
        vec![
            event(
                1,
                Payload::UserCreated(UserCreated {
                    user_id: id(100),
                    name: "Ada".into(),
                    email: "ada@example.org".into(),
                    city: "London".into(),
                    country: "UK".into(),
                    interests: vec!["chess".into()],
                }),
            ),
            event(
                2,
                Payload::ActivityCreated(ActivityCreated {
                    activity_id: id(200),
                    organizer_id: id(100),
                    title: "Walk".into(),
                    category: "hiking".into(),
                    city: "London".into(),
                    starts_at: "2026-12-01T10:00:00Z".into(),
                    duration_minutes: 90,
                    capacity: 5,
                }),
            ),
            event(
                3,
                Payload::ParticipantJoined(ParticipantJoined {
                    activity_id: id(200),
                    user_id: id(101),
                    joined_at: "2026-11-28T10:00:00Z".into(),
                }),
            ),
        ]
    }

    #[test]
    fn plans_one_write_per_effect_in_record_order() {
        let events = batch();
        let plan = Plan::new(&events, true);
        assert_eq!(plan.users.len(), 1);
        assert_eq!(plan.users[0].get_str("_id").unwrap(), id(100).to_string());
        assert_eq!(plan.activities.len(), 1);
        let a = &plan.activities[0];
        assert_eq!(a.get_str("organizer_id").unwrap(), id(100).to_string());
        assert_eq!(a.get_array("participants").unwrap().len(), 0);
        assert_eq!(plan.statistics[0].get_i64("participant_count").unwrap(), 0);
        assert_eq!(plan.activity_joins.len(), 1);
        assert_eq!(plan.statistics_joins.len(), 1);
        assert!(plan.activity_joins_early.is_empty() && plan.statistics_joins_early.is_empty());
        assert_eq!(Plan::new(&[], true), Plan::default());
    }

    #[test]
    fn a_join_waits_for_a_creation_of_its_batch_and_only_for_that() {
        let mut events = batch();
        // a join on an activity created in an earlier batch, and one more on the new one
        let join = |n: u128, activity: u128| {
            event(
                n,
                Payload::ParticipantJoined(ParticipantJoined {
                    activity_id: id(activity),
                    user_id: id(102),
                    joined_at: "2026-11-28T11:00:00Z".into(),
                }),
            )
        };
        events.push(join(4, 300));
        events.push(join(5, 200));
        let plan = Plan::new(&events, true);
        let targets = |statements: &[Document]| -> Vec<String> {
            statements
                .iter()
                .map(|s| {
                    s.get_document("q")
                        .unwrap()
                        .get_str("_id")
                        .unwrap()
                        .to_owned()
                })
                .collect()
        };
        let new = id(200).to_string();
        assert_eq!(targets(&plan.activity_joins), [new.clone(), new.clone()]);
        assert_eq!(targets(&plan.statistics_joins), [new.clone(), new]);
        assert_eq!(targets(&plan.activity_joins_early), [id(300).to_string()]);
        assert_eq!(targets(&plan.statistics_joins_early), [id(300).to_string()]);
        // record order kept within each: event 3 before event 5
        let ids: Vec<String> = plan
            .activity_joins
            .iter()
            .map(|s| {
                s.get_document("q")
                    .unwrap()
                    .get_document("applied_events")
                    .unwrap()
                    .get_str("$ne")
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(ids, [id(3).to_string(), id(5).to_string()]);
        // the old order: every join after the creations
        let old = Plan::new(&events, false);
        assert_eq!(
            targets(&old.activity_joins),
            [
                id(200).to_string(),
                id(300).to_string(),
                id(200).to_string()
            ]
        );
        assert!(old.activity_joins_early.is_empty() && old.statistics_joins_early.is_empty());
    }

    #[test]
    fn a_join_is_guarded_by_its_own_event_id() {
        let events = batch();
        let plan = Plan::new(&events, true);
        let eid = id(3).to_string();
        let s = &plan.statistics_joins[0];
        let q = s.get_document("q").unwrap();
        assert_eq!(q.get_str("_id").unwrap(), id(200).to_string());
        assert_eq!(
            q.get_document("applied_events")
                .unwrap()
                .get_str("$ne")
                .unwrap(),
            eid
        );
        let u = s.get_document("u").unwrap();
        assert_eq!(
            u.get_document("$inc")
                .unwrap()
                .get_i64("participant_count")
                .unwrap(),
            1
        );
        assert_eq!(
            u.get_document("$push")
                .unwrap()
                .get_str("applied_events")
                .unwrap(),
            eid
        );
        assert!(s.get_bool("upsert").unwrap());
        let a = plan.activity_joins[0].get_document("u").unwrap();
        assert_eq!(
            a.get_document("$push")
                .unwrap()
                .get_str("participants")
                .unwrap(),
            id(101).to_string()
        );
    }

    #[test]
    fn fills_set_only_the_creation_fields() {
        let events = batch();
        let plan = Plan::new(&events, true);
        let (key, fields) = &plan.statistics_fills[0];
        assert_eq!(key, &id(200).to_string());
        assert!(!fields.contains_key("participant_count"));
        assert!(!fields.contains_key("applied_events"));
        let stmt = fill_statement(key, fields);
        assert_eq!(
            stmt.get_document("u")
                .unwrap()
                .get_document("$set")
                .unwrap(),
            fields
        );
        let (_, activity_fields) = &plan.activity_fills[0];
        assert!(!activity_fields.contains_key("participants"));
    }

    #[test]
    fn a_receipt_carries_every_stamp_and_its_position() {
        let events = batch();
        let e = &events[0];
        let r = receipt(
            e,
            50,
            60,
            Position {
                partition: 2,
                offset: 7,
            },
        );
        assert_eq!(r.get_str("_id").unwrap(), id(1).to_string());
        assert_eq!(r.get_str("event_type").unwrap(), "UserCreated");
        assert_eq!(r.get("t_sched"), Some(&Bson::Null));
        for (k, v) in [
            ("t0", 10),
            ("t0c", 20),
            ("t1", 30),
            ("t2", 40),
            ("t3", 50),
            ("t5", 60),
        ] {
            assert_eq!(r.get_i64(k).unwrap(), v, "{k}");
        }
        assert_eq!(
            (
                r.get_i32("partition").unwrap(),
                r.get_i64("offset").unwrap()
            ),
            (2, 7)
        );
        assert_eq!(
            (r.get_i64("run_id").unwrap(), r.get_i64("seq").unwrap()),
            (1, 1)
        );
    }
}
