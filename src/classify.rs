//! After a failed attempt: retry, and after which kind of wait, or give up and why.
//!
//! Pure functions of the error, the retry count and the policy; the loop
//! supplies the clock.

use crate::policy::RetryPolicy;
use crabllm_core::Error;
use std::time::Duration;

/// Why a call ended with an error instead of another attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GiveUp {
    /// The error is not transient ([`Error::is_transient`] is false): retrying gives the same answer.
    NotTransient,
    /// The last allowed attempt failed.
    Exhausted,
    /// The provider asked for a wait longer than `max_retry_after`.
    RetryAfterTooLong,
    /// The next wait would end past the retry deadline.
    Deadline,
    /// The shared [`RetryBudget`](crate::RetryBudget) could not pay for the retry.
    Budget,
}

impl GiveUp {
    /// A short stable name, for traces and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUp::NotTransient => "not_transient",
            GiveUp::Exhausted => "exhausted",
            GiveUp::RetryAfterTooLong => "retry_after_too_long",
            GiveUp::Deadline => "deadline",
            GiveUp::Budget => "budget",
        }
    }
}

/// What the loop does after a failed attempt, before the deadline is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Retry after the next delay of the backoff schedule.
    Backoff,
    /// Retry after exactly this long, as the provider asked.
    RetryAfter(Duration),
    /// Return the error now.
    GiveUp(GiveUp),
}

/// Decide what follows a failed attempt, given the retries already used.
///
/// In order: a non-transient error ends the call; then a call with no
/// retries left ends (so nothing ever sleeps after the final attempt); then
/// a `Retry-After` is honoured exactly if it is at most `max_retry_after`
/// and ends the call if longer; otherwise the backoff schedule decides.
pub(crate) fn verdict(error: &Error, retries_used: u32, policy: &RetryPolicy) -> Verdict {
    if !error.is_transient() {
        return Verdict::GiveUp(GiveUp::NotTransient);
    }
    if retries_used >= policy.get_max_retries() {
        return Verdict::GiveUp(GiveUp::Exhausted);
    }
    match error.retry_after() {
        Some(wait) if wait <= policy.get_max_retry_after() => Verdict::RetryAfter(wait),
        Some(_) => Verdict::GiveUp(GiveUp::RetryAfterTooLong),
        None => Verdict::Backoff,
    }
}

/// Whether a wait of `delay`, begun `elapsed` after the first attempt
/// started, would end past `deadline`. Ending exactly at it is allowed.
pub(crate) fn passes_deadline(elapsed: Duration, delay: Duration, deadline: Duration) -> bool {
    match elapsed.checked_add(delay) {
        Some(end) => end > deadline,
        // A sum past Duration::MAX is past any deadline.
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn provider(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Provider {
            status,
            body: String::new(),
            retry_after,
        }
    }

    #[test]
    fn non_transient_wins_over_everything() {
        let p = RetryPolicy::new();
        for e in [
            provider(400, None),
            provider(401, Some(Duration::ZERO)),
            Error::Decode("x".into()),
        ] {
            assert_eq!(verdict(&e, 0, &p), Verdict::GiveUp(GiveUp::NotTransient));
        }
    }

    #[test]
    fn exhausted_before_retry_after() {
        let p = RetryPolicy::new().max_retries(1);
        let e = provider(429, Some(Duration::from_secs(1)));
        assert_eq!(
            verdict(&e, 0, &p),
            Verdict::RetryAfter(Duration::from_secs(1))
        );
        assert_eq!(verdict(&e, 1, &p), Verdict::GiveUp(GiveUp::Exhausted));
    }

    #[test]
    fn retry_after_at_the_cap_is_honoured_above_it_refused() {
        let p = RetryPolicy::new().max_retry_after(Duration::from_secs(60));
        let at = provider(503, Some(Duration::from_secs(60)));
        let above = provider(503, Some(Duration::from_secs(60) + Duration::from_nanos(1)));
        assert_eq!(
            verdict(&at, 0, &p),
            Verdict::RetryAfter(Duration::from_secs(60))
        );
        assert_eq!(
            verdict(&above, 0, &p),
            Verdict::GiveUp(GiveUp::RetryAfterTooLong)
        );
    }

    #[test]
    fn a_wait_may_end_exactly_on_the_deadline() {
        let s = Duration::from_secs;
        assert!(!passes_deadline(s(10), s(5), s(15)));
        assert!(passes_deadline(s(10), s(6), s(15)));
        assert!(passes_deadline(Duration::MAX, Duration::MAX, s(15)));
    }

    #[test]
    fn zero_retries_gives_up_on_first_transient_error() {
        let p = RetryPolicy::new().max_retries(0);
        assert_eq!(
            verdict(&Error::Network("x".into()), 0, &p),
            Verdict::GiveUp(GiveUp::Exhausted)
        );
    }

    proptest! {
        #[test]
        fn transient_statuses_retry_until_exhausted(
            status in prop::sample::select(vec![429u16, 500, 502, 503, 504]),
            max in any::<u32>(),
            used in any::<u32>(),
        ) {
            let p = RetryPolicy::new().max_retries(max);
            let v = verdict(&provider(status, None), used, &p);
            if used < max {
                prop_assert_eq!(v, Verdict::Backoff);
            } else {
                prop_assert_eq!(v, Verdict::GiveUp(GiveUp::Exhausted));
            }
        }

        #[test]
        fn retry_after_is_exact_or_refused(ra in any::<u64>(), cap in any::<u64>()) {
            let (ra, cap) = (Duration::from_nanos(ra), Duration::from_nanos(cap));
            let p = RetryPolicy::new().max_retry_after(cap);
            let v = verdict(&provider(429, Some(ra)), 0, &p);
            if ra <= cap {
                prop_assert_eq!(v, Verdict::RetryAfter(ra));
            } else {
                prop_assert_eq!(v, Verdict::GiveUp(GiveUp::RetryAfterTooLong));
            }
        }

        #[test]
        fn deadline_matches_wide_arithmetic(e: u64, d: u64, dl: u64) {
            let (e, d, dl) = (Duration::from_nanos(e), Duration::from_nanos(d), Duration::from_nanos(dl));
            let wide = e.as_nanos() + d.as_nanos();
            prop_assert_eq!(passes_deadline(e, d, dl), wide > dl.as_nanos());
        }
    }
}
