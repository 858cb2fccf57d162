//! The event mix: what share of a run each event type gets, and the exact per-type quotas of a
//! run of `n` events.

use std::fmt;
use std::str::FromStr;

use events::EventType;

/// Percentages of UserCreated / ActivityCreated / ParticipantJoined, summing to 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mix {
    percent: [u32; 3],
}

/// A mix text that is not three whole percentages summing to 100.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed mix {input:?}: {reason}")]
pub struct MixError {
    /// The text given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Mix {
    /// 50/30/20, the mix the demo was planned with.
    pub const DEFAULT: Mix = Mix {
        percent: [50, 30, 20],
    };

    /// A mix from three percentages; they must sum to 100.
    pub fn new(users: u32, activities: u32, participants: u32) -> Result<Mix, MixError> {
        let text = format!("{users}/{activities}/{participants}");
        Mix::from_str(&text)
    }

    /// The percentage of `t`.
    pub fn percent(&self, t: EventType) -> u32 {
        self.percent[t.index()]
    }

    /// Exact per-type counts for a run of `n` events, indexed by [`EventType::index`]: each type
    /// gets `n × percent / 100` rounded down, and the events left over go to the largest
    /// remainders (ties to the earlier type). The counts always sum to `n`.
    pub fn quotas(&self, n: u64) -> [u64; 3] {
        let n128 = u128::from(n);
        let mut counts = [0u64; 3];
        let mut remainders = [(0u128, 0usize); 3];
        for (i, p) in self.percent.iter().enumerate() {
            let exact = n128 * u128::from(*p);
            // exact / 100 <= n, so it fits in u64
            counts[i] = u64::try_from(exact / 100).unwrap_or(u64::MAX);
            remainders[i] = (exact % 100, i);
        }
        let assigned: u64 = counts.iter().sum();
        // largest remainder first; on equal remainders the earlier type first
        remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, i) in remainders.iter().take((n - assigned) as usize) {
            counts[i] += 1;
        }
        counts
    }
}

impl Default for Mix {
    fn default() -> Self {
        Mix::DEFAULT
    }
}

impl fmt::Display for Mix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [u, a, p] = self.percent;
        write!(f, "{u}/{a}/{p}")
    }
}

impl FromStr for Mix {
    type Err = MixError;

    /// Parses `users/activities/participants`, e.g. `50/30/20` (spaces around numbers allowed).
    fn from_str(s: &str) -> Result<Mix, MixError> {
        let err = |reason| MixError {
            input: s.to_owned(),
            reason,
        };
        let parts: Vec<&str> = s.split('/').map(str::trim).collect();
        if parts.len() != 3 {
            return Err(err(
                "expected three percentages separated by '/', like 50/30/20",
            ));
        }
        let mut percent = [0u32; 3];
        for (slot, part) in percent.iter_mut().zip(&parts) {
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("each percentage must be a whole number from 0 to 100"));
            }
            *slot = part
                .parse()
                .ok()
                .filter(|v| *v <= 100)
                .ok_or_else(|| err("each percentage must be a whole number from 0 to 100"))?;
        }
        if percent.iter().sum::<u32>() != 100 {
            return Err(err("the three percentages must sum to 100"));
        }
        Ok(Mix { percent })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        assert_eq!("50/30/20".parse::<Mix>(), Ok(Mix::DEFAULT));
        assert_eq!(
            " 100 / 0 / 0 ".parse::<Mix>().unwrap().to_string(),
            "100/0/0"
        );
        assert_eq!(
            Mix::new(60, 20, 20)
                .unwrap()
                .percent(EventType::UserCreated),
            60
        );
    }

    #[test]
    fn rejects_malformed_text() {
        for (text, why) in [
            ("50/30", "three percentages"),
            ("50/30/20/0", "three percentages"),
            ("a/b/c", "whole number"),
            ("50/30/-20", "whole number"),
            ("50.5/29.5/20", "whole number"),
            ("", "three percentages"),
            ("50//50", "whole number"),
            ("60/30/20", "sum to 100"),
            ("0/0/0", "sum to 100"),
            ("101/0/0", "whole number"),
            ("99999999999/0/0", "whole number"),
        ] {
            let err = text.parse::<Mix>().unwrap_err();
            assert!(err.reason.contains(why), "{text:?}: {err}");
            assert_eq!(err.input, text);
        }
    }

    #[test]
    fn quotas_are_exact_and_sum_to_n() {
        assert_eq!(Mix::DEFAULT.quotas(10), [5, 3, 2]);
        assert_eq!(Mix::DEFAULT.quotas(1), [1, 0, 0]);
        assert_eq!(Mix::DEFAULT.quotas(3), [1, 1, 1]);
        assert_eq!(Mix::DEFAULT.quotas(0), [0, 0, 0]);
        assert_eq!(Mix::new(34, 33, 33).unwrap().quotas(1), [1, 0, 0]);
        assert_eq!(Mix::new(33, 34, 33).unwrap().quotas(2), [1, 1, 0]);
        assert_eq!(Mix::DEFAULT.quotas(1_000_000), [500_000, 300_000, 200_000]);
        let q = Mix::new(1, 1, 98).unwrap().quotas(u64::MAX);
        assert_eq!(
            q.iter().map(|&c| u128::from(c)).sum::<u128>(),
            u128::from(u64::MAX)
        );
    }
}
