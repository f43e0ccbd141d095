//! A claim adjusted knob by knob: `judge --claim openai-python --set
//! max_retries=5 --set timeout=2s` states "openai-python, but five retries
//! and a 2 s timeout" without writing a claim file.
//!
//! Each knob names one field of [`Claim`] in a person's words. Durations
//! take a unit (`500ms`, `2s`, `1.5m`); a bare number is seconds. What a
//! knob cannot say (a jitter shape, the methods retried) is said in a claim
//! file (`judge --print-claim NAME` writes one to start from).

use super::claim::{Claim, RetryAfterRule, nanos};
use std::collections::BTreeSet;

/// Every knob, with what its value means.
pub const KNOBS: &[(&str, &str)] = &[
    ("max_retries", "retries after the first attempt (a number)"),
    ("timeout", "each attempt's timeout (a duration, or none)"),
    ("initial", "the first backoff, before growth (a duration)"),
    (
        "factor",
        "the backoff's growth per retry (a number, 2 for doubling)",
    ),
    ("cap", "the cap on the backoff (a duration, or none)"),
    (
        "deadline",
        "no wait ends later than this after the first attempt (a duration, or none)",
    ),
    (
        "retry_after_max",
        "the longest Retry-After waited as given (a duration)",
    ),
    (
        "statuses",
        "the HTTP statuses retried (a list: 408,429,500-599)",
    ),
    (
        "first_chunk",
        "a stream's bound before its first item (a duration, or none)",
    ),
    (
        "stream_idle",
        "a stream's bound between items (a duration, or none)",
    ),
];

/// Apply `assignment`, `KNOB=VALUE`, to `claim`.
///
/// # Errors
///
/// No `=`, an unknown knob (the error lists the knobs), or a value the
/// knob cannot take; the claim is then unchanged.
pub fn set(claim: &mut Claim, assignment: &str) -> Result<(), String> {
    let (knob, value) = assignment
        .split_once('=')
        .ok_or_else(|| format!("{assignment:?}: expected KNOB=VALUE, for example max_retries=5"))?;
    let (knob, value) = (knob.trim(), value.trim());
    let refuse = |e: String| format!("{knob}={value}: {e}");
    match knob {
        "max_retries" => {
            let retries: u64 = value
                .parse()
                .map_err(|_| refuse("not a number of retries".into()))?;
            claim.max_attempts = retries
                .checked_add(1)
                .ok_or_else(|| refuse("too many".into()))?;
        }
        "timeout" => claim.timeout_ns = optional(value).map_err(refuse)?,
        "initial" => claim.backoff.initial_ns = duration(value).map_err(refuse)?,
        "factor" => {
            let factor: f64 = value.parse().map_err(|_| refuse("not a number".into()))?;
            if !(factor.is_finite() && factor >= 1.0) {
                return Err(refuse("a backoff cannot shrink: give 1 or more".into()));
            }
            claim.backoff.factor = factor;
        }
        "cap" => claim.backoff.cap_ns = optional(value).map_err(refuse)?,
        "deadline" => claim.deadline_ns = optional(value).map_err(refuse)?,
        "retry_after_max" => {
            let max = duration(value).map_err(refuse)?;
            match &mut claim.retry_after {
                RetryAfterRule::Ignored => {
                    return Err(refuse("this claim ignores Retry-After".into()));
                }
                RetryAfterRule::Exact { max_ns } | RetryAfterRule::Positive { max_ns, .. } => {
                    *max_ns = max;
                }
            }
        }
        "statuses" => claim.retryable.statuses = statuses(value).map_err(refuse)?,
        "first_chunk" => claim.first_chunk_ns = optional(value).map_err(refuse)?,
        "stream_idle" => claim.stream_idle_ns = optional(value).map_err(refuse)?,
        _ => {
            let names: Vec<&str> = KNOBS.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "{knob:?} is no knob of a claim; the knobs: {} (anything else: a claim file, from `judge --print-claim NAME`)",
                names.join(", ")
            ));
        }
    }
    Ok(())
}

/// A duration in nanoseconds; a bare number is seconds.
fn duration(value: &str) -> Result<u64, String> {
    crate::duration::parse_in(value, "s")
        .map(nanos)
        .map_err(|e| format!("{e}; give a duration such as 2s or 500ms"))
}

fn optional(value: &str) -> Result<Option<u64>, String> {
    match value {
        "none" => Ok(None),
        _ => duration(value).map(Some),
    }
}

/// `408,429,500-599`: statuses and inclusive ranges of them.
fn statuses(value: &str) -> Result<BTreeSet<u16>, String> {
    let mut set = BTreeSet::new();
    for part in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let status = |s: &str| match s.trim().parse::<u16>() {
            Ok(n) if (100..=599).contains(&n) => Ok(n),
            _ => Err(format!("{s:?} is not an HTTP status (100 to 599)")),
        };
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (status(lo)?, status(hi)?),
            None => (status(part)?, status(part)?),
        };
        if lo > hi {
            return Err(format!("{part:?} is an empty range"));
        }
        set.extend(lo..=hi);
    }
    if set.is_empty() {
        return Err("no status given".into());
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::sdks;

    fn openai() -> Claim {
        sdks::named("openai-python").expect("a built-in claim")
    }

    #[test]
    fn each_knob_sets_its_field_and_nothing_else() {
        let base = openai();
        let mut c = base.clone();
        set(&mut c, "max_retries=5").unwrap();
        assert_eq!(c.max_attempts, 6);
        set(&mut c, "timeout=2s").unwrap();
        assert_eq!(c.timeout_ns, Some(2_000_000_000));
        set(&mut c, "initial = 0.25").unwrap();
        assert_eq!(c.backoff.initial_ns, 250_000_000);
        set(&mut c, "factor=1.5").unwrap();
        assert_eq!(c.backoff.factor, 1.5);
        set(&mut c, "cap=none").unwrap();
        assert_eq!(c.backoff.cap_ns, None);
        set(&mut c, "deadline=1.5m").unwrap();
        assert_eq!(c.deadline_ns, Some(90_000_000_000));
        set(&mut c, "retry_after_max=10s").unwrap();
        assert!(matches!(
            c.retry_after,
            RetryAfterRule::Positive {
                max_ns: 10_000_000_000,
                ..
            }
        ));
        set(&mut c, "statuses=408,429,500-503").unwrap();
        assert_eq!(
            c.retryable.statuses,
            BTreeSet::from([408, 429, 500, 501, 502, 503])
        );
        set(&mut c, "first_chunk=30s").unwrap();
        assert_eq!(c.first_chunk_ns, Some(30_000_000_000));
        set(&mut c, "stream_idle=none").unwrap();
        assert_eq!(c.stream_idle_ns, None);
        // Everything no knob named is as it was.
        assert_eq!(c.retried, base.retried);
        assert_eq!(c.timed, base.timed);
        assert_eq!(c.backoff.jitter, base.backoff.jitter);
        assert_eq!(c.retryable.network, base.retryable.network);
        assert_eq!(c.upstreams, base.upstreams);
    }

    #[test]
    fn every_listed_knob_is_taken() {
        for (knob, _) in KNOBS {
            let value = match *knob {
                "max_retries" => "7",
                "factor" => "3",
                "statuses" => "503",
                _ => "1s",
            };
            let mut c = openai();
            set(&mut c, &format!("{knob}={value}")).unwrap_or_else(|e| panic!("{knob}: {e}"));
            assert_ne!(c, openai(), "{knob}={value} changed nothing");
        }
    }

    #[test]
    fn a_bad_assignment_is_refused_and_changes_nothing() {
        for (bad, says) in [
            ("max_retries", "expected KNOB=VALUE"),
            ("retries=5", "no knob of a claim; the knobs: max_retries"),
            ("max_retries=-1", "not a number of retries"),
            ("timeout=soon", "give a duration"),
            ("factor=0.5", "cannot shrink"),
            ("factor=NaN", "cannot shrink"),
            ("statuses=600", "not an HTTP status"),
            ("statuses=503-500", "empty range"),
            ("statuses=", "no status given"),
        ] {
            let mut c = openai();
            let e = set(&mut c, bad).expect_err(bad);
            assert!(e.contains(says), "{bad}: {e}");
            assert_eq!(c, openai(), "{bad} changed the claim");
        }
        let mut ignores = openai();
        ignores.retry_after = RetryAfterRule::Ignored;
        let e = set(&mut ignores, "retry_after_max=5s").unwrap_err();
        assert!(e.contains("ignores Retry-After"), "{e}");
    }
}
