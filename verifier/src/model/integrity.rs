//! The rules that MongoDB's state must satisfy after a run, applied to documents already read
//! (pure). What the state must be comes from the outbox: the entities the run created, and every
//! `ParticipantJoined` of the activities it touched (from any run, since a later run may join an
//! earlier run's activity).
//!
//! - every user and activity the run created exists;
//! - every organizer and every participant exists in `users`; every joined activity exists;
//! - nothing applied twice: no participant listed twice, no event id twice in `applied_events`,
//!   `participant_count` not above the joins the outbox holds;
//! - nothing missing: `participant_count` and the participant list equal those joins.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

/// What the outbox says the state must be.
#[derive(Debug, Clone, Default)]
pub(crate) struct Expected {
    /// Users the run created.
    pub users: BTreeSet<String>,
    /// Activities the run created.
    pub activities: BTreeSet<String>,
    /// Every activity the run touched (created or joined) → the user ids that joined it, from
    /// every `ParticipantJoined` in the outbox.
    pub joins: BTreeMap<String, Vec<String>>,
}

/// An activity document, the fields the rules read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ActivityDoc {
    /// `_id`.
    pub id: String,
    /// `organizer_id` (absent on a stub created by an early join).
    pub organizer_id: Option<String>,
    /// `participants`.
    pub participants: Vec<String>,
    /// `applied_events`.
    pub applied_events: Vec<String>,
}

/// A statistics document, the fields the rules read.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct StatisticsDoc {
    /// `_id` (the activity id).
    pub id: String,
    /// `participant_count`.
    pub participant_count: i64,
    /// `applied_events`.
    pub applied_events: Vec<String>,
}

/// What was read from MongoDB.
#[derive(Debug, Clone, Default)]
pub(crate) struct State {
    /// Ids found in `users` among those asked for.
    pub users: BTreeSet<String>,
    /// Activities found.
    pub activities: BTreeMap<String, ActivityDoc>,
    /// Statistics found.
    pub statistics: BTreeMap<String, StatisticsDoc>,
}

impl State {
    /// The user ids the rules need to look up in `users`: the run's users, organizers and
    /// participants of the activities read.
    pub(crate) fn users_to_check(
        expected: &Expected,
        activities: &[ActivityDoc],
    ) -> BTreeSet<String> {
        let mut ids = expected.users.clone();
        for a in activities {
            ids.extend(a.organizer_id.iter().cloned());
            ids.extend(a.participants.iter().cloned());
        }
        for users in expected.joins.values() {
            ids.extend(users.iter().cloned());
        }
        ids
    }
}

/// Kinds of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An entity the run created, or an effect it must have, is not in MongoDB.
    MissingEffect,
    /// An effect is there more than once.
    AppliedTwice,
    /// A reference points to a document that does not exist.
    BrokenReference,
}

impl Kind {
    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::MissingEffect => "missing_effect",
            Kind::AppliedTwice => "applied_twice",
            Kind::BrokenReference => "broken_reference",
        }
    }
}

/// One violated rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Finding {
    /// Its kind.
    pub kind: Kind,
    /// Collection and document (`users/<id>`, `activities/<id>`, `statistics/<id>`).
    pub at: String,
    /// What is wrong, in words.
    pub detail: String,
}

/// Most findings listed one by one (all are counted).
pub(crate) const LISTED: usize = 100;

/// The audit of a run, accumulated chunk by chunk: counts by kind and the first [`LISTED`]
/// findings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Audit {
    /// Effects found more than once.
    pub applied_twice: u64,
    /// References to documents that do not exist.
    pub broken_references: u64,
    /// Entities or effects missing.
    pub missing_effects: u64,
    /// The first [`LISTED`] findings.
    pub listed: Vec<Finding>,
    /// Documents read from MongoDB.
    pub documents_read: u64,
    /// Seconds the audit took.
    pub seconds: f64,
}

impl Audit {
    /// Adds the findings of one chunk.
    pub fn add(&mut self, findings: Vec<Finding>) {
        for f in findings {
            match f.kind {
                Kind::AppliedTwice => self.applied_twice += 1,
                Kind::BrokenReference => self.broken_references += 1,
                Kind::MissingEffect => self.missing_effects += 1,
            }
            if self.listed.len() < LISTED {
                self.listed.push(f);
            }
        }
    }

    /// No finding at all.
    pub fn clean(&self) -> bool {
        self.applied_twice + self.broken_references + self.missing_effects == 0
    }
}

fn duplicates(v: &[String]) -> Vec<&String> {
    let mut seen = BTreeSet::new();
    v.iter().filter(|x| !seen.insert(*x)).collect()
}

/// Findings as the rules find them.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn push(&mut self, kind: Kind, at: &str, detail: String) {
        self.0.push(Finding {
            kind,
            at: at.to_owned(),
            detail,
        });
    }
}

/// Applies every rule; findings sorted by kind, then place.
pub(crate) fn audit(expected: &Expected, state: &State) -> Vec<Finding> {
    let mut out = Findings::default();
    for u in &expected.users {
        if !state.users.contains(u) {
            let detail = "created by the run, not in users".into();
            out.push(Kind::MissingEffect, &format!("users/{u}"), detail);
        }
    }
    for a in &expected.activities {
        if !state.activities.contains_key(a) {
            let detail = "created by the run, not in activities".into();
            out.push(Kind::MissingEffect, &format!("activities/{a}"), detail);
        }
    }
    for (id, joined) in &expected.joins {
        match state.activities.get(id) {
            Some(doc) => {
                activity(&mut out, doc, joined, state);
                statistics(&mut out, id, joined.len() as i64, state);
            }
            // A missing activity the run created is already a missing effect.
            None if expected.activities.contains(id) => {}
            None => out.push(
                Kind::BrokenReference,
                &format!("activities/{id}"),
                format!(
                    "joined by {} participant(s), not in activities",
                    joined.len()
                ),
            ),
        }
    }
    out.0.sort();
    out.0
}

/// An activity's organizer and participants exist, nobody is listed or applied twice, and
/// every join in the outbox is there.
fn activity(out: &mut Findings, doc: &ActivityDoc, joined: &[String], state: &State) {
    let at = &format!("activities/{}", doc.id);
    match &doc.organizer_id {
        Some(o) if !state.users.contains(o) => out.push(
            Kind::BrokenReference,
            at,
            format!("organizer {o} is not in users"),
        ),
        None => out.push(
            Kind::MissingEffect,
            at,
            "no organizer_id: its ActivityCreated was not applied".into(),
        ),
        _ => {}
    }
    for p in doc
        .participants
        .iter()
        .filter(|p| !state.users.contains(*p))
    {
        let detail = format!("participant {p} is not in users");
        out.push(Kind::BrokenReference, at, detail);
    }
    for d in duplicates(&doc.participants) {
        let detail = format!("participant {d} listed more than once");
        out.push(Kind::AppliedTwice, at, detail);
    }
    for d in duplicates(&doc.applied_events) {
        let detail = format!("event {d} applied more than once");
        out.push(Kind::AppliedTwice, at, detail);
    }
    let want: BTreeSet<&String> = joined.iter().collect();
    let have: BTreeSet<&String> = doc.participants.iter().collect();
    for m in want.difference(&have) {
        let detail = format!("participant {m} joined in the outbox, not in participants");
        out.push(Kind::MissingEffect, at, detail);
    }
}

/// An activity's statistics count exactly the joins the outbox holds, each once.
fn statistics(out: &mut Findings, id: &str, joins: i64, state: &State) {
    let at = &format!("statistics/{id}");
    let Some(s) = state.statistics.get(id) else {
        out.push(Kind::MissingEffect, at, "no statistics document".into());
        return;
    };
    let count = s.participant_count;
    if count > joins {
        let detail =
            format!("participant_count {count} > {joins} ParticipantJoined events in the outbox");
        out.push(Kind::AppliedTwice, at, detail);
    } else if count < joins {
        let detail =
            format!("participant_count {count} < {joins} ParticipantJoined events in the outbox");
        out.push(Kind::MissingEffect, at, detail);
    }
    for d in duplicates(&s.applied_events) {
        let detail = format!("event {d} counted more than once");
        out.push(Kind::AppliedTwice, at, detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    fn world() -> (Expected, State) {
        let expected = Expected {
            users: ["u1", "u2", "u3"].map(String::from).into(),
            activities: ["a1"].map(String::from).into(),
            joins: [("a1".to_owned(), s(&["u2", "u3"]))].into(),
        };
        let state = State {
            users: ["u1", "u2", "u3"].map(String::from).into(),
            activities: [(
                "a1".to_owned(),
                ActivityDoc {
                    id: "a1".into(),
                    organizer_id: Some("u1".into()),
                    participants: s(&["u2", "u3"]),
                    applied_events: s(&["e2", "e3"]),
                },
            )]
            .into(),
            statistics: [(
                "a1".to_owned(),
                StatisticsDoc {
                    id: "a1".into(),
                    participant_count: 2,
                    applied_events: s(&["e2", "e3"]),
                },
            )]
            .into(),
        };
        (expected, state)
    }

    #[test]
    fn a_consistent_state_has_no_findings() {
        let (e, st) = world();
        assert_eq!(audit(&e, &st), vec![]);
        assert_eq!(
            State::users_to_check(&e, &[st.activities["a1"].clone()]).len(),
            3
        );
    }

    #[test]
    fn an_effect_applied_twice_is_found() {
        let (e, mut st) = world();
        let a = st.activities.get_mut("a1").unwrap();
        a.participants.push("u2".into());
        a.applied_events.push("e2".into());
        st.statistics.get_mut("a1").unwrap().participant_count = 3;
        let f = audit(&e, &st);
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f.iter().all(|f| f.kind == Kind::AppliedTwice));
        assert!(f
            .iter()
            .any(|f| f.at == "statistics/a1" && f.detail.contains("3 > 2")));
    }

    #[test]
    fn missing_entities_and_effects_are_found() {
        let (e, mut st) = world();
        st.users.remove("u3");
        st.activities.get_mut("a1").unwrap().participants.pop();
        st.statistics.get_mut("a1").unwrap().participant_count = 1;
        let f = audit(&e, &st);
        let kinds: Vec<_> = f.iter().map(|f| (f.kind, f.at.as_str())).collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::MissingEffect, "activities/a1"),
                (Kind::MissingEffect, "statistics/a1"),
                (Kind::MissingEffect, "users/u3"),
            ],
            "{f:?}"
        );
    }

    #[test]
    fn the_audit_counts_every_finding_and_lists_the_first() {
        let f = |kind| Finding {
            kind,
            at: "x".into(),
            detail: String::new(),
        };
        let mut a = Audit::default();
        a.add((0..LISTED + 5).map(|_| f(Kind::MissingEffect)).collect());
        a.add(vec![f(Kind::AppliedTwice), f(Kind::BrokenReference)]);
        assert_eq!(
            (a.missing_effects, a.applied_twice, a.broken_references),
            (LISTED as u64 + 5, 1, 1)
        );
        assert_eq!(a.listed.len(), LISTED);
        assert!(!a.clean());
        assert!(Audit::default().clean());
    }

    #[test]
    fn broken_references_are_found() {
        let (mut e, mut st) = world();
        st.users.remove("u1"); // the organizer
        e.users.remove("u1"); // created by an earlier run
        e.joins.insert("a9".into(), s(&["u2"])); // joined, created earlier, gone
        let f = audit(&e, &st);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f.iter().all(|f| f.kind == Kind::BrokenReference));
        assert!(f.iter().any(|f| f.detail.contains("organizer u1")));
        assert!(f.iter().any(|f| f.at == "activities/a9"));
    }
}
