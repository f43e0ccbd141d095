//! `Planted<P>`: a small hand-written retry loop with one defect planted.
//!
//! With [`Defect::None`] it follows provider-retry's documented semantics
//! (`docs/wrapper.md`, "Semantics"); every other defect changes one rule and nothing
//! else, so the oracle that names that rule is the one that must catch it.

use super::defect::Defect;
use crabllm_core::Error;
use provider_retry_sim::scenario::{JitterSpec, PolicySpec};
use provider_retry_sim::seeds;
use provider_retry_sim::subject::Reporter;
use provider_retry_sim::trace::{GiveUpReason, Reported};
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;

/// A retry wrapper around `inner` with `defect` planted.
pub struct Planted<P> {
    pub(crate) inner: P,
    pub(crate) spec: PolicySpec,
    pub(crate) defect: Defect,
    rng: Mutex<ChaCha8Rng>,
    /// Where it says what it did, as an observer hook would.
    reporter: Option<Reporter>,
    /// Consecutive failed calls ([`Defect::StuckBreaker`] opens at 3).
    failed_calls: AtomicU32,
    /// The wrapper's seed ([`Defect::LockStepJitter`] restarts its stream per call).
    seed: u64,
    /// The lock [`Defect::LockHeldAcrossBackoff`] holds for a whole call.
    lock: tokio::sync::Mutex<()>,
}

/// Failed calls in a row after which [`Defect::StuckBreaker`] opens.
const BREAKER_OPENS_AT: u32 = 3;

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
    /// The last base, before jitter (what [`Defect::MisreportsDelay`] reports).
    base: u64,
    /// The unchecked doubling of [`Defect::OverflowsDoublingBackoff`].
    doubled: Duration,
    /// [`Defect::LockStepJitter`]'s stream, restarted from the seed every call.
    rng: Option<ChaCha8Rng>,
}

impl<P> Planted<P> {
    pub fn new(
        inner: P,
        spec: PolicySpec,
        defect: Defect,
        seed: u64,
        reporter: Option<Reporter>,
    ) -> Self {
        Self {
            inner,
            spec,
            defect,
            rng: Mutex::new(seeds::stream(seed, "zoo", 0)),
            reporter,
            failed_calls: AtomicU32::new(0),
            seed,
            lock: tokio::sync::Mutex::new(()),
        }
    }

    fn report(&self, event: Reported) {
        if let Some(reporter) = &self.reporter {
            reporter.report(event);
        }
    }

    /// Report giving up after `attempt` for `reason` (misreported, for that defect).
    fn give_up(&self, attempt: u32, reason: GiveUpReason) {
        let reason = match reason {
            GiveUpReason::NotTransient if self.has(Defect::MisreportsGiveUp) => {
                GiveUpReason::Exhausted
            }
            r => r,
        };
        self.report(Reported::GaveUp { attempt, reason });
    }

    fn has(&self, defect: Defect) -> bool {
        self.defect == defect
    }

    /// Uniform in `[lo, hi]` nanoseconds from the wrapper's seeded stream
    /// (the call's own, for [`Defect::LockStepJitter`]).
    fn draw(&self, lo: u64, hi: u64, state: &mut Backoff) -> u64 {
        let u = match (self.has(Defect::ReadsWallClock), &mut state.rng) {
            // The planted bug: a draw no seed fixes.
            (true, _) => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                f64::from(now.subsec_nanos()) / 1e9
            }
            (false, Some(own)) => seeds::unit(own),
            (false, None) => {
                let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                seeds::unit(&mut *rng)
            }
        };
        lo + ((hi - lo) as f64 * u) as u64
    }

    /// A call's backoff state, before its first retry.
    fn fresh_backoff(&self, previous: u64, base: u64, doubled: Duration) -> Backoff {
        Backoff {
            retry: 0,
            previous,
            base,
            doubled,
            // The planted bug: every call restarts one stream from the seed.
            rng: self
                .has(Defect::LockStepJitter)
                .then(|| seeds::stream(self.seed, "zoo", 0)),
        }
    }

    /// `base` jittered as the policy says (equal when full is asked, for that defect).
    fn jittered(&self, base: u64, state: &mut Backoff) -> u64 {
        let initial = ns(self.spec.initial_backoff);
        if self.has(Defect::OpenAiStyle) {
            // Its own fixed jitter: uniform in [0.75 b, b].
            let lo = ((base as f64 * 0.75).floor() as u64).min(base);
            return self.draw(lo, base, state);
        }
        match self.spec.jitter {
            JitterSpec::None => base,
            JitterSpec::Full if self.has(Defect::EqualJitterClaimedFull) => {
                self.draw(base / 2, base, state)
            }
            JitterSpec::Full => self.draw(0, base, state),
            JitterSpec::Equal => self.draw(base / 2, base, state),
            JitterSpec::Decorrelated => {
                let hi = state.previous.saturating_mul(3).max(initial);
                self.draw(initial, hi, state).min(ns(self.spec.max_backoff))
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
        if self.has(Defect::FactorOneAndAHalf) {
            let exponent = i32::try_from(state.retry).unwrap_or(i32::MAX);
            // `as` saturates: the same rounding as the claim's envelope.
            base = ((initial as f64 * 1.5f64.powi(exponent)) as u64).min(cap);
        }
        if self.has(Defect::OverflowsDoublingBackoff) {
            base = ns(state.doubled).min(cap);
            // The planted bug: `Duration * u32` panics on overflow.
            state.doubled *= 2;
        }
        state.base = base;
        let mut delay = self.jittered(base, state);
        if self.has(Defect::JitterAddedAfterCap) {
            let extra = self.draw(0, initial, state);
            delay = delay.saturating_add(extra);
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
        self.attempt_within(self.spec.timeout, fut).await
    }

    /// One attempt under `limit` (zero: none).
    async fn attempt_within<T>(
        &self,
        limit: Duration,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
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

    /// The wait before the next retry and whether it is a Retry-After, or
    /// `None` to give up with the error.
    fn wait_for(&self, error: &Error, state: &mut Backoff) -> Option<(Duration, bool)> {
        // Retry n takes schedule item n even after a Retry-After wait.
        let backoff = self.next_backoff(state);
        match error.retry_after() {
            _ if self.has(Defect::IgnoresRetryAfter) => Some((backoff, false)),
            Some(asked) if asked > self.spec.max_retry_after => None,
            Some(asked) if self.has(Defect::JittersRetryAfter) => {
                let mut fresh = self.fresh_backoff(ns(asked), ns(asked), asked);
                let jittered = self.jittered(ns(asked), &mut fresh);
                Some((Duration::from_nanos(jittered), true))
            }
            Some(asked) => Some((asked, true)),
            None => Some((backoff, false)),
        }
    }

    /// The per-attempt timeout of this call: 1 ns once the stuck breaker is open.
    fn call_timeout(&self) -> Duration {
        let open = self.has(Defect::StuckBreaker)
            && self.failed_calls.load(Ordering::Relaxed) >= BREAKER_OPENS_AT;
        match open {
            true => Duration::from_nanos(1),
            false => self.spec.timeout,
        }
    }

    /// The breaker counts failed calls in a row; once open it never closes.
    fn call_ended(&self, ok: bool) {
        let open = self.failed_calls.load(Ordering::Relaxed) >= BREAKER_OPENS_AT;
        match (ok, open) {
            (_, true) => {}
            (true, false) => self.failed_calls.store(0, Ordering::Relaxed),
            (false, false) => {
                self.failed_calls.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The one retry loop every retried method runs through.
    pub(crate) async fn retry<T, F>(&self, op: impl FnMut() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        // The planted bug: one lock held across the whole loop, waits and all.
        let _held = match self.has(Defect::LockHeldAcrossBackoff) {
            true => Some(self.lock.lock().await),
            false => None,
        };
        let result = self.retry_loop(op).await;
        self.call_ended(result.is_ok());
        result
    }

    async fn retry_loop<T, F>(&self, mut op: impl FnMut() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let started = Instant::now();
        let timeout = self.call_timeout();
        let initial = self.spec.initial_backoff;
        let mut state = self.fresh_backoff(ns(initial), ns(initial), initial);
        // Attempt `retries` is the call's attempt number, from 0.
        let mut retries = 0u32;
        loop {
            self.report(Reported::Attempt { attempt: retries });
            let error = match self.attempt_of_call(started, timeout, op()).await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            // provider-retry's order: not transient, exhausted, Retry-After
            // too long, deadline.
            if !self.retryable(&error) {
                self.give_up(retries, GiveUpReason::NotTransient);
                return Err(error);
            }
            if retries >= self.max_retries() {
                if self.has(Defect::SleepsAfterFinalAttempt) {
                    tokio::time::sleep(self.next_backoff(&mut state)).await;
                }
                self.give_up(retries, GiveUpReason::Exhausted);
                return Err(error);
            }
            let Some((wait, retry_after)) = self.wait_for(&error, &mut state) else {
                self.give_up(retries, GiveUpReason::RetryAfterTooLong);
                return Err(error);
            };
            let deadline = self
                .spec
                .retry_deadline
                .filter(|_| !self.has(Defect::WaitsPastDeadline));
            if deadline.is_some_and(|d| started.elapsed().saturating_add(wait) > d) {
                self.give_up(retries, GiveUpReason::Deadline);
                return Err(error);
            }
            let reported = match self.has(Defect::MisreportsDelay) && !retry_after {
                true => state.base,
                false => ns(wait),
            };
            self.report(Reported::Delay {
                attempt: retries,
                delay_ns: reported,
                retry_after,
            });
            tokio::time::sleep(wait).await;
            retries += 1;
        }
    }
}

// Callers that walk away, and attempts cut short.
impl<P> Planted<P> {
    /// One attempt of the call that began at `started`, under `limit`
    /// (zero: none); for [`Defect::CallWideAttemptTimer`], under what is
    /// left of it since the call began.
    async fn attempt_of_call<T>(
        &self,
        started: Instant,
        limit: Duration,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if !self.has(Defect::CallWideAttemptTimer) || limit.is_zero() {
            return self.attempt_within(limit, fut).await;
        }
        // The planted bug: one deadline for every attempt of the call.
        tokio::time::timeout_at(started + limit, fut)
            .await
            .unwrap_or(Err(Error::Timeout))
    }

    /// The control with this variant's policy and reporter, seeded from
    /// this variant's stream: what a variant runs in a task of its own.
    pub(crate) fn twin(&self) -> Planted<P>
    where
        P: Clone,
    {
        let seed = {
            let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
            rand_chacha::rand_core::RngCore::next_u64(&mut *rng)
        };
        let reporter = self.reporter.clone();
        Planted::new(
            self.inner.clone(),
            self.spec.clone(),
            Defect::None,
            seed,
            reporter,
        )
    }
}
