//! Property tests of the generator's rules, over random seeds, sizes, mixes, capacities and
//! starting worlds.

use std::collections::{HashMap, HashSet};

use datagen::{Activity, Generator, GeneratorConfig, Mix, PlanError, PlannedEvent, World};
use events::payload::Payload;
use events::EventType;
use proptest::prelude::*;
use uuid::Uuid;

/// Replays events against a model of the world and checks every referential rule; returns the
/// per-type counts it saw.
fn check_rules(world: &World, events: &[PlannedEvent]) -> Result<[u64; 3], TestCaseError> {
    let mut users: HashSet<Uuid> = world.users.iter().copied().collect();
    let mut activities: HashMap<Uuid, (Uuid, u32, HashSet<Uuid>)> = world
        .activities
        .iter()
        .map(|a| {
            (
                a.id,
                (
                    a.organizer_id,
                    a.capacity,
                    a.participants.iter().copied().collect(),
                ),
            )
        })
        .collect();
    let mut emails = HashSet::new();
    let mut counts = [0u64; 3];
    for (i, e) in events.iter().enumerate() {
        prop_assert_eq!(e.seq, i as u64 + 1, "seq is dense from 1");
        counts[e.event_type().index()] += 1;
        match &e.payload {
            Payload::UserCreated(u) => {
                prop_assert!(users.insert(u.user_id), "user id {} reused", u.user_id);
                prop_assert!(emails.insert(u.email.clone()), "email {} reused", u.email);
                prop_assert!(!u.interests.is_empty());
            }
            Payload::ActivityCreated(a) => {
                prop_assert!(
                    users.contains(&a.organizer_id),
                    "organiser does not exist yet"
                );
                prop_assert!(!activities.contains_key(&a.activity_id));
                prop_assert!(a.capacity >= 1);
                activities.insert(a.activity_id, (a.organizer_id, a.capacity, HashSet::new()));
            }
            Payload::ParticipantJoined(j) => {
                prop_assert!(users.contains(&j.user_id), "participant does not exist yet");
                let Some((organizer, capacity, joined)) = activities.get_mut(&j.activity_id) else {
                    return Err(TestCaseError::fail(
                        "joined an activity that does not exist yet",
                    ));
                };
                prop_assert_ne!(j.user_id, *organizer, "organiser joined own activity");
                prop_assert!(joined.insert(j.user_id), "joined twice");
                prop_assert!(
                    joined.len() as u64 <= u64::from(*capacity),
                    "beyond capacity"
                );
            }
        }
    }
    Ok(counts)
}

fn generate(
    cfg: GeneratorConfig,
    world: World,
) -> Result<(Vec<PlannedEvent>, Generator), PlanError> {
    let mut generator = Generator::new(cfg, world)?;
    let events = generator.by_ref().collect::<Result<Vec<_>, _>>()?;
    Ok((events, generator))
}

fn mix_strategy() -> impl Strategy<Value = Mix> {
    (0u32..=100, 0u32..=100).prop_filter_map("sum over 100", |(u, a)| {
        (u + a <= 100)
            .then(|| Mix::new(u, a, 100 - u - a).ok())
            .flatten()
    })
}

/// A consistent world of up to 20 users and 10 activities.
fn world_strategy() -> impl Strategy<Value = World> {
    (0usize..20, 0usize..10, any::<u64>()).prop_map(|(n_users, n_activities, salt)| {
        let users: Vec<Uuid> = (0..n_users)
            .map(|i| Uuid::from_u128(u128::from(salt) << 32 | i as u128))
            .collect();
        let activities = if users.is_empty() {
            vec![]
        } else {
            (0..n_activities)
                .map(|i| {
                    let organizer_id = users[i % users.len()];
                    let capacity = 1 + (i as u32 % 4);
                    let participants: Vec<Uuid> = users
                        .iter()
                        .copied()
                        .filter(|u| *u != organizer_id)
                        .take((i % 3).min(capacity as usize))
                        .collect();
                    Activity {
                        id: Uuid::from_u128(u128::from(salt) << 64 | 1 << 40 | i as u128),
                        organizer_id,
                        capacity,
                        participants,
                    }
                })
                .collect()
        };
        World {
            users_ever: users.len() as u64 + salt % 1000,
            users,
            activities,
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_rule_holds_and_counts_add_up(
        n in 0u64..600,
        seed in any::<u64>(),
        mix in mix_strategy(),
        world in world_strategy(),
        max_capacity in 1u32..6,
    ) {
        let mut cfg = GeneratorConfig::new(n, seed);
        cfg.mix = mix;
        cfg.capacity = 1..=max_capacity;
        match generate(cfg.clone(), world.clone()) {
            Ok((events, generator)) => {
                prop_assert_eq!(events.len() as u64, n);
                let counts = check_rules(&world, &events)?;
                prop_assert_eq!(counts, generator.produced(), "returned counts are what was produced");
                // types the mix gives no share never appear
                for t in EventType::ALL {
                    if mix.percent(t) == 0 {
                        prop_assert_eq!(counts[t.index()], 0, "{} has no share", t);
                    }
                }
                // without deviations the counts are exactly the planned quotas
                if generator.deviations() == 0 {
                    prop_assert_eq!(counts, mix.quotas(n));
                }
            }
            Err(PlanError::ImpossibleMix { .. }) => {
                // refused up front only when the mix needs what it cannot create
                let no_users = mix.percent(EventType::UserCreated) == 0;
                let no_activities = mix.percent(EventType::ActivityCreated) == 0;
                prop_assert!(no_users || no_activities, "refused a mix that creates both");
            }
            Err(PlanError::Exhausted { .. }) => {
                // only a mix without users can run out of things to do
                prop_assert_eq!(mix.percent(EventType::UserCreated), 0);
            }
            Err(e) => return Err(TestCaseError::fail(format!("unexpected error: {e}"))),
        }
    }

    #[test]
    fn the_default_mix_is_kept_exactly_from_100_events_on(n in 100u64..3000, seed in any::<u64>()) {
        let (events, generator) = generate(GeneratorConfig::new(n, seed), World::empty()).unwrap();
        prop_assert_eq!(generator.deviations(), 0);
        prop_assert_eq!(generator.produced(), datagen::Mix::DEFAULT.quotas(n));
        check_rules(&World::empty(), &events)?;
    }

    #[test]
    fn the_same_seed_gives_byte_identical_events(
        n in 0u64..400,
        seed in any::<u64>(),
        world in world_strategy(),
    ) {
        let a = generate(GeneratorConfig::new(n, seed), world.clone());
        let b = generate(GeneratorConfig::new(n, seed), world);
        match (a, b) {
            (Ok((a, _)), Ok((b, _))) => {
                let text = |events: &[PlannedEvent]| {
                    events.iter().map(|e| e.payload.to_json()).collect::<Vec<_>>()
                };
                prop_assert_eq!(text(&a), text(&b));
                prop_assert_eq!(a, b);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            _ => return Err(TestCaseError::fail("one run failed and the other did not")),
        }
    }

    #[test]
    fn a_run_continues_from_the_world_another_run_left(
        seed in any::<u64>(),
        first in 1u64..300,
        second in 1u64..300,
    ) {
        let (events_a, generator) = generate(GeneratorConfig::new(first, seed), World::empty()).unwrap();
        let world_after_a = generator.world().clone();
        let (events_b, _) =
            generate(GeneratorConfig::new(second, seed.wrapping_add(1)), world_after_a).unwrap();
        // the two runs together keep every rule, as one history
        let mut all = events_a;
        let offset = all.len() as u64;
        all.extend(events_b.into_iter().map(|mut e| { e.seq += offset; e }));
        check_rules(&World::empty(), &all)?;
    }
}

#[test]
fn different_seeds_give_different_events() {
    let a = generate(GeneratorConfig::new(50, 1), World::empty())
        .unwrap()
        .0;
    let b = generate(GeneratorConfig::new(50, 2), World::empty())
        .unwrap()
        .0;
    assert_ne!(a, b);
}

#[test]
fn payloads_look_like_the_design() {
    let (events, _) = generate(GeneratorConfig::new(200, 11), World::empty()).unwrap();
    for e in &events {
        let json: serde_json::Value = serde_json::from_str(&e.payload.to_json()).unwrap();
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let required: &[&str] = match e.event_type() {
            EventType::UserCreated => &["user_id", "name", "email", "city"],
            EventType::ActivityCreated => &[
                "activity_id",
                "organizer_id",
                "title",
                "category",
                "starts_at",
                "capacity",
            ],
            EventType::ParticipantJoined => &["activity_id", "user_id", "joined_at"],
        };
        for key in required {
            assert!(keys.contains(key), "{} lacks {key}: {json}", e.event_type());
        }
        assert_eq!(e.payload.aggregate_id().to_string().len(), 36);
    }
}
