//! A claim adjusted knob by knob: `judge --claim openai-python --set
//! max_retries=5 --set timeout=2s` states "openai-python, but five retries
//! and a 2 s timeout" without writing a claim file.
//!
//! Each knob names one field of [`Claim`] in a person's words. Durations
//! take a unit (`500ms`, `2s`, `1.5m`); a bare number is seconds. What a
//! knob cannot say (a jitter shape, the methods retried) is said in a claim
//! file (`judge --print-claim NAME` writes one to start from).

use super::claim::{Claim, RetryAfterRule, ShouldRetryHeader, UpstreamOrder, nanos};
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
    (
        "retry_after_jitter",
        "a Retry-After wait may last up to this much longer (a duration)",
    ),
    (
        "retry_after_above",
        "a Retry-After over retry_after_max: refuse (the call ends), clamp (retry_after_max is waited) or backoff (it is ignored, the backoff waited)",
    ),
    (
        "floor",
        "no backoff wait is shorter: a shorter draw is raised to it; Retry-After waits are not raised (a duration, or none)",
    ),
    (
        "upstreams",
        "how many upstreams a call may try (a number, 1 or more)",
    ),
    (
        "upstream_order",
        "in_order (a fallback chain, each upstream its own retries) or any (one group, any upstream any attempt, retries counted together)",
    ),
    (
        "cooldown",
        "after a 429 an upstream is not tried for this long unless every upstream is cooling; with all cooling a call may end (a duration, or none)",
    ),
    (
        "server_waits",
        "true: nothing reaches a server before a Retry-After it sent (to any call) has passed; false: not promised",
    ),
    (
        "should_retry_header",
        "honoured (an answer's x-should-retry: true retries any status, false ends the call) or ignored (the statuses alone decide)",
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
                RetryAfterRule::Exact { max_ns }
                | RetryAfterRule::Positive { max_ns, .. }
                | RetryAfterRule::Within { max_ns, .. } => {
                    *max_ns = max;
                }
            }
        }
        "retry_after_jitter" => claim.retry_after_jitter_ns = duration(value).map_err(refuse)?,
        "retry_after_above" => {
            claim.retry_after = above(claim.retry_after, value).map_err(refuse)?
        }
        "floor" => claim.backoff.floor_ns = optional(value).map_err(refuse)?.unwrap_or(0),
        "upstreams" => match value.parse::<u32>() {
            Ok(n) if n >= 1 => claim.upstreams = n,
            _ => return Err(refuse("not a number of upstreams (1 or more)".into())),
        },
        "upstream_order" => {
            claim.upstream_order = match value {
                "in_order" => UpstreamOrder::InOrder,
                "any" => UpstreamOrder::Any,
                _ => return Err(refuse("give in_order or any".into())),
            }
        }
        "cooldown" => claim.cooldown_ns = optional(value).map_err(refuse)?,
        "server_waits" => {
            claim.server_waits = Some(match value {
                "true" => true,
                "false" => false,
                _ => return Err(refuse("give true or false".into())),
            })
        }
        "should_retry_header" => {
            claim.should_retry_header = match value {
                "honoured" => ShouldRetryHeader::Honoured,
                "ignored" => ShouldRetryHeader::Ignored,
                _ => return Err(refuse("give honoured or ignored".into())),
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

/// `rule` with what it does above its maximum set to `value`: `refuse`,
/// `clamp` or `backoff`.
fn above(rule: RetryAfterRule, value: &str) -> Result<RetryAfterRule, String> {
    let max_ns = match rule {
        RetryAfterRule::Ignored => return Err("this claim ignores Retry-After".into()),
        // Exact waits a zero Retry-After as zero, and so does its backoff
        // fallback (`within`, zero waited); a clamp is a `positive` rule's,
        // which waits the backoff for a zero, so it is refused here.
        RetryAfterRule::Exact { .. } if value == "refuse" => return Ok(rule),
        RetryAfterRule::Exact { max_ns } if value == "backoff" => {
            return Ok(RetryAfterRule::Within {
                max_ns,
                zero_waited: true,
            });
        }
        RetryAfterRule::Exact { .. } if value == "clamp" => {
            return Err(
                "this claim waits any Retry-After up to its maximum, zero included; \
                 to clamp above it write a claim file with a `positive` rule"
                    .into(),
            );
        }
        RetryAfterRule::Exact { .. } => return Err("give refuse, clamp or backoff".into()),
        RetryAfterRule::Positive { max_ns, .. } | RetryAfterRule::Within { max_ns, .. } => max_ns,
    };
    match value {
        "refuse" => Ok(RetryAfterRule::Positive {
            max_ns,
            refuse_above: true,
        }),
        "clamp" => Ok(RetryAfterRule::Positive {
            max_ns,
            refuse_above: false,
        }),
        "backoff" => Ok(RetryAfterRule::Within {
            max_ns,
            zero_waited: false,
        }),
        _ => Err("give refuse, clamp or backoff".into()),
    }
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
                "retry_after_above" => "backoff",
                "upstreams" => "3",
                "upstream_order" => "any",
                "server_waits" => "true",
                // The SDK claim honours it: the knob must turn it off.
                "should_retry_header" => "ignored",
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
            ("retry_after_jitter=lots", "give a duration"),
            ("retry_after_above=wait", "give refuse, clamp or backoff"),
            ("floor=-1s", "give a duration"),
            ("upstreams=0", "1 or more"),
            ("upstream_order=random", "give in_order or any"),
            ("cooldown=later", "give a duration"),
            ("server_waits=yes", "give true or false"),
            ("should_retry_header=honored", "give honoured or ignored"),
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
        let e = set(&mut ignores, "retry_after_above=clamp").unwrap_err();
        assert!(e.contains("ignores Retry-After"), "{e}");
        // An exact rule waits a zero Retry-After as zero: its refusal is
        // its own, its backoff fallback keeps the zero, a clamp is refused.
        let mut exact = Claim::provider_retry(&crate::scenario::PolicySpec::default());
        let before = exact.clone();
        set(&mut exact, "retry_after_above=refuse").unwrap();
        assert_eq!(exact, before);
        let e = set(&mut exact, "retry_after_above=clamp").unwrap_err();
        assert!(e.contains("write a claim file"), "{e}");
        let e = set(&mut exact, "retry_after_above=wait").unwrap_err();
        assert!(e.contains("give refuse, clamp or backoff"), "{e}");
        set(&mut exact, "retry_after_above=backoff").unwrap();
        assert_eq!(
            exact.retry_after,
            RetryAfterRule::Within {
                max_ns: before.retry_after_max(),
                zero_waited: true,
            }
        );
    }

    #[test]
    fn the_new_knobs_say_what_they_set() {
        let mut c = openai();
        set(&mut c, "retry_after_jitter=750ms").unwrap();
        assert_eq!(c.retry_after_jitter_ns, 750_000_000);
        set(&mut c, "retry_after_above=backoff").unwrap();
        assert_eq!(
            c.retry_after,
            RetryAfterRule::Within {
                max_ns: 120_000_000_000,
                zero_waited: false,
            }
        );
        set(&mut c, "retry_after_above=clamp").unwrap();
        assert_eq!(
            c.retry_after,
            RetryAfterRule::Positive {
                max_ns: 120_000_000_000,
                refuse_above: false
            }
        );
        set(&mut c, "floor=0.1").unwrap();
        assert_eq!(c.backoff.floor_ns, 100_000_000);
        set(&mut c, "floor=none").unwrap();
        assert_eq!(c.backoff.floor_ns, 0);
        set(&mut c, "upstreams=2").unwrap();
        set(&mut c, "upstream_order=any").unwrap();
        assert_eq!((c.upstreams, c.upstream_order), (2, UpstreamOrder::Any));
        set(&mut c, "cooldown=5s").unwrap();
        assert_eq!(c.cooldown_ns, Some(5_000_000_000));
        assert!(!c.server_waits(), "no SDK claim promises it");
        set(&mut c, "server_waits=true").unwrap();
        assert!(c.server_waits());
        assert_eq!(c.should_retry_header, ShouldRetryHeader::Honoured);
        set(&mut c, "should_retry_header=ignored").unwrap();
        assert_eq!(c.should_retry_header, ShouldRetryHeader::Ignored);
        set(&mut c, "should_retry_header=honoured").unwrap();
        assert_eq!(c.should_retry_header, ShouldRetryHeader::Honoured);
    }
}
