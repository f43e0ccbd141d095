//! A small correct wrapper for jitter shapes no library here draws: the
//! judge's false-alarm sweep needs a correct subject of every shape a
//! claim can express, and provider-retry draws only its four kinds.
//!
//! [`Reference`] is a plain retry loop written from the claim's words, not
//! from the judge's code: `max_retries + 1` attempts, each bounded by the
//! policy's timeout; a transient failure retried; a Retry-After within the
//! policy's maximum waited exactly, a longer one ending the call; else
//! backoff `n` drawn around base `min(max_backoff, initial * 2^n)` by its
//! [`Shape`]; and under a retry deadline no wait begun whose end would
//! pass it (measured from the first attempt's start). Its draws come from
//! one seeded stream per call.

use super::provider::{Peer, RetryLib};
use super::{RetryAfter, attempt_timeout, claim, retry_after, timed};
use crate::check::claim::{Backoff, Claim, JitterShape, RetryAfterRule, nanos};
use crate::scenario::PolicySpec;
use crate::seeds::{stream, unit};
use crate::subject::{Probe, Subject};
use crabllm_core::Error;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a [`Reference`] draws a delay around its base `b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// OpenAI's SDKs' jitter: uniform in `[0.75 b, b]`.
    OpenAi,
    /// Additive jitter: uniform in `[b, b + ADDED]`, the cap bounding only
    /// the base (as backon and tokio-retry2 cap theirs).
    Added,
}

/// The additive jitter's width: 250 ms, wide enough (more than the 20 ms
/// the distribution test needs) that every backoff is sampled.
pub const ADDED: Duration = Duration::from_millis(250);

/// The reference wrapper drawing its jitter by `Shape`.
#[derive(Debug, Clone, Copy)]
pub struct Reference(pub Shape);

/// The reference loop configured for one policy.
#[derive(Debug)]
pub struct ReferenceLib {
    shape: Shape,
    initial: Duration,
    cap: Duration,
    retries: u32,
    timeout: Option<Duration>,
    max_retry_after: Duration,
    deadline: Option<Duration>,
    seed: u64,
    calls: AtomicU64,
}

impl ReferenceLib {
    /// The loop drawing by `shape`, configured for `policy`, its draws
    /// from `seed`: what [`Reference`] wraps a probe in, and what an
    /// experiment wraps any provider in.
    pub fn new(shape: Shape, policy: &PolicySpec, seed: u64) -> Self {
        Self {
            shape,
            initial: policy.initial_backoff,
            cap: policy.max_backoff,
            retries: policy.max_retries,
            timeout: attempt_timeout(policy),
            max_retry_after: policy.max_retry_after,
            deadline: policy.retry_deadline,
            seed,
            calls: AtomicU64::new(0),
        }
    }

    /// Backoff `n`: the initial backoff doubled `n` times (saturating),
    /// capped. Zero doubles to zero however often: a factor too large to
    /// hold must not turn it into the cap.
    fn base(&self, n: u32) -> Duration {
        if self.initial.is_zero() {
            return Duration::ZERO;
        }
        let doubled = 2u32
            .checked_pow(n)
            .and_then(|f| self.initial.checked_mul(f))
            .unwrap_or(Duration::MAX);
        doubled.min(self.cap)
    }

    /// A delay drawn around base `n` from `u` uniform in `[0, 1)`.
    fn delay(&self, n: u32, u: f64) -> Duration {
        let b = self.base(n);
        match self.shape {
            Shape::OpenAi => b.mul_f64(0.75 + 0.25 * u),
            Shape::Added => b.saturating_add(ADDED.mul_f64(u)),
        }
    }
}

impl RetryLib for ReferenceLib {
    fn retry<'a, T, F, Fut>(&'a self, op: F) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let mut rng = stream(self.seed, "reference", call);
        async move {
            let started = tokio::time::Instant::now();
            let mut n = 0;
            loop {
                let e = match timed(self.timeout, op()).await {
                    Ok(v) => return Ok(v),
                    Err(e) => e,
                };
                if !e.is_transient() || n >= self.retries {
                    return Err(e);
                }
                // Drawn whether or not a Retry-After replaces it, so the
                // draws do not depend on the provider's answers.
                let drawn = self.delay(n, unit(&mut rng));
                let wait = match retry_after(&e, self.max_retry_after) {
                    RetryAfter::TooLong => return Err(e),
                    RetryAfter::Wait(wait) => wait,
                    RetryAfter::Absent => drawn,
                };
                let ends = started.elapsed().saturating_add(wait);
                if self.deadline.is_some_and(|d| ends > d) {
                    return Err(e);
                }
                tokio::time::sleep(wait).await;
                n += 1;
            }
        }
    }
}

impl Subject for Reference {
    type Wrapped = Peer<ReferenceLib>;

    fn name(&self) -> String {
        match self.0 {
            Shape::OpenAi => "reference, jitter [0.75 b, b]".into(),
            Shape::Added => "reference, jitter b + [0, 250 ms]".into(),
        }
    }

    /// What the module doc says, for `policy`.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        let jitter = match self.0 {
            Shape::OpenAi => JitterShape::Scale { lo: 0.75, hi: 1.0 },
            Shape::Added => JitterShape::Add {
                lo_ns: 0,
                hi_ns: nanos(ADDED),
            },
        };
        let backoff = Backoff {
            initial_ns: nanos(policy.initial_backoff),
            factor: 2.0,
            cap_ns: Some(nanos(policy.max_backoff)),
            jitter,
            cap_after_jitter: false,
            advances_on_retry_after: true,
            floor_ns: 0,
        };
        let retry_after = RetryAfterRule::Exact {
            max_ns: nanos(policy.max_retry_after),
        };
        claim(
            policy,
            backoff,
            retry_after,
            policy.retry_deadline.map(nanos),
        )
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        Peer::new(inner, ReferenceLib::new(self.0, policy, seed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lib(shape: Shape) -> ReferenceLib {
        ReferenceLib {
            shape,
            initial: Duration::from_millis(100),
            cap: Duration::from_millis(1_000),
            retries: 3,
            timeout: None,
            max_retry_after: Duration::from_secs(60),
            deadline: None,
            seed: 0,
            calls: AtomicU64::new(0),
        }
    }

    #[test]
    fn each_shape_draws_inside_its_documented_range() {
        let openai = lib(Shape::OpenAi);
        assert_eq!(openai.delay(1, 0.0), Duration::from_millis(150));
        assert!(openai.delay(1, 0.999_999) < Duration::from_millis(200));
        let added = lib(Shape::Added);
        // The cap bounds the base only: 1 s, then up to 250 ms on top.
        assert_eq!(added.delay(9, 0.0), Duration::from_secs(1));
        assert_eq!(added.delay(9, 0.5), Duration::from_millis(1_125));
        assert_eq!(added.base(u32::MAX), Duration::from_secs(1));
        // Found by the conformance suite: a zero initial backoff became
        // the cap once 2^n overflowed (n = 32), drawing outside the claim.
        let zero = ReferenceLib {
            initial: Duration::ZERO,
            ..lib(Shape::Added)
        };
        assert_eq!(zero.base(32), Duration::ZERO);
        assert_eq!(zero.base(u32::MAX), Duration::ZERO);
    }
}
