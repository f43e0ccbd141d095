//! `Planted<P>`: a small hand-written retry loop with one defect planted.
//!
//! With [`Defect::None`] it follows provider-retry's documented semantics
//! (README, "Semantics"); every other defect changes one rule and nothing
//! else, so the oracle that names that rule is the one that must catch it.

use super::defect::Defect;
use crabllm_core::Error;
use provider_retry_sim::scenario::{JitterSpec, PolicySpec};
use provider_retry_sim::seeds;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

/// A retry wrapper around `inner` with `defect` planted.
pub struct Planted<P> {
    pub(crate) inner: P,
    pub(crate) spec: PolicySpec,
    pub(crate) defect: Defect,
    rng: Mutex<ChaCha8Rng>,
}

/// Saturating nanoseconds.
fn ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// `initial * factor^n` in saturating `u64` nanoseconds.
fn grown(initial: u64, factor: u64, n: u32) -> u64 {
    (0..n)
        .try_fold(initial, |b, _| b.checked_mul(factor))
        .unwrap_or(u64::MAX)
}

/// One call's backoff state: the retry number and the last delay drawn.
struct Backoff {
    retry: u32,
    previous: u64,
    /// The unchecked doubling of [`Defect::OverflowsDoublingBackoff`].
    doubled: Duration,
}

impl<P> Planted<P> {
    pub fn new(inner: P, spec: PolicySpec, defect: Defect, seed: u64) -> Self {
        Self {
            inner,
            spec,
            defect,
            rng: Mutex::new(seeds::stream(seed, "zoo", 0)),
        }
    }

    fn has(&self, defect: Defect) -> bool {
        self.defect == defect
    }

    /// Uniform in `[lo, hi]` nanoseconds from the wrapper's seeded stream.
    fn draw(&self, lo: u64, hi: u64) -> u64 {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let u = seeds::unit(&mut *rng);
        lo + ((hi - lo) as f64 * u) as u64
    }

    /// `base` jittered as the policy says (equal when full is asked, for that defect).
    fn jittered(&self, base: u64, state: &mut Backoff) -> u64 {
        let initial = ns(self.spec.initial_backoff);
        match self.spec.jitter {
            JitterSpec::None => base,
            JitterSpec::Full if self.has(Defect::EqualJitterClaimedFull) => {
                self.draw(base / 2, base)
            }
            JitterSpec::Full => self.draw(0, base),
            JitterSpec::Equal => self.draw(base / 2, base),
            JitterSpec::Decorrelated => {
                let hi = state.previous.saturating_mul(3).max(initial);
                self.draw(initial, hi).min(ns(self.spec.max_backoff))
            }
        }
    }

    /// The backoff before the next retry: `min(cap, initial * 2^n)`, jittered.
    fn next_backoff(&self, state: &mut Backoff) -> Duration {
        let (initial, cap) = (ns(self.spec.initial_backoff), ns(self.spec.max_backoff));
        let factor = if self.has(Defect::TriplingSchedule) {
            3
        } else {
            2
        };
        let mut base = grown(initial, factor, state.retry).min(cap);
        if self.has(Defect::OverflowsDoublingBackoff) {
            base = ns(state.doubled).min(cap);
            // The planted bug: `Duration * u32` panics on overflow.
            state.doubled *= 2;
        }
        let mut delay = self.jittered(base, state);
        if self.has(Defect::JitterAddedAfterCap) {
            delay = delay.saturating_add(self.draw(0, initial));
        }
        state.retry += 1;
        state.previous = delay;
        Duration::from_nanos(delay)
    }

    /// One attempt under the per-attempt timeout (zero: none).
    pub(crate) async fn attempt<T>(
        &self,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let limit = self.spec.timeout;
        if limit.is_zero() || self.has(Defect::NoAttemptTimeout) {
            return fut.await;
        }
        if self.has(Defect::TimeoutCheckedAfterAnswer) {
            let started = Instant::now();
            let result = fut.await;
            return match started.elapsed() > limit {
                true => Err(Error::Timeout),
                false => result,
            };
        }
        tokio::time::timeout(limit, fut)
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    fn retryable(&self, error: &Error) -> bool {
        let bad_request = matches!(error, Error::Provider { status: 400, .. });
        error.is_transient() || (bad_request && self.has(Defect::RetriesBadRequest))
    }

    fn max_retries(&self) -> u32 {
        let extra = u32::from(self.has(Defect::OneExtraRetry));
        self.spec.max_retries.saturating_add(extra)
    }

    /// The wait before the next retry, or `None` to give up with the error.
    fn wait_for(&self, error: &Error, state: &mut Backoff) -> Option<Duration> {
        // Retry n takes schedule item n even after a Retry-After wait.
        let backoff = self.next_backoff(state);
        match error.retry_after() {
            _ if self.has(Defect::IgnoresRetryAfter) => Some(backoff),
            Some(asked) if asked > self.spec.max_retry_after => None,
            Some(asked) if self.has(Defect::JittersRetryAfter) => {
                let mut fresh = Backoff {
                    retry: 0,
                    previous: ns(asked),
                    doubled: asked,
                };
                Some(Duration::from_nanos(self.jittered(ns(asked), &mut fresh)))
            }
            Some(asked) => Some(asked),
            None => Some(backoff),
        }
    }

    /// The one retry loop every retried method runs through.
    pub(crate) async fn retry<T, F>(&self, mut op: impl FnMut() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let mut state = Backoff {
            retry: 0,
            previous: ns(self.spec.initial_backoff),
            doubled: self.spec.initial_backoff,
        };
        let mut retries = 0u32;
        loop {
            let error = match self.attempt(op()).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !self.retryable(&error) {
                return Err(error);
            }
            if retries >= self.max_retries() {
                if self.has(Defect::SleepsAfterFinalAttempt) {
                    tokio::time::sleep(self.next_backoff(&mut state)).await;
                }
                return Err(error);
            }
            let Some(wait) = self.wait_for(&error, &mut state) else {
                return Err(error);
            };
            let deadline = self
                .spec
                .retry_deadline
                .filter(|_| !self.has(Defect::WaitsPastDeadline));
            if deadline.is_some_and(|d| started.elapsed().saturating_add(wait) > d) {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}
