//! backon 1.6, in its documented idiom: `op.retry(ExponentialBuilder)`
//! with `.when(...)` and its tokio sleeper, and (the second subject) the
//! `adjust` idiom for Retry-After.
//!
//! Read from the crate source (`backon-1.6.0/src/`):
//! - `backoff/exponential.rs`, `ExponentialBuilder::with_jitter`: "add a
//!   random jitter within `(0, current_delay)` to the current delay", so a
//!   delay is uniform in `[b, 2b)`; `with_max_delay`: "The delay will not
//!   increase if the current delay exceeds the maximum delay", and the
//!   jitter is added after that clamp (`ExponentialBackoff::next`), so the
//!   cap bounds the base only; `with_max_times`: the backoff stops after
//!   that many delays; `with_jitter_seed`: seeds the jitter's RNG;
//!   `with_factor` takes an `f32`.
//! - `retry.rs`, `Retry::when`: which errors are retried; `Retry::adjust`:
//!   "called with the error and the proposed backoff duration", `None`
//!   ends the retries, and "can be used to implement dynamic backoff
//!   strategies, such as adjust backoff values from the http
//!   `Retry-After` headers"; the proposed duration is the backoff's next
//!   item, drawn whether or not it is replaced.
//! - `sleep.rs`, `DefaultSleeper`: `tokio::time::sleep` under the
//!   `tokio-sleep` feature.
//!
//! backon has no per-attempt timeout: each attempt is wrapped in
//! `tokio::time::timeout` with the policy's timeout, an elapsed attempt
//! failing with `Error::Timeout` (transient). It has no deadline on elapsed
//! time (`with_total_delay` bounds the sum of its sleeps, not the time
//! since the first attempt), so none is configured or claimed.

use super::provider::{Peer, RetryLib};
use super::{RetryAfter, attempt_timeout, claim, retry_after, timed};
use crate::check::claim::{Backoff, Claim, JitterShape, RetryAfterRule, nanos};
use crate::scenario::{JitterSpec, PolicySpec};
use crate::seeds::derive;
use crate::subject::{Probe, Subject};
use backon::{ExponentialBuilder, Retryable};
use crabllm_core::Error;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// backon's `ExponentialBuilder` with jitter; Retry-After ignored (backon
/// knows nothing of it unless told through `adjust`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Backon;

/// backon with the `adjust` idiom of `Retry::adjust`'s documentation: a
/// Retry-After within the policy's maximum replaces the proposed backoff,
/// a longer one ends the call, and a failure without one keeps the
/// proposal. A proposal of `None` (the backoff exhausted) is kept, as
/// `Retry::adjust` documents `None` to mean; the documentation's example
/// replaces it too, and so retries without end a provider that answers
/// every attempt with a Retry-After (with `Retry-After: 0` and instant
/// failures, in no time at all: a simulated run never ends). The guide
/// (`docs/wrapper.md`) lists that as a defect of the example, shown by `sim/tests/suite/peers.rs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct BackonAdjust;

/// backon configured for one policy.
#[derive(Debug)]
pub struct BackonLib {
    builder: ExponentialBuilder,
    seed: u64,
    calls: AtomicU64,
    timeout: Option<Duration>,
    /// `Some(max_retry_after)`: the `adjust` variant.
    adjust: Option<Duration>,
}

impl BackonLib {
    fn new(policy: &PolicySpec, seed: u64, adjust: bool) -> Self {
        let mut builder = ExponentialBuilder::new()
            .with_min_delay(policy.initial_backoff)
            .with_max_delay(policy.max_backoff)
            .with_factor(2.0)
            .with_max_times(policy.max_retries as usize);
        if policy.jitter != JitterSpec::None {
            builder = builder.with_jitter();
        }
        Self {
            builder,
            seed,
            calls: AtomicU64::new(0),
            timeout: attempt_timeout(policy),
            adjust: adjust.then_some(policy.max_retry_after),
        }
    }
}

impl RetryLib for BackonLib {
    fn retry<'a, T, F, Fut>(&'a self, op: F) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        // One seed per call: the same seed for every call would draw the
        // same jitter on every call.
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        let builder = self
            .builder
            .with_jitter_seed(derive(self.seed, "backon", call));
        let timeout = self.timeout;
        let retry = (move || timed(timeout, op()))
            .retry(builder)
            .when(Error::is_transient);
        let max = self.adjust;
        async move {
            match max {
                None => retry.await,
                Some(max) => {
                    retry
                        .adjust(move |e: &Error, dur| match retry_after(e, max) {
                            RetryAfter::Wait(wait) => dur.map(|_| wait),
                            RetryAfter::TooLong => None,
                            RetryAfter::Absent => dur,
                        })
                        .await
                }
            }
        }
    }
}

/// What backon's configuration promises (module doc): delays from the
/// policy's initial backoff, doubling, clamped to its maximum before a
/// jitter of `[0, b)` is added; one backoff item per retry.
fn backoff(policy: &PolicySpec) -> Backoff {
    Backoff {
        initial_ns: nanos(policy.initial_backoff),
        factor: 2.0,
        cap_ns: Some(nanos(policy.max_backoff)),
        jitter: match policy.jitter {
            JitterSpec::None => JitterShape::Scale { lo: 1.0, hi: 1.0 },
            _ => JitterShape::Scale { lo: 1.0, hi: 2.0 },
        },
        cap_after_jitter: false,
        advances_on_retry_after: true,
        floor_ns: 0,
    }
}

impl Subject for Backon {
    type Wrapped = Peer<BackonLib>;

    fn name(&self) -> String {
        "backon 1.6".into()
    }

    /// The backoff above; a Retry-After is ignored (the backoff is waited).
    fn claim(&self, policy: &PolicySpec) -> Claim {
        claim(policy, backoff(policy), RetryAfterRule::Ignored, None)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        Peer::new(inner, BackonLib::new(policy, seed, false))
    }
}

impl Subject for BackonAdjust {
    type Wrapped = Peer<BackonLib>;

    fn name(&self) -> String {
        "backon 1.6 + adjust".into()
    }

    /// The backoff above; a Retry-After up to the policy's maximum waited
    /// exactly, a longer one ending the call (what the `adjust` closure
    /// returns, and `Retry::adjust` documents it waits).
    fn claim(&self, policy: &PolicySpec) -> Claim {
        let retry_after = RetryAfterRule::Exact {
            max_ns: nanos(policy.max_retry_after),
        };
        claim(policy, backoff(policy), retry_after, None)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        Peer::new(inner, BackonLib::new(policy, seed, true))
    }
}
