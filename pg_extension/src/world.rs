//! The entities a run continues from when `reuse_entities => true`: the most recent users and
//! activities (with their participants) of earlier runs, read back from the outbox itself.

use datagen::{Activity, World};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;

/// How many of the most recent users, and of the most recent activities, a run may refer to.
/// Bounds the start-up cost of a run on top of a large history.
pub const RECENT_ENTITIES: i64 = 10_000;

fn to_uuid(u: pgrx::Uuid) -> uuid::Uuid {
    uuid::Uuid::from_bytes(*u.as_bytes())
}

/// Reads the world left by earlier runs.
pub fn load(client: &SpiClient<'_>) -> World {
    let fail = |e: pgrx::spi::Error| -> ! {
        error!("outbox_demo: reading earlier runs' entities from activity.event_outbox failed: {e}")
    };
    let mut users: Vec<uuid::Uuid> = client
        .select(
            "SELECT aggregate_id FROM activity.event_outbox
             WHERE run_id IS NOT NULL AND event_type = 'UserCreated'
             ORDER BY run_id DESC, seq DESC LIMIT $1",
            None,
            &[RECENT_ENTITIES.into()],
        )
        .unwrap_or_else(|e| fail(e))
        .filter_map(|row| row.get::<pgrx::Uuid>(1).ok().flatten().map(to_uuid))
        .collect();
    users.reverse();

    let mut activities: Vec<Activity> = client
        .select(
            "WITH recent AS (
                 SELECT run_id, seq, aggregate_id, payload FROM activity.event_outbox
                 WHERE run_id IS NOT NULL AND event_type = 'ActivityCreated'
                 ORDER BY run_id DESC, seq DESC LIMIT $1)
             SELECT a.aggregate_id, (a.payload->>'organizer_id')::uuid,
                    (a.payload->>'capacity')::int4,
                    coalesce(array_agg((p.payload->>'user_id')::uuid ORDER BY p.run_id, p.seq)
                             FILTER (WHERE p.id IS NOT NULL), '{}')
             FROM recent a
             LEFT JOIN activity.event_outbox p
                    ON p.aggregate_id = a.aggregate_id AND p.run_id IS NOT NULL
                   AND p.event_type = 'ParticipantJoined'
             GROUP BY a.run_id, a.seq, a.aggregate_id, a.payload
             ORDER BY a.run_id DESC, a.seq DESC",
            None,
            &[RECENT_ENTITIES.into()],
        )
        .unwrap_or_else(|e| fail(e))
        .filter_map(|row| {
            let id = row.get::<pgrx::Uuid>(1).ok().flatten()?;
            let organizer = row.get::<pgrx::Uuid>(2).ok().flatten()?;
            let capacity = row.get::<i32>(3).ok().flatten()?;
            let participants = row
                .get::<Vec<pgrx::Uuid>>(4)
                .ok()
                .flatten()
                .unwrap_or_default();
            Some(Activity {
                id: to_uuid(id),
                organizer_id: to_uuid(organizer),
                capacity: u32::try_from(capacity).unwrap_or(0),
                participants: participants.into_iter().map(to_uuid).collect(),
            })
        })
        .collect();
    activities.reverse();

    let users_ever = client
        .select(
            "SELECT coalesce(sum(users), 0)::int8 FROM outbox_demo.runs",
            None,
            &[],
        )
        .unwrap_or_else(|e| fail(e))
        .first()
        .get_one::<i64>()
        .ok()
        .flatten()
        .unwrap_or(0);
    World {
        users,
        activities,
        users_ever: u64::try_from(users_ever).unwrap_or(0),
    }
}
