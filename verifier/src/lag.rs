//! `verifier lag`: how far the processor's consumer group is behind the CDC topic's end, per
//! partition. What a new run's events would queue behind: the demo reads it before it
//! generates, and warns when the group is far behind.

use serde::Serialize;

use crate::error::Error;
use crate::sources::{Endpoints, GroupState, LagProbe};

/// One partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct PartitionLag {
    /// The partition.
    pub(crate) partition: i32,
    /// The group's committed offset (`null`: it has committed nothing there).
    pub(crate) committed: Option<i64>,
    /// The partition's end.
    pub(crate) end: i64,
}

/// The group's lag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GroupLag {
    /// The consumer group.
    pub(crate) group: String,
    /// The topic.
    pub(crate) topic: String,
    /// Records behind the end over the partitions it has committed on (`null`: none).
    pub(crate) lag: Option<i64>,
    /// Per partition.
    pub(crate) partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// The lag of `state` (pure).
    pub(crate) fn of(e: &Endpoints, state: &GroupState) -> Self {
        Self {
            group: e.processor_group.clone(),
            topic: e.topic.clone(),
            lag: state.lag(),
            partitions: state
                .ends
                .iter()
                .map(|(&partition, &end)| PartitionLag {
                    partition,
                    committed: state.committed.get(&partition).copied(),
                    end,
                })
                .collect(),
        }
    }

    /// The line `verifier lag` prints.
    pub(crate) fn line(&self) -> String {
        let parts: Vec<String> = self
            .partitions
            .iter()
            .map(|p| match p.committed {
                Some(c) => format!("{}: {} behind", p.partition, (p.end - c).max(0)),
                None => format!("{}: nothing committed, end {}", p.partition, p.end),
            })
            .collect();
        match self.lag {
            Some(lag) => format!(
                "consumer group {} is {lag} records behind the end of {} ({})",
                self.group,
                self.topic,
                parts.join(", ")
            ),
            None => format!(
                "consumer group {} has committed nothing on {} ({})",
                self.group,
                self.topic,
                parts.join(", ")
            ),
        }
    }
}

/// Reads the group's state (blocking calls, off the async threads) and prints it.
pub(crate) async fn print(e: &Endpoints, json: bool) -> Result<(), Error> {
    let endpoints = e.clone();
    let state = tokio::task::spawn_blocking(move || LagProbe::new(&endpoints)?.state())
        .await
        .map_err(|join| Error::Runtime(std::io::Error::other(join)))??;
    let lag = GroupLag::of(e, &state);
    if json {
        println!(
            "{}",
            serde_json::to_string(&lag).unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"))
        );
    } else {
        println!("{}", lag.line());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lag_is_said_per_partition() {
        let e = Endpoints {
            pg_host: String::new(),
            pg_port: 0,
            pg_user: String::new(),
            pg_password: None,
            pg_database: String::new(),
            bootstrap: String::new(),
            mongodb_uri: String::new(),
            connect: None,
            topic: "t".into(),
            group: String::new(),
            processor_group: "g".into(),
        };
        let state = GroupState {
            committed: [(0, 90), (1, 10)].into(),
            ends: [(0, 100), (1, 10), (2, 5)].into(),
        };
        let lag = GroupLag::of(&e, &state);
        assert_eq!(lag.lag, Some(10));
        assert_eq!(
            lag.line(),
            "consumer group g is 10 records behind the end of t (0: 10 behind, 1: 0 behind, 2: nothing committed, end 5)"
        );
        let json = serde_json::to_value(&lag).unwrap();
        assert_eq!(json["lag"], 10);
        assert!(json["partitions"][2]["committed"].is_null());
    }
}
