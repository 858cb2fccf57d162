//! The SQL arguments of `demo_generate` and `demo_run`, checked into a typed run description
//! before anything is written. Every refusal is an [`ArgError`]: the extension raises it as
//! SQLSTATE 22023 with its detail and hint.

use datagen::{GeneratorConfig, Mix};

/// Largest `batch_size` and `txn_size`: one statement's arrays stay well under a gigabyte.
pub const MAX_BATCH: i32 = 100_000;
/// Highest `rate`, events per second.
pub const MAX_RATE: f64 = 1_000_000.0;

/// A refused argument: what was wrong, why it matters, and what to give instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ArgError {
    /// The error's message, naming the argument and the value given.
    pub message: String,
    /// What the argument is for.
    pub detail: String,
    /// What to give instead.
    pub hint: String,
}

fn refuse<T>(message: String, detail: String, hint: &str) -> Result<T, ArgError> {
    Err(ArgError {
        message,
        detail,
        hint: hint.to_owned(),
    })
}

/// What a call asked for, checked.
#[derive(Debug, Clone)]
pub struct RunArgs {
    /// Generator configuration (n, mix, seed, …).
    pub generator: GeneratorConfig,
    /// Whether the run continues the entities of earlier runs.
    pub reuse_entities: bool,
}

/// A required argument, refused when it is NULL (`hint`: how to give it).
pub fn required<T>(name: &str, value: Option<T>, hint: &str) -> Result<T, ArgError> {
    match value {
        Some(v) => Ok(v),
        None => refuse(
            format!("{name} must not be NULL"),
            format!("NULL is not a value for {name} (an argument with a default may be left out instead); nothing was written."),
            hint,
        ),
    }
}

/// Checks `n` (at most `max_events`, the setting `outbox_demo.max_events`), `mix` and `seed`
/// (a missing seed is drawn at random).
pub fn run_args(
    n: i64,
    mix: &str,
    seed: Option<i64>,
    reuse_entities: bool,
    max_events: i32,
) -> Result<RunArgs, ArgError> {
    let cap = i64::from(max_events);
    if n <= 0 {
        return refuse(
            format!("n must be a positive number of events, got {n}"),
            "n is how many events to write into activity.event_outbox.".into(),
            "Call it with n of 1 or more, e.g. SELECT * FROM demo_generate(10000).",
        );
    }
    if n > cap {
        return refuse(
            format!("n = {n} is over the cap outbox_demo.max_events = {cap}"),
            "The cap bounds what one call may write.".into(),
            "Write fewer events per call, or have a superuser raise it: SET outbox_demo.max_events = ...",
        );
    }
    let mix = match mix.parse::<Mix>() {
        Ok(m) => m,
        Err(e) => {
            return refuse(
                format!("invalid mix {mix:?}"),
                format!("{}.", e.reason),
                "Give three whole percentages of UserCreated/ActivityCreated/ParticipantJoined that sum to 100, e.g. '50/30/20'.",
            );
        }
    };
    let seed = seed.unwrap_or_else(random_seed);
    let mut generator = GeneratorConfig::new(n as u64, seed as u64);
    generator.mix = mix;
    Ok(RunArgs {
        generator,
        reuse_entities,
    })
}

fn random_seed() -> i64 {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    i64::from_le_bytes([
        bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
    ])
}

/// Checks a batch or transaction size argument.
pub fn size(name: &str, value: i32) -> Result<usize, ArgError> {
    if !(1..=MAX_BATCH).contains(&value) {
        return refuse(
            format!("{name} must be between 1 and {MAX_BATCH}, got {value}"),
            format!("{name} is how many events go into one statement or transaction."),
            "Leave it out for the default, or give a value from 1 to 100000.",
        );
    }
    Ok(value as usize)
}

/// Checks a rate in events per second.
pub fn rate(rate: f64) -> Result<f64, ArgError> {
    if !(rate.is_finite() && rate > 0.0 && rate <= MAX_RATE) {
        return refuse(
            format!("rate must be a number of events per second above 0 and at most {MAX_RATE}, got {rate}"),
            "In rate mode event k is due at start + k / rate.".into(),
            "Give a positive rate, e.g. CALL demo_run(10000, rate => 500).",
        );
    }
    Ok(rate)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn null_is_refused_with_the_argument_named() {
        assert_eq!(required("n", Some(3), "h"), Ok(3));
        let e = required::<i64>("mix", None, "give a mix").unwrap_err();
        assert_eq!(e.message, "mix must not be NULL");
        assert_eq!(e.hint, "give a mix");
        assert!(e.detail.contains("nothing was written"), "{}", e.detail);
    }

    #[test]
    fn n_must_be_positive_and_under_the_cap() {
        let msg = |n| {
            run_args(n, "50/30/20", Some(1), false, 100)
                .unwrap_err()
                .message
        };
        assert_eq!(msg(0), "n must be a positive number of events, got 0");
        assert_eq!(msg(-5), "n must be a positive number of events, got -5");
        assert_eq!(
            msg(101),
            "n = 101 is over the cap outbox_demo.max_events = 100"
        );
        let ok = run_args(100, "50/30/20", Some(7), true, 100).unwrap();
        assert_eq!((ok.generator.n, ok.generator.seed), (100, 7));
        assert!(ok.reuse_entities);
    }

    #[test]
    fn a_bad_mix_names_itself_and_a_good_one_is_kept() {
        let e = run_args(10, "50/30", Some(1), false, 100).unwrap_err();
        assert_eq!(e.message, "invalid mix \"50/30\"");
        assert!(e.hint.contains("'50/30/20'"));
        let ok = run_args(10, "60/30/10", Some(1), false, 100).unwrap();
        assert_eq!(ok.generator.mix, "60/30/10".parse::<Mix>().unwrap());
    }

    #[test]
    fn a_missing_seed_is_drawn() {
        let a = run_args(10, "50/30/20", None, false, 100).unwrap();
        let b = run_args(10, "50/30/20", None, false, 100).unwrap();
        assert_ne!(a.generator.seed, b.generator.seed);
    }

    #[test]
    fn sizes_and_rates_have_bounds() {
        assert_eq!(size("txn_size", 1), Ok(1));
        assert_eq!(size("txn_size", MAX_BATCH), Ok(100_000));
        assert_eq!(
            size("batch_size", 0).unwrap_err().message,
            "batch_size must be between 1 and 100000, got 0"
        );
        assert!(size("batch_size", MAX_BATCH + 1).is_err());
        assert_eq!(rate(500.0), Ok(500.0));
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, MAX_RATE * 2.0] {
            assert!(rate(bad).is_err(), "{bad} accepted");
        }
    }
}
