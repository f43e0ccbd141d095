//! `Retrying<P>`: the wrapper, its setters, and the one retry loop every method shares.

use crate::attempt::{Attempt, TimedOut};
use crate::budget::RetryBudget;
use crate::classify::{GiveUp, Verdict, passes_deadline, verdict};
use crate::observe::{DelayReason, Emitter, Observer, Outcome, ThrottleReason};
use crate::policy::RetryPolicy;
use crate::rng::{Streams, uniform_inclusive, wake_rng};
use crate::schedule::{Jitter, Schedule, saturating_nanos};
use crate::throttle::{Pass, Throttle, Turn, held_back};
use crabllm_core::{Error, Provider, ProviderConfig};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use tokio::time::Instant;

/// A [`Provider`] that retries transient failures of the provider it wraps.
///
/// A drop-in for `crabllm_core::Retrying`, with the same constructor and
/// setters, plus exact, seedable semantics (see the [crate docs](crate) for
/// the table of what is retried, and [`RetryPolicy`] for the knobs).
///
/// Clones share the inner provider's clone, the policy, the jitter seed and
/// its call counter, and the observer.
///
/// # Default
///
/// [`RetryPolicy::default()`], jitter seeded once from the OS, no observer.
///
/// # Errors
///
/// Every method returns the wrapped provider's last error unchanged once
/// the call gives up ([`GiveUp`](crate::GiveUp) says why; an observer sees
/// it). An attempt that outlives the per-attempt timeout counts as
/// [`Error::Timeout`], and so does a handed-over stream that stays silent
/// past its first-chunk or idle bound (raw byte streams: an I/O `TimedOut`
/// error).
///
/// # Examples
///
/// ```
/// use provider_retry::{Jitter, Retrying};
/// use std::time::Duration;
/// # #[derive(Clone)] struct Echo;
/// # impl crabllm_core::Provider for Echo {
/// #   async fn chat_completion(&self, _: &crabllm_core::ChatCompletionRequest) -> Result<crabllm_core::ChatCompletionResponse, crabllm_core::Error> { Ok(Default::default()) }
/// #   async fn chat_completion_stream(&self, _: &crabllm_core::ChatCompletionRequest) -> Result<crabllm_core::BoxStream<'static, Result<crabllm_core::ChatCompletionChunk, crabllm_core::Error>>, crabllm_core::Error> { unimplemented!() }
/// #   async fn anthropic_messages(&self, _: &crabllm_core::anthropic::Request) -> Result<crabllm_core::anthropic::Response, crabllm_core::Error> { unimplemented!() }
/// #   async fn anthropic_messages_stream(&self, _: &crabllm_core::anthropic::Request) -> Result<crabllm_core::BoxStream<'static, Result<crabllm_core::anthropic::StreamEvent, crabllm_core::Error>>, crabllm_core::Error> { unimplemented!() }
/// #   async fn gemini_generate_content_stream(&self, _: &str, _: &crabllm_core::gemini::Request) -> Result<crabllm_core::BoxStream<'static, Result<crabllm_core::gemini::Response, crabllm_core::Error>>, crabllm_core::Error> { unimplemented!() }
/// # }
/// let provider = Retrying::new(Echo)
///     .max_retries(3)
///     .timeout(Duration::from_secs(10))
///     .jitter(Jitter::Full)
///     .seed(42);
/// assert_eq!(provider.get_policy().get_max_retries(), 3);
/// ```
pub struct Retrying<P> {
    inner: P,
    policy: RetryPolicy,
    streams: Streams,
    observer: Option<Arc<dyn Observer>>,
    observed_calls: Arc<AtomicU64>,
    budget: Option<RetryBudget>,
    throttle: Option<Throttle>,
}

impl<P: Clone> Clone for Retrying<P> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy,
            streams: self.streams.clone(),
            observer: self.observer.clone(),
            observed_calls: self.observed_calls.clone(),
            budget: self.budget.clone(),
            throttle: self.throttle.clone(),
        }
    }
}

impl<P: fmt::Debug> fmt::Debug for Retrying<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retrying")
            .field("inner", &self.inner)
            .field("policy", &self.policy)
            .field("seed", &self.streams.seed())
            .field("observer", &self.observer.is_some())
            .field("budget", &self.budget)
            .field("throttle", &self.throttle)
            .finish()
    }
}

impl<P> Retrying<P> {
    /// Wrap `inner` with the default policy and an entropy-seeded jitter stream.
    pub fn new(inner: P) -> Self {
        Self::with_policy(inner, RetryPolicy::new())
    }

    /// Wrap `inner` with `policy` and an entropy-seeded jitter stream.
    pub fn with_policy(inner: P, policy: RetryPolicy) -> Self {
        Self {
            inner,
            policy,
            streams: Streams::from_entropy(),
            observer: None,
            observed_calls: Arc::new(AtomicU64::new(0)),
            budget: None,
            throttle: None,
        }
    }

    /// Wrap `inner` with the policy a crabllm `ProviderConfig` asks for
    /// (see [`RetryPolicy::from_config`]).
    pub fn from_config(inner: P, config: &ProviderConfig) -> Self {
        Self::with_policy(inner, RetryPolicy::from_config(config))
    }

    /// Borrow the wrapped provider, e.g. to call its own inherent methods.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// Replace the whole policy.
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The policy in force.
    pub fn get_policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// See [`RetryPolicy::max_retries`].
    pub fn max_retries(self, n: u32) -> Self {
        let p = self.policy.max_retries(n);
        self.policy(p)
    }

    /// See [`RetryPolicy::timeout`].
    pub fn timeout(self, d: Duration) -> Self {
        let p = self.policy.timeout(d);
        self.policy(p)
    }

    /// See [`RetryPolicy::max_retry_after`].
    pub fn max_retry_after(self, d: Duration) -> Self {
        let p = self.policy.max_retry_after(d);
        self.policy(p)
    }

    /// See [`RetryPolicy::first_chunk`].
    pub fn first_chunk(self, d: Duration) -> Self {
        let p = self.policy.first_chunk(d);
        self.policy(p)
    }

    /// See [`RetryPolicy::stream_idle`].
    pub fn stream_idle(self, d: Duration) -> Self {
        let p = self.policy.stream_idle(d);
        self.policy(p)
    }

    /// See [`RetryPolicy::initial_backoff`].
    pub fn initial_backoff(self, d: Duration) -> Self {
        let p = self.policy.initial_backoff(d);
        self.policy(p)
    }

    /// See [`RetryPolicy::max_backoff`].
    pub fn max_backoff(self, d: Duration) -> Self {
        let p = self.policy.max_backoff(d);
        self.policy(p)
    }

    /// See [`RetryPolicy::jitter`].
    pub fn jitter(self, j: Jitter) -> Self {
        let p = self.policy.jitter(j);
        self.policy(p)
    }

    /// See [`RetryPolicy::retry_deadline`]; `None` sets no deadline.
    pub fn retry_deadline(self, d: Option<Duration>) -> Self {
        let p = self.policy.retry_deadline(d);
        self.policy(p)
    }

    /// Make every backoff schedule reproducible: call `k` (counted from 0
    /// across this wrapper and clones made after this, in the order calls
    /// first back off) uses [`RetryPolicy::schedule`]`(seed, k)`.
    pub fn seed(mut self, seed: u64) -> Self {
        self.streams = Streams::new(seed);
        self
    }

    /// The jitter seed in use (drawn from the OS unless [`seed`](Self::seed) set it).
    pub fn get_seed(&self) -> u64 {
        self.streams.seed()
    }

    /// Make every retry pay from `budget`, shared with its other holders
    /// (see [`RetryBudget`]). Clones of this wrapper share it too.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The retry budget in use, if any.
    pub fn get_budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }

    /// Hold every attempt to `throttle`'s pauses and send rate, shared with
    /// its other holders (see [`Throttle`]). Clones of this wrapper share it too.
    pub fn throttle(mut self, throttle: Throttle) -> Self {
        self.throttle = Some(throttle);
        self
    }

    /// The throttle in use, if any.
    pub fn get_throttle(&self) -> Option<&Throttle> {
        self.throttle.as_ref()
    }

    /// Report every step of every call to `observer` (see [`Observer`]).
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }
}

impl<P: Provider> Retrying<P> {
    /// The retry loop: every retried method runs through here.
    ///
    /// `op` starts one attempt. Its error passes through unchanged; only an
    /// expired timeout is turned into [`Error::Timeout`]. Dropping the
    /// returned future at any await (mid-attempt or mid-backoff) drops the
    /// attempt or the sleep with it: nothing is spawned, nothing lingers.
    pub(crate) async fn retry<T, Fut>(
        &self,
        method: &'static str,
        op: impl FnMut() -> Fut,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let emit = self.emitter(method);
        self.retry_with(&emit, op).await
    }

    /// The hooks of one new call to `method`.
    pub(crate) fn emitter(&self, method: &'static str) -> Emitter<'_> {
        Emitter::new(self.observer.as_ref(), &self.observed_calls, method)
    }

    /// [`retry`](Self::retry), reporting to `emit`, which the caller keeps
    /// (a stream open hands it on to the stream).
    pub(crate) async fn retry_with<T, Fut>(
        &self,
        emit: &Emitter<'_>,
        mut op: impl FnMut() -> Fut,
    ) -> Result<T, Error>
    where
        Fut: Future<Output = Result<T, Error>>,
    {
        let policy = &self.policy;
        // The clock is read only if a deadline or a listener needs it.
        let started = (policy.get_retry_deadline().is_some() || emit.on()).then(Instant::now);
        // Drawn lazily: a call that never backs off never touches the shared
        // counter. Boxed because the RNG's block buffer is about 300 bytes:
        // held inline it would make every call's future that much larger to
        // move, while the box costs one allocation only on the first retry,
        // next to a sleep of milliseconds.
        let mut schedule: Option<Box<Schedule>> = None;
        let mut attempt: u32 = 0;
        // Budget tokens this call's retries withdrew, refunded if it succeeds.
        let mut spent: u64 = 0;
        // The error the next attempt retries, and what its retry cost the
        // budget: a throttle that refuses the retry's wait returns the one
        // and refunds the other.
        let mut last: Option<(Error, u64)> = None;
        loop {
            let gate = match &self.throttle {
                None => Gate::Go(0),
                Some(throttle) => match throttle.admit() {
                    Some(number) => Gate::Go(number),
                    // Boxed: the wait's state (a sleep, the turn) would
                    // otherwise make every call's future larger, throttled
                    // or not, while the box costs one allocation only when
                    // an attempt is held back for milliseconds or more.
                    None => Box::pin(self.wait_turn(throttle, emit, attempt, started)).await,
                },
            };
            let (error, held) = match gate {
                Gate::Go(number) => {
                    emit.attempt_started(attempt);
                    let outcome = Attempt::new(op(), policy.get_timeout()).await;
                    match settle(emit, attempt, outcome) {
                        Ok(value) => {
                            if let Some(budget) = &self.budget {
                                budget.succeeded(spent);
                            }
                            if let Some(throttle) = &self.throttle {
                                throttle.succeeded();
                            }
                            return Ok(value);
                        }
                        Err(error) => {
                            if let Some(throttle) = &self.throttle {
                                throttle.failed(&error, number);
                            }
                            (error, false)
                        }
                    }
                }
                Gate::Held(wait) => {
                    emit.throttled(attempt, wait, ThrottleReason::Paused);
                    (held_back(wait), true)
                }
                Gate::Refused(wait, why) => {
                    emit.gave_up(attempt.saturating_sub(1), why);
                    return Err(self.refund(last, wait));
                }
            };
            let next = verdict(&error, attempt, policy);
            if let Verdict::GiveUp(why) = next {
                emit.gave_up(attempt, why);
                return Err(match held {
                    true => self.refund(last, error.retry_after().unwrap_or_default()),
                    false => error,
                });
            }
            // Advance once per retry, whichever wait is used, so retry n's
            // backoff is always the schedule's item n.
            let backoff = schedule
                .get_or_insert_with(|| {
                    Box::new(policy.schedule(self.streams.seed(), self.streams.next_call()))
                })
                .next_delay();
            let (delay, reason) = match next {
                Verdict::RetryAfter(wait) => (wait, DelayReason::RetryAfter),
                _ => (backoff, DelayReason::Backoff),
            };
            if let (Some(deadline), Some(started)) = (policy.get_retry_deadline(), started) {
                if passes_deadline(started.elapsed(), delay, deadline) {
                    emit.gave_up(attempt, GiveUp::Deadline);
                    return Err(match held {
                        true => self.refund(last, delay),
                        false => error,
                    });
                }
            }
            // Last, so that tokens go only to retries that would happen. A
            // held attempt reached no provider: the retry after it costs
            // nothing more than the one it stands in for.
            let mut cost = 0;
            if let (Some(budget), false) = (&self.budget, held) {
                cost = budget.cost_of(&error);
                if !budget.try_withdraw(cost) {
                    emit.gave_up(attempt, GiveUp::Budget);
                    return Err(error);
                }
                spent = spent.saturating_add(cost);
            }
            if !held {
                emit.delay(attempt, delay, reason);
            }
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            if !held {
                last = Some((error, cost));
            }
            attempt += 1;
        }
    }

    /// The error a call ends with when the throttle stops it before an
    /// attempt: the last attempt's, its retry's budget tokens returned, or
    /// before any attempt a 429 standing for the provider's (the refused
    /// wait as its `Retry-After`).
    fn refund(&self, last: Option<(Error, u64)>, wait: Duration) -> Error {
        let Some((error, cost)) = last else {
            return held_back(wait);
        };
        if let Some(budget) = &self.budget {
            budget.deposit(cost);
        }
        error
    }

    /// Wait at `throttle`'s gate until attempt `attempt` may start; its
    /// number at the gate, or the refused wait and why it was refused.
    async fn wait_turn(
        &self,
        throttle: &Throttle,
        emit: &Emitter<'_>,
        attempt: u32,
        started: Option<Instant>,
    ) -> Gate {
        let mut turn = Turn::default();
        loop {
            let pass = throttle.pass(
                &mut turn,
                |spread, wait| self.wake_offset(spread, wait),
                |reason, asked, wait| self.refusal(reason, asked, wait, started),
            );
            match pass {
                Pass::Go(number) => return Gate::Go(number),
                Pass::Refused(wait, why) => return Gate::Refused(wait, why),
                Pass::Held(wait) => return Gate::Held(wait),
                Pass::Wait(wait, reason) => {
                    emit.throttled(attempt, wait, reason);
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Paused wait `wait`'s wake-up offset in `0..=spread`, from its seeded stream.
    fn wake_offset(&self, spread: Duration, wait: u64) -> Duration {
        if spread.is_zero() {
            return Duration::ZERO;
        }
        let mut rng = wake_rng(self.streams.seed(), wait);
        Duration::from_nanos(uniform_inclusive(&mut rng, 0, saturating_nanos(spread)))
    }

    /// Whether a throttle wait is refused, by the rules of any other wait:
    /// a pause left longer than `max_retry_after` is, and so is a wait
    /// ending past the retry deadline.
    fn refusal(
        &self,
        reason: ThrottleReason,
        asked: Duration,
        wait: Duration,
        started: Option<Instant>,
    ) -> Option<GiveUp> {
        let policy = &self.policy;
        if reason == ThrottleReason::Paused && asked > policy.get_max_retry_after() {
            return Some(GiveUp::RetryAfterTooLong);
        }
        match (policy.get_retry_deadline(), started) {
            (Some(deadline), Some(started))
                if passes_deadline(started.elapsed(), wait, deadline) =>
            {
                Some(GiveUp::Deadline)
            }
            _ => None,
        }
    }
}

/// What the throttle's gate decided for an attempt.
enum Gate {
    /// Go, with the attempt's number at the gate.
    Go(u64),
    /// Answered in the provider's stead with a 429 whose `Retry-After` is this.
    Held(Duration),
    /// Its wait, this long, was refused for this reason.
    Refused(Duration, GiveUp),
}

/// Report how attempt `attempt` ended and turn its outcome into the call's
/// value or the error to judge: an expired timeout becomes [`Error::Timeout`].
#[inline]
fn settle<T>(
    emit: &Emitter<'_>,
    attempt: u32,
    outcome: Result<Result<T, Error>, TimedOut>,
) -> Result<T, Error> {
    match outcome {
        Ok(Ok(value)) => {
            emit.attempt_ended(attempt, Outcome::Ok);
            Ok(value)
        }
        Ok(Err(error)) => {
            emit.attempt_ended(attempt, Outcome::Error(&error));
            Err(error)
        }
        Err(TimedOut) => {
            emit.attempt_ended(attempt, Outcome::TimedOut);
            Err(Error::Timeout)
        }
    }
}
