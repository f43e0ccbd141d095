//! tokio-retry2 0.9, in its documented idiom: a strategy iterator
//! (`ExponentialFactorBackoff`, `.max_delay`, `.map(jitter...)`,
//! `.take(retries)`) driven by `Retry::spawn`, the action classifying its
//! failures as `RetryError::permanent`, `transient` or `retry_after`.
//!
//! Read from the crate source (`tokio-retry2-0.9.1/src/`):
//! - `lib.rs`, the crate doc: `ExponentialFactorBackoff` with factor 2
//!   from 500 ms gives 500, 1000, 2000 ms (`ExponentialBackoff` raises its
//!   base to the n-th power instead, so it cannot double from an initial
//!   delay); `.take(3)` "limit to 3 retries"; under "Features", `jitter`
//!   "ranges between 50% and 150% of the strategy delay" and
//!   `jitter_with_bounds(min, max)` "between `min * Duration` and
//!   `max * Duration`".
//! - `strategy/exponential_factor_backoff.rs`: delays in whole
//!   milliseconds (`from_millis`), capped at `u32::MAX` ms; `max_delay`:
//!   "No single retry delay will be longer than this", applied to the
//!   strategy's item, before the jitter `.map` that follows it.
//! - `strategy/jitter.rs`: `jitter` and `jitter_with_bounds` draw from
//!   `rand::random` (the thread RNG): not seedable.
//! - `error.rs`, `Error::Transient`: "If the `retry_after` is `None` the
//!   operation should be retried according to the defined strategy
//!   policy, else after the specified duration. Useful for handling rate
//!   limits like a HTTP 429 response."
//!
//! The policy's jitter maps onto the documented jitters: none, equal as
//! `jitter_with_bounds(0.5, 1.0)`, full as `jitter_with_bounds(0.0, 1.0)`,
//! decorrelated (which it lacks) as its default `jitter`. tokio-retry2
//! has no per-attempt timeout: each attempt is wrapped in
//! `tokio::time::timeout`. Its only time bound, `MaxInterval`, reads
//! `std::time::Instant` (wall-clock time, which no simulated clock
//! drives) and stops scheduling retries rather than bounding waits, so no
//! deadline is configured or claimed.

use super::provider::{Peer, RetryLib};
use super::{RetryAfter, attempt_timeout, claim, retry_after, timed};
use crate::check::claim::{Backoff, Claim, JitterShape, RetryAfterRule, nanos};
use crate::scenario::{JitterSpec, PolicySpec};
use crate::subject::{Probe, Subject};
use crabllm_core::Error;
use std::future::Future;
use std::time::Duration;
use tokio_retry2::strategy::{ExponentialFactorBackoff, jitter, jitter_with_bounds};
use tokio_retry2::{Retry, RetryError};

/// tokio-retry2's `ExponentialFactorBackoff` with its jitter and its
/// Retry-After mechanism.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRetry2;

/// tokio-retry2 configured for one policy.
#[derive(Debug)]
pub struct TokioRetry2Lib {
    initial_ms: u64,
    max_delay: Duration,
    jitter: JitterSpec,
    retries: usize,
    timeout: Option<Duration>,
    max_retry_after: Duration,
}

/// `u32::MAX` milliseconds: `ExponentialFactorBackoff`'s own cap.
const LIBRARY_CAP: Duration = Duration::from_millis(u32::MAX as u64);

impl RetryLib for TokioRetry2Lib {
    fn retry<'a, T, F, Fut>(&'a self, op: F) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        let kind = self.jitter;
        let strategy = ExponentialFactorBackoff::from_millis(self.initial_ms, 2.0)
            .max_delay(self.max_delay)
            .map(move |d| match kind {
                JitterSpec::None => d,
                JitterSpec::Equal => jitter_with_bounds(0.5, 1.0)(d),
                JitterSpec::Full => jitter_with_bounds(0.0, 1.0)(d),
                JitterSpec::Decorrelated => jitter(d),
            })
            .take(self.retries);
        let (timeout, max) = (self.timeout, self.max_retry_after);
        let action = move || {
            let attempt = timed(timeout, op());
            async move { attempt.await.map_err(|e| classify(e, max)) }
        };
        Retry::spawn(strategy, action)
    }
}

/// The action's classification: permanent unless transient; a transient
/// failure's Retry-After within `max` as `retry_after`, a longer one
/// permanent (the call ends at once).
fn classify(e: Error, max: Duration) -> RetryError<Error> {
    if !e.is_transient() {
        return RetryError::permanent(e);
    }
    match retry_after(&e, max) {
        RetryAfter::Absent => RetryError::transient(e),
        RetryAfter::Wait(wait) => RetryError::retry_after(e, wait),
        RetryAfter::TooLong => RetryError::permanent(e),
    }
}

impl Subject for TokioRetry2 {
    type Wrapped = Peer<TokioRetry2Lib>;

    fn name(&self) -> String {
        "tokio-retry2 0.9".into()
    }

    /// Whole-millisecond delays doubling from the initial backoff, the
    /// strategy's item clamped to the maximum and then jittered, one item
    /// per retry; a Retry-After within the maximum waited exactly (what
    /// `Error::Transient` documents), a longer one ending the call.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        let whole_ms = Duration::from_millis(policy.initial_backoff.as_millis() as u64);
        let backoff = Backoff {
            initial_ns: nanos(whole_ms),
            factor: 2.0,
            cap_ns: Some(nanos(policy.max_backoff.min(LIBRARY_CAP))),
            jitter: match policy.jitter {
                JitterSpec::None => JitterShape::Scale { lo: 1.0, hi: 1.0 },
                JitterSpec::Equal => JitterShape::Scale { lo: 0.5, hi: 1.0 },
                JitterSpec::Full => JitterShape::Scale { lo: 0.0, hi: 1.0 },
                JitterSpec::Decorrelated => JitterShape::Scale { lo: 0.5, hi: 1.5 },
            },
            cap_after_jitter: false,
            advances_on_retry_after: true,
            floor_ns: 0,
        };
        let retry_after = RetryAfterRule::Exact {
            max_ns: nanos(policy.max_retry_after),
        };
        claim(policy, backoff, retry_after, None)
    }

    fn seedable(&self) -> bool {
        false
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, _: u64) -> Self::Wrapped {
        let lib = TokioRetry2Lib {
            initial_ms: policy.initial_backoff.as_millis() as u64,
            max_delay: policy.max_backoff,
            jitter: policy.jitter,
            retries: policy.max_retries as usize,
            timeout: attempt_timeout(policy),
            max_retry_after: policy.max_retry_after,
        };
        Peer::new(inner, lib)
    }
}
