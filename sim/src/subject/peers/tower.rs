//! tower 0.5, in its documented idiom: a `retry::Policy` holding an
//! `ExponentialBackoff` made by `ExponentialBackoffMaker` (its `Rng` a
//! seeded `HasherRng`), a `ServiceBuilder` stacking `retry` over
//! `timeout` over the call as a `service_fn`.
//!
//! Read from the crate source (`tower-0.5.3/src/`):
//! - `retry/backoff.rs`, `ExponentialBackoffMaker::new(min, max, jitter,
//!   rng)`: fails if `min > max` or `max` is zero; `ExponentialBackoff`:
//!   "The backoff duration will increase exponentially for every
//!   subsequent backoff, up to a maximum duration"; its base is
//!   `min * 2^n` capped at `max`, and its `jitter` "Returns a random,
//!   uniform duration on `[0, base*self.jitter]` no greater than
//!   `self.max`" minus the base, added to the base: a delay is uniform in
//!   `[b, b * (1 + jitter)]` and never over the cap.
//! - `retry/mod.rs`, `Retry`: "clone the policy for each request session";
//!   `retry/policy.rs`, `Policy::retry`: `None` does not retry, `Some`
//!   returns the future that delays the next attempt. The policy here
//!   retries a transient failure while retries are left, waits a
//!   Retry-After within the maximum instead of the backoff (without
//!   advancing it), and ends the call on a longer one.
//! - `util/rng.rs`, `HasherRng::with_hasher`: the random values come from
//!   the given `BuildHasher`, here one keyed by the wrapper's seed.
//! - `timeout/mod.rs`, `Timeout`: each attempt under the retry layer is
//!   bounded by the policy's timeout; an elapsed attempt fails with
//!   `timeout::error::Elapsed`, mapped back to `Error::Timeout`.
//!
//! The policy's jitter maps to a ratio of 1 (any kind; tower has one
//! shape) or 0 (none). An invalid pair for the maker (initial above the
//! maximum, or a zero maximum) is made valid the way a careful user would
//! (the initial clamped to the maximum, a zero maximum raised to 1 ns),
//! and the claim states what that configures. tower has no deadline.

use super::provider::{Peer, RetryLib};
use super::{RetryAfter, attempt_timeout, claim, retry_after};
use crate::check::claim::{Backoff, Claim, JitterShape, RetryAfterRule, nanos};
use crate::scenario::{JitterSpec, PolicySpec};
use crate::subject::{Probe, Subject};
use crabllm_core::Error;
use std::future::Future;
use std::hash::{BuildHasher, DefaultHasher, Hasher};
use std::time::Duration;
use tower::retry::Policy;
use tower::retry::backoff::{
    Backoff as _, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff,
};
use tower::timeout::TimeoutLayer;
use tower::timeout::error::Elapsed;
use tower::util::rng::HasherRng;
use tower::{BoxError, ServiceBuilder, ServiceExt};

/// tower's `retry` with `ExponentialBackoffMaker` and a per-attempt `timeout`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tower;

/// A `BuildHasher` keyed by a seed: the seam through which `HasherRng`
/// takes its randomness.
#[derive(Debug, Clone, Copy)]
pub struct Seeded(pub u64);

impl BuildHasher for Seeded {
    type Hasher = DefaultHasher;

    fn build_hasher(&self) -> DefaultHasher {
        let mut h = DefaultHasher::new();
        h.write_u64(self.0);
        h
    }
}

/// The retry policy: retries left, the backoff, the longest Retry-After.
#[derive(Debug, Clone)]
pub struct Attempts {
    left: u32,
    backoff: ExponentialBackoff<HasherRng<Seeded>>,
    max_retry_after: Duration,
}

impl<Res> Policy<(), Res, BoxError> for Attempts {
    type Future = tokio::time::Sleep;

    fn retry(&mut self, _: &mut (), result: &mut Result<Res, BoxError>) -> Option<Self::Future> {
        let e = result.as_ref().err()?;
        let error = e.downcast_ref::<Error>();
        let transient = error.map_or(e.is::<Elapsed>(), Error::is_transient);
        if !transient || self.left == 0 {
            return None;
        }
        let asked = error.map_or(RetryAfter::Absent, |e| retry_after(e, self.max_retry_after));
        let wait = match asked {
            RetryAfter::TooLong => return None,
            RetryAfter::Wait(wait) => tokio::time::sleep(wait),
            RetryAfter::Absent => self.backoff.next_backoff(),
        };
        self.left -= 1;
        Some(wait)
    }

    fn clone_request(&mut self, _: &()) -> Option<()> {
        Some(())
    }
}

/// tower configured for one policy: the policy each request clones.
#[derive(Debug)]
pub struct TowerLib {
    policy: Attempts,
    timeout: Option<Duration>,
}

impl RetryLib for TowerLib {
    fn retry<'a, T, F, Fut>(&'a self, op: F) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a,
    {
        let service = ServiceBuilder::new()
            .retry(self.policy.clone())
            .option_layer(self.timeout.map(TimeoutLayer::new))
            .map_err(boxed)
            .service_fn(move |()| op());
        async move { service.oneshot(()).await.map_err(unbox) }
    }
}

/// The provider's error into tower's box (what the timeout layer's
/// error type requires).
fn boxed(e: Error) -> BoxError {
    Box::new(e)
}

/// The caller's error back from tower's box: the provider's own error, or
/// `Error::Timeout` for an attempt the timeout layer ended.
fn unbox(e: BoxError) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => *e,
        Err(e) if e.is::<Elapsed>() => Error::Timeout,
        Err(e) => Error::Internal(e.to_string()),
    }
}

/// The maker's `(min, max)` for `policy`, made valid (module doc).
fn bounds(policy: &PolicySpec) -> (Duration, Duration) {
    let max = policy.max_backoff.max(Duration::from_nanos(1));
    (policy.initial_backoff.min(max), max)
}

fn ratio(policy: &PolicySpec) -> f64 {
    match policy.jitter {
        JitterSpec::None => 0.0,
        _ => 1.0,
    }
}

impl Subject for Tower {
    type Wrapped = Peer<TowerLib>;

    fn name(&self) -> String {
        "tower 0.5".into()
    }

    /// Delays doubling from the (clamped) initial backoff, a jitter of
    /// `[0, ratio * b]` added, the sum capped; a Retry-After within the
    /// maximum waited exactly without advancing the backoff, a longer one
    /// ending the call (what the policy's `retry` returns).
    fn claim(&self, policy: &PolicySpec) -> Claim {
        let (min, max) = bounds(policy);
        let backoff = Backoff {
            initial_ns: nanos(min),
            factor: 2.0,
            cap_ns: Some(nanos(max)),
            jitter: JitterShape::Scale {
                lo: 1.0,
                hi: 1.0 + ratio(policy),
            },
            cap_after_jitter: true,
            advances_on_retry_after: false,
            floor_ns: 0,
        };
        let retry_after = RetryAfterRule::Exact {
            max_ns: nanos(policy.max_retry_after),
        };
        claim(policy, backoff, retry_after, None)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped {
        let (min, max) = bounds(policy);
        let rng = HasherRng::with_hasher(Seeded(seed));
        let mut maker = ExponentialBackoffMaker::new(min, max, ratio(policy), rng)
            .expect("bounds() makes min <= max and max > 0; the ratio is 0 or 1");
        let policy_value = Attempts {
            left: policy.max_retries,
            backoff: maker.make_backoff(),
            max_retry_after: policy.max_retry_after,
        };
        let lib = TowerLib {
            policy: policy_value,
            timeout: attempt_timeout(policy),
        };
        Peer::new(inner, lib)
    }
}
