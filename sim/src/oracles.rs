//! Named properties checked on every trace.
//!
//! Each oracle reads one call's records (in trace order) and the policy the
//! wrapper claims, and reports what it finds wrong. Timer-driven durations
//! get 1 ms of slack: tokio's timer wheel fires on whole milliseconds.

use crate::trace::{AttemptOutcome, Kind, Record, Trace};
use provider_retry::{Jitter, RetryPolicy};
use std::fmt;
use std::time::Duration;

/// The timer wheel's resolution: a timer may fire up to this late.
pub const TICK_NS: u64 = 1_000_000;

/// A property that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The oracle's name.
    pub oracle: &'static str,
    pub client: u32,
    pub call: u64,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] c{}#{}: {}",
            self.oracle, self.client, self.call, self.detail
        )
    }
}

/// One oracle: a call's records and the claims in, what is wrong out.
type Oracle = fn(&[&Record], &Claims) -> Option<String>;

/// Every oracle with its name, in the order reports list them.
pub const ORACLES: [(&str, Oracle); 11] = [
    ("calls_end", calls_end),
    ("attempts_bounded", attempts_bounded),
    ("non_transient_once", non_transient_once),
    ("transient_retried", transient_retried),
    ("delay_within_jitter", delay_within_jitter),
    ("retry_after_honoured", retry_after_honoured),
    ("no_sleep_after_final", no_sleep_after_final),
    ("deadline_respected", deadline_respected),
    ("attempt_within_timeout", attempt_within_timeout),
    ("stream_exactly_once", stream_exactly_once),
    ("liveness_after_heal", liveness_after_heal),
];

/// What the oracles judge against.
#[derive(Debug, Clone, Copy)]
pub struct Claims {
    pub policy: RetryPolicy,
    /// Calls starting at or after this virtual time must succeed.
    pub live_from: Option<Duration>,
    /// How far past its bound a wait may end. Zero for a trace the wrapper
    /// reported (its waits are the drawn ones, exactly); [`TICK_NS`] for
    /// waits measured from outside, which end on the timer's next tick.
    pub wait_slack_ns: u64,
}

/// Check every oracle on `trace`.
pub fn check(trace: &Trace, claims: &Claims) -> Vec<Violation> {
    let mut out = Vec::new();
    for ((client, call), records) in trace.calls() {
        for (oracle, check) in ORACLES {
            if let Some(detail) = check(&records, claims) {
                out.push(Violation {
                    oracle,
                    client,
                    call,
                    detail,
                });
            }
        }
    }
    out
}

fn calls_end(records: &[&Record], _: &Claims) -> Option<String> {
    let started = records.iter().any(|r| matches!(r.kind, Kind::CallStarted));
    let ended = records
        .iter()
        .any(|r| matches!(r.kind, Kind::CallEnded { .. }));
    (started && !ended)
        .then(|| "the call never ended (cut off at the simulation horizon)".to_string())
}

fn attempts(records: &[&Record]) -> usize {
    records
        .iter()
        .filter(|r| matches!(r.kind, Kind::AttemptStarted { .. }))
        .count()
}

fn attempts_bounded(records: &[&Record], claims: &Claims) -> Option<String> {
    let n = attempts(records) as u64;
    let max = u64::from(claims.policy.get_max_retries()) + 1;
    (n > max).then(|| format!("{n} attempts, at most {max} allowed"))
}

fn non_transient_once(records: &[&Record], _: &Claims) -> Option<String> {
    let at = records.iter().position(|r| {
        matches!(
            r.kind,
            Kind::AttemptEnded {
                outcome: AttemptOutcome::Error {
                    transient: false,
                    ..
                },
                ..
            }
        )
    })?;
    records[at + 1..]
        .iter()
        .find(|r| matches!(r.kind, Kind::AttemptStarted { .. } | Kind::Delay { .. }))
        .map(|r| format!("retried after a non-transient error: {r}"))
}

/// A transient failure (error or timeout) before the last allowed attempt
/// is retried, unless the call gave up for a reason the policy allows:
/// a Retry-After over the cap, the deadline, or the budget.
fn transient_retried(records: &[&Record], claims: &Claims) -> Option<String> {
    for (i, r) in records.iter().enumerate() {
        let (attempt, transient) = match &r.kind {
            Kind::AttemptEnded {
                attempt,
                outcome: AttemptOutcome::TimedOut,
            } => (*attempt, true),
            Kind::AttemptEnded {
                attempt,
                outcome: AttemptOutcome::Error { transient, .. },
            } => (*attempt, *transient),
            _ => continue,
        };
        if !transient || attempt >= claims.policy.get_max_retries() {
            continue;
        }
        match records.get(i + 1).map(|r| &r.kind) {
            // The call was cut off by the horizon: `calls_end` reports that.
            None | Some(Kind::Delay { .. }) => {}
            Some(Kind::GaveUp { reason, .. })
                if matches!(
                    reason.as_str(),
                    "retry_after_too_long" | "deadline" | "budget"
                ) => {}
            Some(other) => {
                return Some(format!(
                    "transient failure of attempt {attempt} was not retried: {other:?}"
                ));
            }
        }
    }
    None
}

/// Bounds on backoff delay `n` under `policy`, given the previous backoff (decorrelated).
pub fn delay_bounds(policy: &RetryPolicy, n: u32, previous: Option<u64>) -> (u64, u64) {
    let initial = saturating_nanos(policy.get_initial_backoff());
    let cap = saturating_nanos(policy.get_max_backoff());
    let base = exponential(initial, n, cap);
    match policy.get_jitter() {
        Jitter::None => (base, base),
        Jitter::Equal => (base / 2, base),
        Jitter::Full => (0, base),
        Jitter::Decorrelated => {
            let hi = match previous {
                Some(p) => p.saturating_mul(3).max(initial),
                // Unknown previous (an earlier retry waited a Retry-After): only the cap binds.
                None => u64::MAX,
            };
            (initial.min(cap), hi.min(cap))
        }
    }
}

/// `min(cap, initial * 2^n)` in nanoseconds, saturating instead of wrapping.
fn exponential(initial: u64, n: u32, cap: u64) -> u64 {
    let grown = if initial == 0 {
        0
    } else if n > initial.leading_zeros() {
        // Shifting by this much would push a set bit off the top.
        u64::MAX
    } else {
        initial << n
    };
    grown.min(cap)
}

/// A duration in whole nanoseconds, saturating at `u64::MAX`.
fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn delay_within_jitter(records: &[&Record], claims: &Claims) -> Option<String> {
    let initial = saturating_nanos(claims.policy.get_initial_backoff());
    let mut previous = Some(initial);
    for r in records {
        if let Kind::Delay {
            attempt,
            delay_ns,
            retry_after,
        } = r.kind
        {
            if retry_after {
                previous = None;
                continue;
            }
            let (lo, hi) = delay_bounds(&claims.policy, attempt, previous);
            if delay_ns < lo || delay_ns > hi.saturating_add(claims.wait_slack_ns) {
                return Some(format!(
                    "backoff {attempt} is {delay_ns}ns, outside [{lo}, {hi}]ns"
                ));
            }
            previous = Some(delay_ns);
        }
    }
    None
}

fn retry_after_honoured(records: &[&Record], claims: &Claims) -> Option<String> {
    let cap = saturating_nanos(claims.policy.get_max_retry_after());
    for (i, r) in records.iter().enumerate() {
        let Kind::AttemptEnded {
            attempt,
            outcome:
                AttemptOutcome::Error {
                    transient: true,
                    retry_after_ns: Some(ra),
                    ..
                },
        } = r.kind
        else {
            continue;
        };
        if attempt >= claims.policy.get_max_retries() {
            continue;
        }
        let next = records.get(i + 1).map(|r| &r.kind);
        let ok = match next {
            Some(Kind::Delay {
                delay_ns,
                retry_after: true,
                ..
            }) => ra <= cap && *delay_ns == ra,
            Some(Kind::GaveUp { reason, .. }) => {
                (ra > cap && reason == "retry_after_too_long") || reason == "deadline"
            }
            _ => false,
        };
        if !ok {
            let what = next.map_or("nothing".to_string(), |k| format!("{k:?}"));
            return Some(format!(
                "Retry-After {ra}ns (cap {cap}ns) after attempt {attempt} was followed by {what}"
            ));
        }
    }
    None
}

fn no_sleep_after_final(records: &[&Record], claims: &Claims) -> Option<String> {
    let max = claims.policy.get_max_retries();
    if let Some(r) = records
        .iter()
        .find(|r| matches!(r.kind, Kind::Delay { attempt, .. } if attempt >= max))
    {
        return Some(format!("a delay after the final attempt: {r}"));
    }
    let last_end = records
        .iter()
        .rev()
        .find(|r| matches!(r.kind, Kind::AttemptEnded { .. }))?;
    let ended = records
        .iter()
        .find(|r| matches!(r.kind, Kind::CallEnded { ok: false }))?;
    let streamed = records.iter().any(|r| {
        matches!(
            r.kind,
            Kind::ChunkReceived { .. } | Kind::StreamFailed { .. }
        )
    });
    (!streamed && ended.t != last_end.t).then(|| {
        format!(
            "the call failed {}ns after its last attempt ended",
            ended.t - last_end.t
        )
    })
}

fn deadline_respected(records: &[&Record], claims: &Claims) -> Option<String> {
    let deadline = saturating_nanos(claims.policy.get_retry_deadline()?);
    let first = records
        .iter()
        .find(|r| matches!(r.kind, Kind::AttemptStarted { .. }))?
        .t;
    records.iter().find_map(|r| match r.kind {
        Kind::Delay { delay_ns, .. } => {
            let end = u128::from(r.t - first) + u128::from(delay_ns);
            (end > u128::from(deadline.saturating_add(claims.wait_slack_ns))).then(|| {
                format!("a wait ending {end}ns after the first attempt, deadline {deadline}ns")
            })
        }
        _ => None,
    })
}

fn attempt_within_timeout(records: &[&Record], claims: &Claims) -> Option<String> {
    let timeout = saturating_nanos(claims.policy.get_timeout());
    if timeout == 0 {
        return None;
    }
    let mut started = None;
    for r in records {
        match r.kind {
            Kind::AttemptStarted { .. } => started = Some(r.t),
            Kind::AttemptEnded { attempt, .. } => {
                let took = r.t - started.unwrap_or(r.t);
                if took > timeout.saturating_add(TICK_NS) {
                    return Some(format!(
                        "attempt {attempt} took {took}ns, timeout {timeout}ns"
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

fn stream_exactly_once(records: &[&Record], _: &Claims) -> Option<String> {
    let sent: Vec<(u64, u32)> = records
        .iter()
        .filter_map(|r| match r.kind {
            Kind::ChunkSent { stream, index } => Some((stream, index)),
            _ => None,
        })
        .collect();
    let received: Vec<(u64, u32)> = records
        .iter()
        .filter_map(|r| match r.kind {
            Kind::ChunkReceived { stream, index } => Some((stream, index)),
            _ => None,
        })
        .collect();
    (sent != received).then(|| format!("sent {sent:?} but received {received:?}"))
}

fn liveness_after_heal(records: &[&Record], claims: &Claims) -> Option<String> {
    let from = saturating_nanos(claims.live_from?);
    let start = records
        .iter()
        .find(|r| matches!(r.kind, Kind::CallStarted))?;
    let failed = records
        .iter()
        .any(|r| matches!(r.kind, Kind::CallEnded { ok: false }));
    (start.t >= from && failed).then(|| {
        format!(
            "a call started at {}ns, after the heal bound {from}ns, failed",
            start.t
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    fn rec(t_ms: u64, kind: Kind) -> Record {
        Record {
            t: t_ms * MS,
            client: 0,
            call: 0,
            kind,
        }
    }

    fn err(attempt: u32, transient: bool, ra_ms: Option<u64>) -> Kind {
        Kind::AttemptEnded {
            attempt,
            outcome: AttemptOutcome::Error {
                status: 503,
                transient,
                retry_after_ns: ra_ms.map(|m| m * MS),
            },
        }
    }

    fn delay(attempt: u32, ms: u64, retry_after: bool) -> Kind {
        Kind::Delay {
            attempt,
            delay_ns: ms * MS,
            retry_after,
        }
    }

    /// A correct trace: two 503s with exact backoff, then success.
    fn good() -> Vec<Record> {
        vec![
            rec(0, Kind::CallStarted),
            rec(0, Kind::AttemptStarted { attempt: 0 }),
            rec(10, err(0, true, None)),
            rec(10, delay(0, 100, false)),
            rec(110, Kind::AttemptStarted { attempt: 1 }),
            rec(120, err(1, true, None)),
            rec(120, delay(1, 200, false)),
            rec(320, Kind::AttemptStarted { attempt: 2 }),
            rec(
                330,
                Kind::AttemptEnded {
                    attempt: 2,
                    outcome: AttemptOutcome::Ok,
                },
            ),
            rec(330, Kind::CallEnded { ok: true }),
        ]
    }

    fn claims() -> Claims {
        Claims {
            policy: RetryPolicy::new().jitter(Jitter::None),
            live_from: None,
            wait_slack_ns: 0,
        }
    }

    fn names(records: Vec<Record>, claims: &Claims) -> Vec<&'static str> {
        check(&Trace { records }, claims)
            .into_iter()
            .map(|v| v.oracle)
            .collect()
    }

    #[test]
    fn a_correct_trace_passes_every_oracle() {
        assert_eq!(names(good(), &claims()), Vec::<&str>::new());
    }

    #[test]
    fn calls_end_catches_a_call_that_never_ended() {
        let mut t = good();
        t.pop();
        assert_eq!(names(t, &claims()), ["calls_end"]);
    }

    #[test]
    fn attempts_bounded_catches_a_fourth_attempt() {
        let mut t = good();
        t.insert(9, rec(400, Kind::AttemptStarted { attempt: 3 }));
        assert!(names(t, &claims()).contains(&"attempts_bounded"));
    }

    #[test]
    fn non_transient_once_catches_a_retry_after_400() {
        let mut t = good();
        t[2] = rec(10, err(0, false, None));
        assert!(names(t, &claims()).contains(&"non_transient_once"));
    }

    #[test]
    fn transient_retried_catches_a_transient_error_given_up_on_early() {
        let mut t = good();
        t.truncate(3);
        t.push(rec(10, Kind::CallEnded { ok: false }));
        assert_eq!(names(t, &claims()), ["transient_retried"]);
    }

    #[test]
    fn delay_within_jitter_catches_a_wrong_backoff() {
        let mut t = good();
        t[6] = rec(120, delay(1, 250, false));
        assert_eq!(names(t, &claims()), ["delay_within_jitter"]);
    }

    #[test]
    fn delay_within_jitter_catches_a_delay_above_the_cap() {
        let mut t = good();
        t[6] = rec(120, delay(1, 200, false));
        let capped = Claims {
            policy: claims().policy.max_backoff(Duration::from_millis(150)),
            ..claims()
        };
        assert!(names(t, &capped).contains(&"delay_within_jitter"));
    }

    #[test]
    fn wait_slack_is_a_tick_for_outside_measurements_and_none_otherwise() {
        // Backoff 1 is exactly 200 ms here; 200.5 ms is half a tick late.
        let mut t = good();
        t[6] = rec(
            120,
            Kind::Delay {
                attempt: 1,
                delay_ns: 200 * MS + MS / 2,
                retry_after: false,
            },
        );
        assert_eq!(names(t.clone(), &claims()), ["delay_within_jitter"]);
        let outside = Claims {
            wait_slack_ns: TICK_NS,
            ..claims()
        };
        assert!(names(t, &outside).is_empty());
    }

    #[test]
    fn retry_after_honoured_catches_a_jittered_retry_after() {
        let mut t = good();
        t[2] = rec(10, err(0, true, Some(100)));
        t[3] = rec(10, delay(0, 90, true));
        assert!(names(t, &claims()).contains(&"retry_after_honoured"));
    }

    #[test]
    fn retry_after_honoured_catches_a_retry_after_above_the_cap_being_waited() {
        let mut t = good();
        t[2] = rec(10, err(0, true, Some(100)));
        t[3] = rec(10, delay(0, 100, true));
        let strict = Claims {
            policy: claims().policy.max_retry_after(Duration::from_millis(50)),
            ..claims()
        };
        assert!(names(t, &strict).contains(&"retry_after_honoured"));
    }

    #[test]
    fn no_sleep_after_final_catches_a_trailing_sleep() {
        let mut t = good();
        t.truncate(8);
        t.push(rec(330, err(2, true, None)));
        t.push(rec(730, Kind::CallEnded { ok: false }));
        assert_eq!(names(t, &claims()), ["no_sleep_after_final"]);
    }

    #[test]
    fn no_sleep_after_final_catches_a_delay_event_after_the_last_attempt() {
        let mut t = good();
        t.truncate(8);
        t.push(rec(330, err(2, true, None)));
        t.push(rec(330, delay(2, 400, false)));
        t.push(rec(730, Kind::CallEnded { ok: false }));
        assert!(names(t, &claims()).contains(&"no_sleep_after_final"));
    }

    #[test]
    fn deadline_respected_catches_a_wait_past_it() {
        let strict = Claims {
            policy: claims()
                .policy
                .retry_deadline(Some(Duration::from_millis(300))),
            ..claims()
        };
        assert_eq!(names(good(), &strict), ["deadline_respected"]);
    }

    #[test]
    fn attempt_within_timeout_catches_a_long_attempt() {
        let short = Claims {
            policy: claims().policy.timeout(Duration::from_millis(5)),
            ..claims()
        };
        assert!(names(good(), &short).contains(&"attempt_within_timeout"));
        let exact = Claims {
            policy: claims().policy.timeout(Duration::from_millis(9)),
            ..claims()
        };
        assert!(
            names(good(), &exact).is_empty(),
            "10 ms is within 9 ms plus one tick"
        );
    }

    #[test]
    fn stream_exactly_once_catches_lost_and_duplicated_chunks() {
        let chunks = |received: &[u32]| {
            let mut t = good();
            for i in 0..3 {
                t.insert(
                    9,
                    rec(
                        330,
                        Kind::ChunkSent {
                            stream: 4,
                            index: 2 - i,
                        },
                    ),
                );
            }
            let at = t.len() - 1;
            for (k, &i) in received.iter().enumerate() {
                t.insert(
                    at + k,
                    rec(
                        331,
                        Kind::ChunkReceived {
                            stream: 4,
                            index: i,
                        },
                    ),
                );
            }
            names(t, &claims())
        };
        assert!(chunks(&[0, 1, 2]).is_empty());
        assert_eq!(chunks(&[0, 2]), ["stream_exactly_once"]);
        assert_eq!(chunks(&[0, 1, 1, 2]), ["stream_exactly_once"]);
    }

    #[test]
    fn liveness_catches_a_failure_after_heal() {
        let mut t = good();
        *t.last_mut().unwrap() = rec(330, Kind::CallEnded { ok: false });
        let live = Claims {
            live_from: Some(Duration::ZERO),
            ..claims()
        };
        assert!(names(t.clone(), &live).contains(&"liveness_after_heal"));
        let later = Claims {
            live_from: Some(Duration::from_millis(1)),
            ..claims()
        };
        assert!(!names(t, &later).contains(&"liveness_after_heal"));
    }
}
