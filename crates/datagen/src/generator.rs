//! The generator: a seeded, deterministic stream of referentially consistent events.
//!
//! **Choosing the type of each event** is an urn draw: every type starts with its quota from the
//! mix ([`Mix::quotas`]); each step draws among the types that still have quota *and* can be
//! produced now, weighted by the quota left. So the counts come out exactly as planned and the
//! order is random. When every type with quota left is blocked (say, only joins are left and
//! every activity is full), the step produces another type that the mix allows (users first:
//! they unblock activities and joins) and one unit of quota moves from the blocked type to it;
//! [`Generator::deviations`] counts those steps. When no type the mix allows can be produced,
//! the run cannot go on: [`PlanError::Exhausted`].
//!
//! **Rules kept**: an activity's organiser is an existing user; a participant is an existing
//! user joining an existing activity, not its organiser, not twice, never beyond capacity.
//!
//! **Determinism**: everything (ids included) comes from a ChaCha8 stream seeded with the run's
//! seed, and times from a virtual clock that starts at [`GeneratorConfig::epoch_us`] and moves
//! on by a random gap per event. Same config and world, byte-identical events.

use std::ops::RangeInclusive;

use chrono::{DateTime, SecondsFormat};
use events::payload::{ActivityCreated, ParticipantJoined, Payload, UserCreated};
use events::EventType;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use uuid::Uuid;

use crate::mix::Mix;
use crate::vocab::{self, Vocab, CATEGORIES, DURATIONS};
use crate::world::{Activity, World, WorldError};

/// 2026-01-01T00:00:00Z: where the virtual clock starts by default.
pub const DEFAULT_EPOCH_US: i64 = 1_767_225_600_000_000;

/// How far apart two events are on the virtual clock, at most (uniform; mean half of it).
const MAX_GAP_US: i64 = 2_000_000;

/// Random (activity, user) pairs tried before a join counts as blocked for this step.
const JOIN_ATTEMPTS: usize = 24;

/// `open_pos` of an activity without room.
const NOT_OPEN: usize = usize::MAX;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Number of events.
    pub n: u64,
    /// Share of each event type.
    pub mix: Mix,
    /// Seed of the run: the same seed, config and world give the same events.
    pub seed: u64,
    /// Start of the virtual clock, µs since the epoch.
    pub epoch_us: i64,
    /// Capacity of new activities, drawn uniformly from this range (participants, organiser
    /// not counted).
    pub capacity: RangeInclusive<u32>,
}

impl GeneratorConfig {
    /// `n` events with the default mix, epoch and capacities.
    pub fn new(n: u64, seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            n,
            mix: Mix::DEFAULT,
            seed,
            epoch_us: DEFAULT_EPOCH_US,
            capacity: 4..=30,
        }
    }
}

/// Why a run cannot be generated (or cannot go on).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The mix asks for events that can never be produced from this world.
    #[error("impossible mix {mix}: {reason}")]
    ImpossibleMix {
        /// The mix.
        mix: Mix,
        /// Why.
        reason: &'static str,
    },
    /// A capacity range that is empty.
    #[error("capacity range {start}..={end} is empty")]
    EmptyCapacity {
        /// Smallest capacity.
        start: u32,
        /// Largest capacity.
        end: u32,
    },
    /// The world breaks a rule.
    #[error("the existing entities break a rule: {0}")]
    World(#[from] WorldError),
    /// Mid-run, no event the mix allows can be produced any more.
    #[error("event {seq}: no event type the mix {mix} allows can be produced ({reason})")]
    Exhausted {
        /// The event that could not be produced.
        seq: u64,
        /// The mix.
        mix: Mix,
        /// Why.
        reason: &'static str,
    },
}

/// One generated event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedEvent {
    /// Position in the run, 1..=n.
    pub seq: u64,
    /// The event.
    pub payload: Payload,
    /// Where the virtual clock stood, µs since the epoch.
    pub virtual_time_us: i64,
}

impl PlannedEvent {
    /// The event's type.
    pub fn event_type(&self) -> EventType {
        self.payload.event_type()
    }
}

/// Generates the events of one run. An iterator of `Result<PlannedEvent, PlanError>`; after an
/// error it yields nothing more.
#[derive(Debug)]
pub struct Generator {
    cfg: GeneratorConfig,
    rng: ChaCha8Rng,
    vocab: Vocab,
    world: World,
    /// Indexes into `world.activities` of those with room left (order is arbitrary).
    open: Vec<usize>,
    /// Where each activity sits in `open`, or `NOT_OPEN`.
    open_pos: Vec<usize>,
    remaining: [u64; 3],
    produced: [u64; 3],
    deviations: u64,
    seq: u64,
    clock_us: i64,
    failed: bool,
}

impl Generator {
    /// Prepares a run on top of `world` (use [`World::empty`] for a fresh start). Refuses a mix
    /// that can never be satisfied from this world.
    pub fn new(cfg: GeneratorConfig, world: World) -> Result<Generator, PlanError> {
        world.validate()?;
        if cfg.capacity.is_empty() {
            return Err(PlanError::EmptyCapacity {
                start: *cfg.capacity.start(),
                end: *cfg.capacity.end(),
            });
        }
        let quotas = cfg.mix.quotas(cfg.n);
        let [users, activities, participants] = quotas;
        let impossible = |reason| PlanError::ImpossibleMix {
            mix: cfg.mix,
            reason,
        };
        let can_make_users = cfg.mix.percent(EventType::UserCreated) > 0;
        let can_make_activities = cfg.mix.percent(EventType::ActivityCreated) > 0;
        if (activities > 0 || participants > 0) && world.users.is_empty() && !can_make_users {
            return Err(impossible(
                "no user exists and the mix creates none, so no activity can be organised or joined",
            ));
        }
        if participants > 0
            && !can_make_activities
            && !world.activities.iter().any(Activity::has_room)
        {
            return Err(impossible(
                "no existing activity has room and the mix creates none, so nobody can join",
            ));
        }
        if participants > 0 && !can_make_users && world.users.len() < 2 {
            return Err(impossible(
                "joining needs a user other than the organiser, and the mix creates no users",
            ));
        }
        if users == 0 && activities == 0 && participants == 0 && cfg.n > 0 {
            // unreachable: quotas sum to n
            return Err(impossible("no event type has a share"));
        }

        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let vocab = Vocab::new(&mut rng);
        let open: Vec<usize> = (0..world.activities.len())
            .filter(|&i| world.activities[i].has_room())
            .collect();
        let mut open_pos = vec![NOT_OPEN; world.activities.len()];
        for (pos, &i) in open.iter().enumerate() {
            open_pos[i] = pos;
        }
        let users_ever = world.users_ever.max(world.users.len() as u64);
        Ok(Generator {
            clock_us: cfg.epoch_us,
            cfg,
            rng,
            vocab,
            world: World {
                users_ever,
                ..world
            },
            open,
            open_pos,
            remaining: quotas,
            produced: [0; 3],
            deviations: 0,
            seq: 0,
            failed: false,
        })
    }

    /// Events produced so far, per type ([`EventType::index`]).
    pub fn produced(&self) -> [u64; 3] {
        self.produced
    }

    /// Steps at which the planned type was blocked and another type was produced instead.
    pub fn deviations(&self) -> u64 {
        self.deviations
    }

    /// The world as the events produced so far left it.
    pub fn world(&self) -> &World {
        &self.world
    }

    /// The configuration of this run.
    pub fn config(&self) -> &GeneratorConfig {
        &self.cfg
    }

    /// Produces the next event, or `None` after the n-th (or after an error).
    pub fn next_event(&mut self) -> Option<Result<PlannedEvent, PlanError>> {
        if self.failed || self.seq >= self.cfg.n {
            return None;
        }
        self.seq += 1;
        self.clock_us += self.rng.random_range(0..=MAX_GAP_US);
        let result = self.step();
        if result.is_err() {
            self.failed = true;
        }
        Some(result)
    }

    fn step(&mut self) -> Result<PlannedEvent, PlanError> {
        // A join needs a concrete (activity, user) pair. Searching for one costs random memory
        // reads, so the draw first assumes a join is possible when it may be (an open activity
        // and two users), and the pair is looked for only when a join is drawn; if none is
        // found, joins are blocked for this step and the draw is redone.
        let mut feasible = [
            true,
            !self.world.users.is_empty(),
            !self.open.is_empty() && self.world.users.len() >= 2,
        ];
        let (event_type, deviation, join) = loop {
            let (t, deviation) = match self.draw(&feasible) {
                Some(t) => (t, None),
                None => {
                    let (allowed, blocked) = self.deviation(&feasible)?;
                    (allowed, Some(blocked))
                }
            };
            if t != EventType::ParticipantJoined {
                break (t, deviation, None);
            }
            match self.find_join() {
                Some(pair) => break (t, deviation, Some(pair)),
                None => feasible[EventType::ParticipantJoined.index()] = false,
            }
        };
        if let Some(blocked) = deviation {
            // one unit of quota moves from the blocked type to the one produced instead
            self.remaining[blocked.index()] -= 1;
            self.remaining[event_type.index()] += 1;
            self.deviations += 1;
        }
        self.remaining[event_type.index()] -= 1;
        self.produced[event_type.index()] += 1;

        let payload = match (event_type, join) {
            (EventType::UserCreated, _) => Payload::UserCreated(self.new_user()),
            (EventType::ActivityCreated, _) => Payload::ActivityCreated(self.new_activity()),
            (EventType::ParticipantJoined, Some((activity, user))) => {
                Payload::ParticipantJoined(self.join(activity, user))
            }
            (EventType::ParticipantJoined, None) => {
                unreachable!("a join is produced only with the pair found for it")
            }
        };
        Ok(PlannedEvent {
            seq: self.seq,
            payload,
            virtual_time_us: self.clock_us,
        })
    }

    /// Urn draw among types with quota left that can be produced now.
    fn draw(&mut self, feasible: &[bool; 3]) -> Option<EventType> {
        let weights: [u64; 3] =
            std::array::from_fn(|i| if feasible[i] { self.remaining[i] } else { 0 });
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut ticket = self.rng.random_range(0..total);
        for t in EventType::ALL {
            if ticket < weights[t.index()] {
                return Some(t);
            }
            ticket -= weights[t.index()];
        }
        None
    }

    /// Every type with quota left is blocked: returns the type to produce instead (the first
    /// feasible type the mix allows: users, then activities, then joins) and the blocked type
    /// with the most quota left, which gives up one unit to it.
    fn deviation(&self, feasible: &[bool; 3]) -> Result<(EventType, EventType), PlanError> {
        let allowed = EventType::ALL
            .into_iter()
            .find(|t| self.cfg.mix.percent(*t) > 0 && feasible[t.index()])
            .ok_or(PlanError::Exhausted {
                seq: self.seq,
                mix: self.cfg.mix,
                reason: "the users and activities the mix allows are all used up",
            })?;
        let blocked = EventType::ALL
            .into_iter()
            .max_by_key(|t| (self.remaining[t.index()], std::cmp::Reverse(t.index())))
            .unwrap_or(EventType::ParticipantJoined);
        Ok((allowed, blocked))
    }

    /// A random open activity and a random user who may join it, if found within a few tries.
    fn find_join(&mut self) -> Option<(usize, Uuid)> {
        if self.open.is_empty() || self.world.users.len() < 2 {
            return None;
        }
        for _ in 0..JOIN_ATTEMPTS {
            let activity = self.open[self.rng.random_range(0..self.open.len())];
            let user = self.world.users[self.rng.random_range(0..self.world.users.len())];
            if self.world.activities[activity].may_join(user) {
                return Some((activity, user));
            }
        }
        None
    }

    fn new_id(&mut self) -> Uuid {
        let millis = u64::try_from(self.clock_us.max(0) / 1000).unwrap_or(0);
        let random: [u8; 10] = self.rng.random();
        uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid()
    }

    fn new_user(&mut self) -> UserCreated {
        let user_id = self.new_id();
        let first = vocab::first_name(&mut self.rng);
        let last = vocab::last_name(&mut self.rng);
        let provider = vocab::email_provider(&mut self.rng);
        let ordinal = self.world.users_ever + 1;
        let (city, country) = self.vocab.place(&mut self.rng).clone();
        let n_interests = self.rng.random_range(1..=3);
        let mut interests: Vec<String> = Vec::with_capacity(n_interests);
        while interests.len() < n_interests {
            let (category, _) = *vocab::pick(&mut self.rng, CATEGORIES);
            if !interests.iter().any(|i| i == category) {
                interests.push(category.to_owned());
            }
        }
        self.world.users.push(user_id);
        self.world.users_ever = ordinal;
        UserCreated {
            user_id,
            name: format!("{first} {last}"),
            email: format!(
                "{}.{}.{ordinal}@{provider}",
                email_part(first),
                email_part(last)
            ),
            city,
            country,
            interests,
        }
    }

    fn new_activity(&mut self) -> ActivityCreated {
        let activity_id = self.new_id();
        let organizer_id = self.world.users[self.rng.random_range(0..self.world.users.len())];
        let (category, titles) = *vocab::pick(&mut self.rng, CATEGORIES);
        let title = *vocab::pick(&mut self.rng, titles);
        let (city, _) = self.vocab.place(&mut self.rng).clone();
        // starts 1 to 60 days ahead, on a quarter hour
        let ahead_us = self
            .rng
            .random_range(86_400_000_000..=60 * 86_400_000_000_i64);
        let quarter = 900_000_000;
        let starts_us = (self.clock_us + ahead_us) / quarter * quarter;
        let duration_minutes = *vocab::pick(&mut self.rng, DURATIONS);
        let capacity = self.rng.random_range(self.cfg.capacity.clone());
        let activity = Activity {
            id: activity_id,
            organizer_id,
            capacity,
            participants: Vec::new(),
        };
        let index = self.world.activities.len();
        if activity.has_room() {
            self.open_pos.push(self.open.len());
            self.open.push(index);
        } else {
            self.open_pos.push(NOT_OPEN);
        }
        self.world.activities.push(activity);
        ActivityCreated {
            activity_id,
            organizer_id,
            title: format!("{title} in {city}"),
            category: category.to_owned(),
            city,
            starts_at: rfc3339(starts_us, SecondsFormat::Secs),
            duration_minutes,
            capacity,
        }
    }

    fn join(&mut self, activity: usize, user: Uuid) -> ParticipantJoined {
        let a = &mut self.world.activities[activity];
        a.participants.push(user);
        let activity_id = a.id;
        if !a.has_room() {
            // O(1): move the last open activity into this one's place
            let pos = std::mem::replace(&mut self.open_pos[activity], NOT_OPEN);
            self.open.swap_remove(pos);
            if let Some(&moved) = self.open.get(pos) {
                self.open_pos[moved] = pos;
            }
        }
        ParticipantJoined {
            activity_id,
            user_id: user,
            joined_at: rfc3339(self.clock_us, SecondsFormat::Millis),
        }
    }
}

impl Iterator for Generator {
    type Item = Result<PlannedEvent, PlanError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_event()
    }
}

/// Lower-case ASCII letters and digits of a name part (`O'Keefe` → `okeefe`).
fn email_part(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn rfc3339(us: i64, precision: SecondsFormat) -> String {
    DateTime::from_timestamp_micros(us)
        .map(|t| t.to_rfc3339_opts(precision, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(cfg: GeneratorConfig, world: World) -> (Vec<PlannedEvent>, Generator) {
        let mut generator = Generator::new(cfg, world).unwrap();
        let events = generator.by_ref().collect::<Result<Vec<_>, _>>().unwrap();
        (events, generator)
    }

    #[test]
    fn default_mix_gives_exact_counts() {
        let (events, generator) = run(GeneratorConfig::new(1000, 7), World::empty());
        assert_eq!(events.len(), 1000);
        assert_eq!(generator.produced(), [500, 300, 200]);
        assert_eq!(generator.deviations(), 0);
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=1000).collect::<Vec<_>>()
        );
        assert_eq!(events[0].event_type(), EventType::UserCreated);
    }

    #[test]
    fn a_tiny_run_deviates_when_a_join_has_nobody_to_join() {
        // quotas 1/1/1: user, activity by that user, and then nobody else can join it
        let (events, generator) = run(GeneratorConfig::new(3, 1), World::empty());
        let types: Vec<_> = events.iter().map(PlannedEvent::event_type).collect();
        assert_eq!(types.len(), 3);
        assert_eq!(generator.produced(), [2, 1, 0]);
        assert_eq!(generator.deviations(), 1);
    }

    #[test]
    fn emails_are_unique_and_continue_after_earlier_users() {
        let world = World {
            users: vec![Uuid::from_u128(1)],
            activities: vec![],
            users_ever: 41,
        };
        let (events, _) = run(GeneratorConfig::new(50, 3), world);
        let emails: Vec<String> = events
            .iter()
            .filter_map(|e| match &e.payload {
                Payload::UserCreated(u) => Some(u.email.clone()),
                _ => None,
            })
            .collect();
        assert!(emails[0].contains(".42@"), "{}", emails[0]);
        let mut unique = emails.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), emails.len());
    }

    #[test]
    fn impossible_mixes_are_refused_before_anything_is_generated() {
        let mut cfg = GeneratorConfig::new(10, 1);
        cfg.mix = Mix::new(0, 50, 50).unwrap();
        assert!(matches!(
            Generator::new(cfg.clone(), World::empty()),
            Err(PlanError::ImpossibleMix { .. })
        ));
        cfg.mix = Mix::new(50, 0, 50).unwrap();
        assert!(matches!(
            Generator::new(cfg.clone(), World::empty()),
            Err(PlanError::ImpossibleMix { .. })
        ));
        #[allow(clippy::reversed_empty_ranges)] // the point: an empty range is refused
        {
            cfg.capacity = 5..=4;
        }
        cfg.mix = Mix::DEFAULT;
        assert!(matches!(
            Generator::new(cfg, World::empty()),
            Err(PlanError::EmptyCapacity { .. })
        ));
    }

    #[test]
    fn joins_only_stop_with_an_error_when_every_seat_is_taken() {
        let users: Vec<Uuid> = (1..=3).map(Uuid::from_u128).collect();
        let world = World {
            activities: vec![Activity {
                id: Uuid::from_u128(100),
                organizer_id: users[0],
                capacity: 2,
                participants: vec![],
            }],
            users,
            users_ever: 3,
        };
        let mut cfg = GeneratorConfig::new(3, 9);
        cfg.mix = Mix::new(0, 0, 100).unwrap();
        let mut generator = Generator::new(cfg, world).unwrap();
        assert!(generator.next_event().unwrap().is_ok());
        assert!(generator.next_event().unwrap().is_ok());
        let err = generator.next_event().unwrap().unwrap_err();
        assert!(matches!(err, PlanError::Exhausted { seq: 3, .. }), "{err}");
        assert!(generator.next_event().is_none());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        assert_eq!(
            rfc3339(DEFAULT_EPOCH_US + 1_500, SecondsFormat::Millis),
            "2026-01-01T00:00:00.001Z"
        );
        assert_eq!(email_part("O'Keefe"), "okeefe");
    }
}
