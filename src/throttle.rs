//! `Throttle`: a provider's rate limits, shared by every call made to it.
//!
//! A [`RetryBudget`](crate::RetryBudget) bounds how many retries callers
//! add; a throttle bounds when any attempt, first or retry, may start, from
//! what the provider said about its limits to any call sharing it.
//!
//! # Semantics
//!
//! Every attempt of a call through a wrapper with a throttle passes the
//! throttle's gate first (after the backoff, for a retry).
//!
//! 1. **Pause.** A transient error carrying a `Retry-After` of `r`, seen by
//!    any call at instant `t`, pauses the throttle until `t + min(r,
//!    max_pause)`, or later if it already was (a pause is only extended;
//!    the `Retry-After` that set its end, capped, is the pause's *ask*).
//!    An attempt reaching the gate before the pause ends is *held*. Its
//!    wait is the rest of the pause plus an offset drawn uniformly from
//!    `0..=spread` from the wrapper's seeded generator, one draw per
//!    wait. A pause ending exactly when an attempt arrives has passed: the
//!    call whose own `Retry-After` set it waited exactly `r` (the
//!    wrapper's rule 4) and goes on at once.
//!    - **Waiting** (the default): a held attempt has not started: it
//!      waits, spends no attempt and no budget token, and then passes the
//!      gate again.
//!    - **Answered** ([`answer_held`](Throttle::answer_held), recommended
//!      for a gateway; see "Why pauses alone, answered"):
//!      the throttle answers a held attempt in the provider's stead, at
//!      once, with the 429 the provider would most likely have sent: body
//!      [`HELD_BACK`], `Retry-After` the wait, but never longer than the
//!      pause's ask (the provider would not have asked for more). The
//!      attempt counts as made: the call's retries, `max_retry_after` and
//!      the deadline treat the answer as a 429 like any other, and a call
//!      whose last attempt it was ends with it (or with its last real
//!      error, if it had one). It reached no provider, so it sets no pause,
//!      cuts no rate, costs no budget token, and the observer sees it as
//!      one `Throttled` wait (reason `Paused`), not as an attempt. A held
//!      attempt thereby costs its call no more time than the provider's 429
//!      would have, and the provider is spared it.
//! 2. **Rate** (off by default; [`adaptive`](Throttle::adaptive) turns it
//!    on). A throttling response (HTTP 429, or 503 with a
//!    `Retry-After`) turns on a send rate: the throttle measures the rate
//!    `m` at which attempts went through its gate since it was made, or since its
//!    last cut or release (elapsed times under a second count as one
//!    second), takes `w = m`, or `min(m, current rate)` if the rate is
//!    already on, sets the rate to `max(min_rate, 0.7 w)` and restarts the
//!    curve `rate(s) = max(min_rate, 0.4 (s - k)^3 + w)`, `k = cbrt(0.75 w)`,
//!    `s` the seconds since this cut. A throttling response to an attempt
//!    that went through the gate before the latest cut does not cut again: the
//!    attempts in flight at a cut all meet the same limit, and one cut
//!    answers them all. While on, each attempt takes a token from a bucket
//!    refilled at the rate, holding at most `max(rate, 1)` tokens and empty
//!    at the first cut; with none left it borrows one and waits until the
//!    refill repays it, so waiting attempts go `1 / rate` apart in the
//!    order they arrived. Each success (of an attempt through the throttle)
//!    sets the rate to the curve's value at that instant; once that value
//!    reaches twice `w`, the rate turns off.
//! 3. **Order.** An attempt first waits out any pause, then takes its
//!    token; if a pause begins while it waits for the token, it waits out
//!    that pause too, keeping its token.
//! 4. **Deadline and limits.** A throttle wait (of a held attempt that
//!    waits, or for a token) is a wait like a backoff:
//!    outside every attempt's timeout, and no wait begins whose end would
//!    pass the `retry_deadline`, counted from the call's start (before its
//!    first gate). A pause whose remaining part is longer than
//!    `max_retry_after` is refused as a `Retry-After` that long would be.
//!    A refused wait ends the call: with the last attempt's error
//!    ([`GiveUp::Deadline`](crate::GiveUp::Deadline) or
//!    [`GiveUp::RetryAfterTooLong`](crate::GiveUp::RetryAfterTooLong));
//!    before any attempt, with a 429 whose `Retry-After` is the refused
//!    wait and whose body is [`HELD_BACK`], so the caller sees what the
//!    provider would most likely have said. A refused wait takes no token,
//!    and the retry it held back gets its budget tokens back.
//! 5. **Observed.** Each wait is reported before it begins, as
//!    [`Event::Throttled`](crate::Event::Throttled) with its
//!    [`ThrottleReason`], and to `tracing`.
//! 6. **Quiet.** Nothing is spawned; dropping a waiting call drops its
//!    wait (a token it borrowed stays spent). With no pause pending and the
//!    rate off, the gate is one atomic add per attempt and one load per success, and reads no clock.
//!
//! # Why this model
//!
//! Four published designs were on the table. gRPC's retry throttling and
//! Envoy's retry budgets bound retries only: that is our
//! [`RetryBudget`](crate::RetryBudget), and it cannot slow first attempts,
//! which are most of what a rate-limited provider receives. The Google SRE
//! book's client-side adaptive throttling rejects requests locally with
//! probability `max(0, (requests - K accepts) / (requests + 1))` over a
//! two-minute window: it answers "how much will the backend accept" well,
//! but it fails calls the provider might have served a second later, and a
//! rejected LLM call is a lost answer, not a cheap fallback; its window also
//! needs per-request clock reads and bucketed counts. The AWS SDKs' adaptive
//! retry mode keeps a token bucket whose fill rate follows CUBIC after
//! throttling errors: attempts *wait* for their turn instead of failing,
//! which is what a `Retry-After` asks, the decrease is immediate and the
//! recovery fast then careful around the rate that drew the cut. We take
//! that, with two changes that make it exact and cheap: the bucket lends
//! ahead (a waiting attempt knows its wait at once, so there is no queue of
//! waiters to wake and no task), and one cut answers the attempts in flight
//! when it happened (the AWS client cuts once per throttling response, so
//! ten concurrent 429s would cut the rate to 3 % of what drew them).
//!
//! # Why pauses alone, answered
//!
//! The `limit` experiment of the simulator (`retry-sim experiment limit
//! --callers 100 --seeds 1000`: a provider allowing 20 attempts per
//! one-second window, answering 429 with a `Retry-After` over it, for 10 s,
//! 100 callers offering 400 calls per second) measured each mode against
//! the default `Retrying` without a throttle (6.41 429s per success, 20.0
//! calls per second, p99 2.2 s, recovered 0.7 s after the limit lifts):
//!
//! | throttle | 429s per success | goodput /s | p99 | recovery |
//! |---|---:|---:|---:|---:|
//! | adaptive rate, held attempts wait | 0.03 | 15.9 | 12.2 s | 8.0 s, 3 % of seeds never |
//! | pauses alone, held attempts wait | 0.05 | 19.0 | 11.6 s | 1.3 s |
//! | pauses alone, held attempts answered | 0.05 | 20.0 | 2.2 s | 0.6 s |
//!
//! The adaptive rate measures the send rate since its last cut to decide
//! the next, and it held that rate below the curve itself, so each cut
//! lands below what the provider accepted; and a token lent ahead fixes its
//! wait when it is taken, so attempts queued during the limit keep waiting
//! after it lifts. Against a provider that states its limit in
//! `Retry-After`, the pauses already carry what the rate would learn. So
//! the rate is off by default ([`adaptive`](Throttle::adaptive) turns it
//! on, for providers that throttle without saying for how long).
//!
//! Waiting for free cannot keep latency: with every call eventually served,
//! N callers at a limit of R calls per second spend N / R seconds per call
//! on average (Little's law; 5 s at 100 callers and 20/s), whatever the
//! order. A wrapper without a throttle keeps its latency by failing the
//! calls that run out of attempts; answering a held attempt as the
//! provider would have keeps that bound and the same share of failed calls
//! (6.6 % against 6.7 %), while the provider is spared the attempts it
//! would have refused.
//!
//! Answering is not the default: a call that ends on a held attempt's
//! answer has reached the provider fewer times than its retries allow,
//! which a caller counting on every call's eventual success would not
//! expect. Turn it on where latency matters more than that.
//!
//! # When not to use it
//!
//! Give one throttle to the wrappers that share one provider's limit (one
//! account, one key, one region), not to unrelated providers: a 429 from
//! one would pause the others.

pub(crate) mod pause;
pub(crate) mod rate;

use crabllm_core::Error;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

use self::rate::{Bucket, Cubic};
use crate::observe::ThrottleReason;

/// Default spread of paused attempts' wake-ups after a pause ends.
/// `Retry-After` is given in whole seconds, so the provider cannot have
/// meant an instant finer than a second; spreading the return over that
/// second keeps the herd from arriving in the instant the pause ends.
pub const DEFAULT_SPREAD: Duration = Duration::from_secs(1);
/// Default longest pause one `Retry-After` may impose on every call:
/// the wrapper's default `max_retry_after`, so a pause no call would wait
/// for itself does not hold the others longer.
pub const DEFAULT_MAX_PAUSE: Duration = Duration::from_secs(60);
/// Default lowest send rate, attempts per second: the AWS SDKs' minimum fill
/// rate. One attempt every two seconds keeps learning whether the provider
/// recovered.
pub const DEFAULT_MIN_RATE: f64 = 0.5;
/// The rate turns off once the curve reaches this multiple of the rate that
/// drew the last cut: the provider has then taken twice the load it last
/// refused.
pub const RELEASE: f64 = 2.0;
/// The body of the 429 a call receives when the throttle refuses its first
/// attempt's wait (semantics 4).
pub const HELD_BACK: &str =
    "held back by the shared throttle: the provider asked all calls to wait";

/// The top bit of the gate word: set while a pause is pending or the rate
/// is on. The other 63 bits count attempts that went through the gate (2^63
/// attempts take centuries at any real rate, so they never reach the flag).
const LIMITING: u64 = 1 << 63;

/// A provider's rate limits, shared by every clone and every wrapper it is
/// given to (see the [module docs](self) for the exact semantics).
///
/// Cheap to clone (one `Arc`) and thread-safe: the common case, nothing
/// limited, is one atomic add per attempt; a pause or a rate takes a lock
/// held for a few arithmetic operations, never across a wait.
///
/// # Default
///
/// Wake-ups spread over [`DEFAULT_SPREAD`] (1 s), pauses capped at
/// [`DEFAULT_MAX_PAUSE`] (60 s), held attempts waiting, the adaptive rate
/// off (when on, never below [`DEFAULT_MIN_RATE`], 0.5 attempts per
/// second). The module's "Why pauses alone, answered" gives the numbers
/// behind the last two.
///
/// # Examples
///
/// ```
/// use provider_retry::{Retrying, Throttle};
/// use std::time::Duration;
/// # #[derive(Clone)] struct Echo;
/// # impl crabllm_core::Provider for Echo {
/// #   async fn chat_completion(&self, _: &crabllm_core::ChatCompletionRequest) -> Result<crabllm_core::ChatCompletionResponse, crabllm_core::Error> { Ok(Default::default()) }
/// #   async fn chat_completion_stream(&self, _: &crabllm_core::ChatCompletionRequest) -> Result<crabllm_core::BoxStream<'static, Result<crabllm_core::ChatCompletionChunk, crabllm_core::Error>>, crabllm_core::Error> { unimplemented!() }
/// #   async fn anthropic_messages(&self, _: &crabllm_core::anthropic::Request) -> Result<crabllm_core::anthropic::Response, crabllm_core::Error> { unimplemented!() }
/// #   async fn anthropic_messages_stream(&self, _: &crabllm_core::anthropic::Request) -> Result<crabllm_core::BoxStream<'static, Result<crabllm_core::anthropic::StreamEvent, crabllm_core::Error>>, crabllm_core::Error> { unimplemented!() }
/// #   async fn gemini_generate_content_stream(&self, _: &str, _: &crabllm_core::gemini::Request) -> Result<crabllm_core::BoxStream<'static, Result<crabllm_core::gemini::Response, crabllm_core::Error>>, crabllm_core::Error> { unimplemented!() }
/// # }
/// // One throttle per account, handed to every wrapper that calls it.
/// let account = Throttle::new().spread(Duration::from_millis(500));
/// let chat = Retrying::new(Echo).throttle(account.clone());
/// let batch = Retrying::new(Echo).max_retries(5).throttle(account.clone());
/// assert!(chat.get_throttle().is_some_and(|t| t.shares_with(&account)));
/// assert!(batch.get_throttle().is_some_and(|t| t.get_rate().is_none()), "no limit yet");
/// ```
#[derive(Clone)]
pub struct Throttle {
    shared: Arc<Shared>,
}

struct Shared {
    /// [`LIMITING`] and the count of attempts that went through the gate.
    gate: AtomicU64,
    /// Instants are kept as durations since this one.
    origin: Instant,
    config: Config,
    state: Mutex<State>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Config {
    spread: Duration,
    max_pause: Duration,
    min_rate: f64,
    adaptive: bool,
    answer_held: bool,
}

/// Everything behind the lock; the gate word's flag says whether any of it limits.
#[derive(Debug)]
struct State {
    paused_until: Option<Duration>,
    /// The `Retry-After` (capped) that set the pause's end: an answered
    /// hold waits no longer than the provider asked when it set it.
    pause_asked: Duration,
    /// Paused waits so far: wait `w` draws its offset from stream `w`, so
    /// wrappers sharing the throttle and a seed still draw apart.
    waits: u64,
    limit: Option<Limit>,
    /// Where the send rate's measurement starts: an instant and the gate count then.
    measured_from: (Duration, u64),
}

/// The send rate while it is on.
#[derive(Debug, Clone, Copy)]
struct Limit {
    curve: Cubic,
    cut_at: Duration,
    /// Attempts numbered below this went through the gate before the cut.
    cut_count: u64,
    rate: f64,
    bucket: Bucket,
}

/// What the gate says to an attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pass {
    /// Go; the attempt's number at the gate (see [`Throttle::failed`]).
    Go(u64),
    /// Wait this long, then ask again.
    Wait(Duration, ThrottleReason),
    /// The wait this long was refused, for this reason.
    Refused(Duration, crate::GiveUp),
    /// A pause holds the attempt, and the throttle answers for the
    /// provider: the attempt counts as sent and refused with a 429 whose
    /// `Retry-After` is this wait.
    Held(Duration),
}

/// An attempt's place at the gate while it waits.
#[derive(Debug, Default)]
pub(crate) struct Turn {
    /// Whether the count [`Throttle::admit`] added was taken back: an
    /// attempt is counted when it goes, not when it arrives.
    uncounted: bool,
    /// Whether it has its rate token.
    token: bool,
}

impl Default for Throttle {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Throttle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = self.shared.config;
        f.debug_struct("Throttle")
            .field("spread", &c.spread)
            .field("max_pause", &c.max_pause)
            .field("min_rate", &c.min_rate)
            .field("adaptive", &c.adaptive)
            .field("answer_held", &c.answer_held)
            .field("rate", &self.get_rate())
            .finish()
    }
}

impl Throttle {
    /// A throttle with nothing limited and the default settings.
    pub fn new() -> Self {
        Self::build(Config {
            spread: DEFAULT_SPREAD,
            max_pause: DEFAULT_MAX_PAUSE,
            min_rate: DEFAULT_MIN_RATE,
            adaptive: false,
            answer_held: false,
        })
    }

    fn build(config: Config) -> Self {
        Self {
            shared: Arc::new(Shared {
                gate: AtomicU64::new(0),
                origin: Instant::now(),
                config,
                state: Mutex::new(State {
                    paused_until: None,
                    pause_asked: Duration::ZERO,
                    waits: 0,
                    limit: None,
                    measured_from: (Duration::ZERO, 0),
                }),
            }),
        }
    }

    fn rebuild(&self, f: impl FnOnce(&mut Config)) -> Self {
        let mut config = self.shared.config;
        f(&mut config);
        Self::build(config)
    }

    /// Spread paused attempts' wake-ups uniformly over `spread` after the
    /// pause ends; zero wakes them all as it ends. Like every setter, this
    /// returns a new throttle: set it up before handing clones out.
    pub fn spread(&self, spread: Duration) -> Self {
        self.rebuild(|c| c.spread = spread)
    }

    /// The longest pause one `Retry-After` imposes on every call.
    pub fn max_pause(&self, max_pause: Duration) -> Self {
        self.rebuild(|c| c.max_pause = max_pause)
    }

    /// The lowest send rate, in attempts per second. Zero, negative and NaN
    /// rates count as the smallest positive `f64` (about one attempt per
    /// 10^300 s: in effect, none until the rate recovers).
    pub fn min_rate(&self, per_second: f64) -> Self {
        self.rebuild(|c| c.min_rate = rate::sane(per_second, f64::MIN_POSITIVE))
    }

    /// Whether throttling responses turn on a send rate (`true`) or only
    /// `Retry-After` pauses apply (`false`, the default).
    pub fn adaptive(&self, on: bool) -> Self {
        self.rebuild(|c| c.adaptive = on)
    }

    /// Whether an attempt a pause holds is answered at once, in the
    /// provider's stead, with the 429 it would most likely send, spending
    /// one of the call's attempts (`true`), or waits for free (`false`, the
    /// default): semantics 1.
    pub fn answer_held(&self, on: bool) -> Self {
        self.rebuild(|c| c.answer_held = on)
    }

    /// The spread of wake-ups after a pause.
    pub fn get_spread(&self) -> Duration {
        self.shared.config.spread
    }

    /// The longest pause.
    pub fn get_max_pause(&self) -> Duration {
        self.shared.config.max_pause
    }

    /// The lowest send rate, attempts per second.
    pub fn get_min_rate(&self) -> f64 {
        self.shared.config.min_rate
    }

    /// Whether the send rate is adaptive.
    pub fn get_adaptive(&self) -> bool {
        self.shared.config.adaptive
    }

    /// Whether held attempts are answered in the provider's stead.
    pub fn get_answer_held(&self) -> bool {
        self.shared.config.answer_held
    }

    /// The send rate in force, attempts per second; `None` while it is off.
    pub fn get_rate(&self) -> Option<f64> {
        self.lock().limit.map(|l| l.rate)
    }

    /// When the pause ends, if one is pending.
    pub fn get_paused_until(&self) -> Option<Instant> {
        let until = self.lock().paused_until?;
        pause::remaining(Some(until), self.now())?;
        Some(self.shared.origin + until)
    }

    /// Whether `self` and `other` are the same throttle.
    pub fn shares_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while the lock is held; should anything ever, the
        // state is still whole (each update is a few assignments).
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn now(&self) -> Duration {
        Instant::now().saturating_duration_since(self.shared.origin)
    }

    /// The fast path: count the attempt and, if nothing limits, let it go
    /// with its number (the count before it). Otherwise the slow path,
    /// [`pass`](Self::pass), takes the count back until the attempt goes. Relaxed: the count orders no other memory, and an
    /// attempt racing the very response that starts a limit goes as if it
    /// had arrived a moment earlier.
    #[inline]
    pub(crate) fn admit(&self) -> Option<u64> {
        let before = self.shared.gate.fetch_add(1, Ordering::Relaxed);
        (before & LIMITING == 0).then_some(before & !LIMITING)
    }

    /// The slow path, once [`admit`](Self::admit) found a limit: go, wait,
    /// or (when `refuse` says so, given the reason, the pause left or the
    /// wait, and the whole wait) give up. `offset(spread, w)` draws paused
    /// wait `w`'s wake-up offset in `0..=spread`. A token is taken only for a wait that is not refused.
    pub(crate) fn pass(
        &self,
        turn: &mut Turn,
        offset: impl FnOnce(Duration, u64) -> Duration,
        refuse: impl Fn(ThrottleReason, Duration, Duration) -> Option<crate::GiveUp>,
    ) -> Pass {
        // The clock is read under the lock, so instants reach the state in order.
        let mut state = self.lock();
        let now = self.now();
        if !turn.uncounted {
            // Take back the count `admit` added (it cannot borrow from the
            // flag: the add made the count at least 1).
            self.shared.gate.fetch_sub(1, Ordering::Relaxed);
            turn.uncounted = true;
        }
        if let Some(left) = pause::remaining(state.paused_until, now) {
            let drawn = offset(self.shared.config.spread, state.waits);
            state.waits = state.waits.wrapping_add(1);
            let wait = pause::wake_after(left, drawn);
            if self.shared.config.answer_held && !turn.token {
                return Pass::Held(pause::answered(left, drawn, state.pause_asked));
            }
            return match refuse(ThrottleReason::Paused, left, wait) {
                Some(why) => Pass::Refused(wait, why),
                None => Pass::Wait(wait, ThrottleReason::Paused),
            };
        }
        if let (Some(limit), false) = (state.limit.as_mut(), turn.token) {
            let wait = limit.bucket.wait_at(now, limit.rate);
            if !wait.is_zero() {
                if let Some(why) = refuse(ThrottleReason::Rate, wait, wait) {
                    return Pass::Refused(wait, why);
                }
            }
            limit.bucket.take(now, limit.rate);
            turn.token = true;
            if !wait.is_zero() {
                return Pass::Wait(wait, ThrottleReason::Rate);
            }
        }
        self.settle_flag(&mut state, now);
        Pass::Go(self.count())
    }

    fn count(&self) -> u64 {
        self.shared.gate.fetch_add(1, Ordering::Relaxed) & !LIMITING
    }

    /// An attempt through the throttle succeeded: recover the rate.
    #[inline]
    pub(crate) fn succeeded(&self) {
        if self.shared.gate.load(Ordering::Relaxed) & LIMITING != 0 {
            self.recover();
        }
    }

    #[cold]
    fn recover(&self) {
        let mut state = self.lock();
        let now = self.now();
        if let Some(limit) = state.limit.as_mut() {
            let rate = limit.curve.rate_at(
                now.saturating_sub(limit.cut_at),
                self.shared.config.min_rate,
            );
            if rate >= RELEASE * limit.curve.w_max() {
                state.limit = None;
                state.measured_from = (now, self.gate_count());
            } else {
                limit.bucket.settle(now, limit.rate);
                limit.rate = rate;
            }
        }
        self.settle_flag(&mut state, now);
    }

    /// Attempt number `number` failed with `error`: pause on its
    /// `Retry-After`, cut the rate if it is a throttling response.
    #[inline]
    pub(crate) fn failed(&self, error: &Error, number: u64) {
        if error.retry_after().is_some() || throttling(error) {
            self.learn(error, number);
        }
    }

    #[cold]
    fn learn(&self, error: &Error, number: u64) {
        let config = self.shared.config;
        let mut state = self.lock();
        let now = self.now();
        if let Some(asked) = error.retry_after().filter(|_| error.is_transient()) {
            let until = pause::extend(state.paused_until, now, asked, config.max_pause);
            if state.paused_until != Some(until) {
                state.pause_asked = asked.min(config.max_pause);
            }
            state.paused_until = Some(until);
        }
        let stale = state.limit.is_some_and(|l| number < l.cut_count);
        if config.adaptive && throttling(error) && !stale {
            self.cut(&mut state, now);
        }
        self.settle_flag(&mut state, now);
    }

    /// Multiplicative decrease, and a fresh curve from the measured rate.
    fn cut(&self, state: &mut State, now: Duration) {
        let count = self.gate_count();
        let (since, counted) = state.measured_from;
        let mut w = rate::measured(count.saturating_sub(counted), now.saturating_sub(since));
        if let Some(limit) = state.limit {
            w = w.min(limit.rate);
        }
        let curve = Cubic::after_cut(w);
        // The curve's value at the cut, computed directly so that it is exact.
        let rate = rate::sane(rate::BETA * w, self.shared.config.min_rate);
        let bucket = match state.limit {
            Some(mut limit) => {
                limit.bucket.settle(now, limit.rate);
                limit.bucket
            }
            None => Bucket::empty(now),
        };
        state.limit = Some(Limit {
            curve,
            cut_at: now,
            cut_count: count,
            rate,
            bucket,
        });
        state.measured_from = (now, count);
    }

    fn gate_count(&self) -> u64 {
        self.shared.gate.load(Ordering::Relaxed) & !LIMITING
    }

    /// Make the gate word's flag say whether anything limits now. Under
    /// the lock, so flag and state change together.
    fn settle_flag(&self, state: &mut MutexGuard<'_, State>, now: Duration) {
        if pause::remaining(state.paused_until, now).is_none() {
            state.paused_until = None;
        }
        let limiting = state.paused_until.is_some() || state.limit.is_some();
        let gate = &self.shared.gate;
        match limiting {
            true => gate.fetch_or(LIMITING, Ordering::Relaxed),
            false => gate.fetch_and(!LIMITING, Ordering::Relaxed),
        };
    }
}

/// A response that says the provider is limiting us: 429, or 503 with a
/// `Retry-After` (a 503 without one is as likely an outage as a limit).
pub(crate) fn throttling(error: &Error) -> bool {
    match error {
        Error::Provider { status: 429, .. } => true,
        Error::Provider {
            status: 503,
            retry_after,
            ..
        } => retry_after.is_some(),
        _ => false,
    }
}

/// The error a call gets when its first attempt's wait is refused.
pub(crate) fn held_back(wait: Duration) -> Error {
    Error::Provider {
        status: 429,
        body: HELD_BACK.into(),
        retry_after: Some(wait),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GiveUp;

    fn status(status: u16, retry_after: Option<Duration>) -> Error {
        Error::Provider {
            status,
            body: String::new(),
            retry_after,
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// The adaptive rate on, held attempts waiting for their token.
    fn rate_on() -> Throttle {
        Throttle::new().adaptive(true).answer_held(false)
    }

    /// Pass with a fixed offset and no refusal.
    fn pass(t: &Throttle, turn: &mut Turn, offset: Duration) -> Pass {
        t.pass(turn, |_, _| offset, |_, _, _| None)
    }

    #[tokio::test(start_paused = true)]
    async fn a_calm_throttle_admits_at_once_and_numbers_attempts() {
        let t = Throttle::new();
        assert_eq!((t.admit(), t.admit()), (Some(0), Some(1)));
        t.succeeded();
        t.failed(&status(500, None), 0);
        assert_eq!(
            t.admit(),
            Some(2),
            "a 500 without Retry-After limits nothing"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_attempts_then_clears_the_flag() {
        let t = Throttle::new().answer_held(false);
        t.failed(&status(500, Some(ms(2_000))), 0);
        assert_eq!(t.admit(), None);
        let mut turn = Turn::default();
        assert_eq!(
            pass(&t, &mut turn, ms(250)),
            Pass::Wait(ms(2_250), ThrottleReason::Paused)
        );
        tokio::time::sleep(ms(2_250)).await;
        assert_eq!(
            pass(&t, &mut turn, ms(250)),
            Pass::Go(0),
            "counted once, when it went"
        );
        assert_eq!(t.admit(), Some(1), "the pause is over and the flag clear");
    }

    #[tokio::test(start_paused = true)]
    async fn offsets_come_from_consecutive_wait_numbers() {
        let t = Throttle::new().answer_held(false).spread(ms(10));
        t.failed(&status(429, Some(ms(1_000))), 0);
        let mut seen = Vec::new();
        for _ in 0..3 {
            let mut turn = Turn::default();
            let _ = t.admit();
            t.pass(
                &mut turn,
                |spread, w| {
                    seen.push((spread, w));
                    Duration::ZERO
                },
                |_, _, _| None,
            );
        }
        assert_eq!(seen, [(ms(10), 0), (ms(10), 1), (ms(10), 2)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_wait_takes_no_token() {
        let t = rate_on();
        let _ = t.admit();
        t.failed(&status(429, None), 0);
        assert_eq!(t.get_rate(), Some(0.7));
        let mut turn = Turn::default();
        let _ = t.admit();
        let refused = t.pass(
            &mut turn,
            |_, _| Duration::ZERO,
            |_, _, _| Some(GiveUp::Deadline),
        );
        assert!(matches!(refused, Pass::Refused(_, GiveUp::Deadline)));
        assert!(!turn.token);
        let wait = Duration::from_secs_f64(1.0 / 0.7);
        let mut again = Turn::default();
        let _ = t.admit();
        assert_eq!(
            pass(&t, &mut again, Duration::ZERO),
            Pass::Wait(wait, ThrottleReason::Rate),
            "the bucket is as empty as before the refusal"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stale_throttling_response_does_not_cut_again() {
        let t = rate_on();
        let numbers: Vec<u64> = (0..4).filter_map(|_| t.admit()).collect();
        assert_eq!(numbers, [0, 1, 2, 3]);
        t.failed(&status(429, None), 0);
        let rate = t.get_rate();
        assert_eq!(rate, Some(0.7 * 4.0));
        for n in 1..4 {
            t.failed(&status(429, None), n);
        }
        assert_eq!(t.get_rate(), rate);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fresh_throttling_response_cuts_from_the_lower_rate() {
        let t = rate_on().min_rate(0.1);
        let _ = t.admit();
        t.failed(&status(429, None), 0);
        assert_eq!(t.get_rate(), Some(0.7));
        let mut turn = Turn::default();
        let _ = t.admit();
        let Pass::Wait(wait, _) = pass(&t, &mut turn, Duration::ZERO) else {
            panic!("an empty bucket makes the attempt wait");
        };
        tokio::time::sleep(wait).await;
        let Pass::Go(number) = pass(&t, &mut turn, Duration::ZERO) else {
            panic!("its token is held");
        };
        assert_eq!(number, 1);
        t.failed(&status(429, None), number);
        // One attempt since the cut, over 1.429 s (the paused clock rounds
        // the 1.4286 s wait up to whole milliseconds): 1 / 1.429 = 0.6998/s
        // measured, below the 0.7/s rate, so the cut is from it: 0.4898.
        let rate = t.get_rate().unwrap();
        assert!((rate - 0.7 / 1.429).abs() < 1e-9, "{rate}");
    }

    #[tokio::test(start_paused = true)]
    async fn successes_raise_the_rate_along_the_curve_until_it_turns_off() {
        let t = rate_on();
        for _ in 0..10 {
            let _ = t.admit();
        }
        t.failed(&status(429, None), 0);
        assert_eq!(t.get_rate(), Some(7.0));
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.succeeded();
        let one = t.get_rate().unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await;
        t.succeeded();
        let four = t.get_rate().unwrap();
        // 0.4 (4 - 1.957)^3 + 10 = 13.4/s: past 10 + 2, short of 2 * 10.
        assert!(7.0 < one && one < four && four > 13.0, "{one} {four}");
        // 2 w_max = 20/s: k = cbrt(7.5) = 1.957 s, plus cbrt(10 / 0.4) =
        // 2.924 s: off from about 4.88 s after the cut.
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.succeeded();
        assert_eq!(t.get_rate(), None);
        assert!(t.admit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_rate_applies_from_its_change_on() {
        let t = rate_on();
        for _ in 0..10 {
            let _ = t.admit();
        }
        t.failed(&status(429, None), 0);
        for _ in 0..11 {
            let mut turn = Turn::default();
            let _ = t.admit();
            let _ = pass(&t, &mut turn, Duration::ZERO);
        }
        // 11 tokens lent at 7/s; one second later 7 are repaid, and the
        // rate rises to 0.4 (1 - 1.957)^3 + 10 = 9.65/s from then on.
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.succeeded();
        let rate = t.get_rate().unwrap();
        let mut turn = Turn::default();
        let _ = t.admit();
        let Pass::Wait(wait, ThrottleReason::Rate) = pass(&t, &mut turn, Duration::ZERO) else {
            panic!("still in debt");
        };
        let expected = (1.0 + 4.0) / rate;
        assert!(
            (wait.as_secs_f64() - expected).abs() < 1e-6,
            "{wait:?} {expected}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_retry_after_on_a_non_throttling_error_pauses_but_sets_no_rate() {
        let t = Throttle::new();
        t.failed(&status(500, Some(ms(1_000))), 0);
        assert_eq!(t.get_rate(), None);
        assert!(t.get_paused_until().is_some());
        let other = Throttle::new();
        other.failed(&status(400, Some(ms(1_000))), 0);
        assert_eq!(other.get_paused_until(), None, "not transient: no pause");
        assert!(other.admit().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn without_adaptation_a_429_only_pauses() {
        let t = rate_on().adaptive(false);
        t.failed(&status(429, None), 0);
        assert_eq!(t.get_rate(), None);
        assert!(t.admit().is_some());
    }

    #[test]
    fn throttling_is_429_or_503_with_retry_after() {
        assert!(throttling(&status(429, None)));
        assert!(throttling(&status(503, Some(ms(1)))));
        assert!(!throttling(&status(503, None)));
        assert!(!throttling(&status(500, Some(ms(1)))));
        assert!(!throttling(&Error::Timeout));
    }

    #[tokio::test(start_paused = true)]
    async fn setters_make_a_new_throttle_and_debug_shows_the_settings() {
        let t = Throttle::new()
            .spread(ms(5))
            .max_pause(ms(6))
            .min_rate(2.0)
            .adaptive(true)
            .answer_held(true);
        assert_eq!(
            (
                t.get_spread(),
                t.get_max_pause(),
                t.get_min_rate(),
                t.get_adaptive(),
                t.get_answer_held()
            ),
            (ms(5), ms(6), 2.0, true, true)
        );
        assert!(!t.shares_with(&Throttle::default()));
        assert!(!Throttle::new().get_adaptive(), "pauses alone by default");
        assert!(
            !Throttle::new().get_answer_held(),
            "held attempts wait by default"
        );
        assert_eq!(
            format!("{t:?}"),
            "Throttle { spread: 5ms, max_pause: 6ms, min_rate: 2.0, adaptive: true, answer_held: true, rate: None }"
        );
        assert_eq!(
            Throttle::new().min_rate(f64::NAN).get_min_rate(),
            f64::MIN_POSITIVE
        );
    }

    /// Why the rate is off by default (see "Why pauses alone"): a token
    /// lent ahead fixes its wait, so attempts queued at a cut rate keep
    /// their waits however well the provider answers afterwards; and a cut
    /// measures the send rate since the last one, which the throttle itself
    /// held below the curve, so each cut lands below what the provider
    /// accepted.
    #[tokio::test(start_paused = true)]
    async fn the_adaptive_rate_keeps_its_queue_and_cuts_below_the_accepted_rate() {
        let t = rate_on();
        let start = Instant::now();
        let numbers: Vec<u64> = (0..20).filter_map(|_| t.admit()).collect();
        t.failed(&status(429, None), numbers[19]);
        assert_eq!(t.get_rate(), Some(14.0), "20/s accepted, cut to 0.7 of it");
        // 40 attempts arrive at once and borrow tokens at 14/s.
        let mut queued = Vec::new();
        for _ in 0..40 {
            let mut turn = Turn::default();
            let _ = t.admit();
            let Pass::Wait(wait, ThrottleReason::Rate) = pass(&t, &mut turn, Duration::ZERO) else {
                panic!("an empty bucket lends");
            };
            queued.push((wait, turn));
        }
        // Each goes when its loan is repaid and succeeds: the rate climbs ...
        let mut number = 0;
        for (wait, turn) in &mut queued {
            tokio::time::sleep_until(start + *wait).await;
            let Pass::Go(n) = pass(&t, turn, Duration::ZERO) else {
                panic!("its token is held");
            };
            number = n;
            t.succeeded();
        }
        // ... to 0.4 (2.857 - 2.466)^3 + 20 = 20.02/s by the last, yet the
        // last waited its loan at 14/s: 40 / 14 = 2.857 s.
        assert!(t.get_rate().is_some_and(|r| r > 20.0), "{:?}", t.get_rate());
        let last = queued[39].0.as_secs_f64();
        assert!((last - 40.0 / 14.0).abs() < 1e-6, "{last}");
        // A throttling response now measures 40 attempts over 2.857 s,
        // 14/s, and cuts to 0.7 of that: 9.8/s, half the 20/s the provider
        // accepted before the first cut.
        t.failed(&status(429, None), number);
        let rate = t.get_rate().unwrap();
        let measured = 40.0 / start.elapsed().as_secs_f64();
        assert!(
            (rate - 0.7 * measured).abs() < 1e-9 && rate < 10.0,
            "{rate}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_answering_throttle_answers_held_attempts_within_what_was_asked() {
        let t = Throttle::new().answer_held(true);
        // An attempt at the gate, as the wrapper brings it: admitted, then passed.
        let arrive = |offset| {
            assert_eq!(t.admit(), None, "limited");
            pass(&t, &mut Turn::default(), offset)
        };
        t.failed(&status(429, Some(ms(1_000))), 0);
        assert_eq!(
            arrive(ms(250)),
            Pass::Held(ms(1_000)),
            "held as the pause began: the 1 s asked, not 1.25 s"
        );
        tokio::time::sleep(ms(600)).await;
        assert_eq!(arrive(ms(250)), Pass::Held(ms(650)));
        // A shorter Retry-After leaves the pause and what set it alone.
        t.failed(&status(429, Some(ms(100))), 1);
        assert_eq!(arrive(ms(900)), Pass::Held(ms(1_000)));
        // A longer one sets both.
        t.failed(&status(429, Some(ms(2_000))), 2);
        assert_eq!(arrive(ms(900)), Pass::Held(ms(2_000)));
        tokio::time::sleep(ms(2_000)).await;
        assert_eq!(arrive(ms(900)), Pass::Go(0), "nothing held was counted");
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_is_capped_at_max_pause() {
        let t = Throttle::new().max_pause(ms(100));
        let now = Instant::now();
        t.failed(&status(429, Some(Duration::from_secs(3_600))), 0);
        assert_eq!(t.get_paused_until(), Some(now + ms(100)));
    }
}
