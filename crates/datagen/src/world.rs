//! The entities a run can refer to: users and activities created by earlier events, with the
//! state the referential rules need (organiser, capacity, who joined).

use uuid::Uuid;

/// An activity and who has joined it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The activity's id.
    pub id: Uuid,
    /// Its organiser, who never joins it.
    pub organizer_id: Uuid,
    /// Participants it takes at most.
    pub capacity: u32,
    /// Who joined, in order; never more than `capacity`, never the organiser, nobody twice.
    pub participants: Vec<Uuid>,
}

impl Activity {
    /// Whether `capacity` leaves room for one more participant.
    pub fn has_room(&self) -> bool {
        (self.participants.len() as u64) < u64::from(self.capacity)
    }

    /// Whether `user` may join: not the organiser and not already a participant.
    pub fn may_join(&self, user: Uuid) -> bool {
        user != self.organizer_id && !self.participants.contains(&user)
    }
}

/// What exists before (and, as a run goes, during) a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct World {
    /// Users, in creation order.
    pub users: Vec<Uuid>,
    /// Activities, in creation order.
    pub activities: Vec<Activity>,
    /// How many users were ever created before this world's users were loaded (ordinal base for
    /// unique emails when only the most recent users are loaded). At least `users.len()`.
    pub users_ever: u64,
}

/// A world whose entities break the rules a run keeps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// An activity holds more participants than its capacity.
    #[error("activity {0} has more participants than its capacity")]
    OverCapacity(Uuid),
    /// An activity lists its organiser, or someone twice, among its participants.
    #[error("activity {0} lists its organiser or a participant twice")]
    BadParticipant(Uuid),
}

impl World {
    /// An empty world: a run on it starts with users.
    pub fn empty() -> World {
        World::default()
    }

    /// Checks the rules the generator relies on.
    pub fn validate(&self) -> Result<(), WorldError> {
        for a in &self.activities {
            if a.participants.len() as u64 > u64::from(a.capacity) {
                return Err(WorldError::OverCapacity(a.id));
            }
            let mut seen = a.participants.clone();
            seen.sort_unstable();
            seen.dedup();
            if seen.len() != a.participants.len() || a.participants.contains(&a.organizer_id) {
                return Err(WorldError::BadParticipant(a.id));
            }
        }
        Ok(())
    }
}
