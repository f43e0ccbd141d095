//! The knobs: a plain `Copy` value with named defaults.

use crate::schedule::{Jitter, Schedule};
use crabllm_core::ProviderConfig;
use std::time::Duration;

/// Retries after the first attempt: the seed wrapper's and crabllm's default,
/// and the OpenAI and Anthropic SDKs' too. Three attempts in all keeps the
/// worst-case load growth of an outage at 3x.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// Per-attempt timeout: long enough for a slow non-streaming completion, short
/// enough that a dropped connection (which never answers) is noticed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// First backoff, doubled on each retry (the seed wrapper's value).
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Cap on any backoff, after jitter. The AWS SDKs' standard-mode cap; with the
/// defaults it is only reached past the eighth retry.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(20);
/// Jitter kind: equal jitter, uniform in `[b/2, b]`, as the seed wrapper drew.
pub const DEFAULT_JITTER: Jitter = Jitter::Equal;
/// Longest `Retry-After` honoured; longer ones are returned to the caller at
/// once. Matches the OpenAI Node SDK's 60 s.
pub const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Longest silence allowed between two chunks of an open stream, after the
/// first: a model that has started answering emits tokens many times a
/// second, so 90 s of silence mid-answer is a stall, not thought.
pub const DEFAULT_STREAM_IDLE: Duration = Duration::from_secs(90);
/// Longest silence allowed from a stream's hand-over to its first item.
///
/// Reasoning models send nothing while they think: users report 60 to 120 s
/// before the first token on cold prompts for extended-thinking models. 300 s
/// lets such a call through with more than twice that margin, while a stream
/// that never starts still frees its connection (and the gateway's slot)
/// within five minutes; the openai Python SDK, which bounds each read by its
/// 600 s request timeout, waits twice as long for the same stall.
pub const DEFAULT_FIRST_CHUNK: Duration = Duration::from_secs(300);
/// `from_config` defaults, as `ProviderConfig` documents them.
pub const CONFIG_DEFAULT_TIMEOUT_SECS: u64 = 30;
/// `from_config` default retry deadline, as `ProviderConfig` documents it.
pub const CONFIG_DEFAULT_RETRY_DEADLINE_SECS: u64 = 15;

/// How a [`Retrying`](crate::Retrying) retries: counts, timeouts and the backoff schedule.
///
/// A plain value with `const fn` setters, so a policy can be a `const` and is
/// cheap to copy into every wrapper.
///
/// # Default
///
/// | knob | default | meaning |
/// |---|---|---|
/// | `max_retries` | 2 ([`DEFAULT_MAX_RETRIES`]) | retries after the first attempt |
/// | `timeout` | 30 s ([`DEFAULT_TIMEOUT`]) | per attempt; zero disables |
/// | `initial_backoff` | 100 ms ([`DEFAULT_INITIAL_BACKOFF`]) | backoff before retry 0, doubling after |
/// | `max_backoff` | 20 s ([`DEFAULT_MAX_BACKOFF`]) | cap on every delay, after jitter |
/// | `jitter` | [`Jitter::Equal`] ([`DEFAULT_JITTER`]) | uniform in `[b/2, b]` |
/// | `max_retry_after` | 60 s ([`DEFAULT_MAX_RETRY_AFTER`]) | longest `Retry-After` honoured |
/// | `first_chunk` | 300 s ([`DEFAULT_FIRST_CHUNK`]) | longest wait from a stream's hand-over to its first item; zero disables |
/// | `stream_idle` | 90 s ([`DEFAULT_STREAM_IDLE`]) | longest gap between two items, after the first; zero disables |
/// | `retry_deadline` | none | no backoff may end later than this after the first attempt began |
///
/// # Saturation
///
/// No setting panics. Delays are computed in `u64` nanoseconds, so any
/// duration above `u64::MAX` ns (about 584 years) counts as `u64::MAX` ns;
/// a timeout or idle bound too far away to be a clock instant never fires;
/// `u32::MAX` retries is allowed and simply never runs out.
///
/// # Examples
///
/// ```
/// use provider_retry::{Jitter, RetryPolicy};
/// use std::time::Duration;
///
/// const FAST: RetryPolicy = RetryPolicy::new()
///     .max_retries(4)
///     .initial_backoff(Duration::from_millis(10))
///     .jitter(Jitter::Full);
/// assert_eq!(FAST.get_max_retries(), 4);
/// assert_eq!(RetryPolicy::default().get_timeout(), Duration::from_secs(30));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_retries: u32,
    timeout: Duration,
    initial_backoff: Duration,
    max_backoff: Duration,
    jitter: Jitter,
    max_retry_after: Duration,
    first_chunk: Duration,
    stream_idle: Duration,
    retry_deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryPolicy {
    /// The default policy (see the table above).
    pub const fn new() -> Self {
        Self {
            max_retries: DEFAULT_MAX_RETRIES,
            timeout: DEFAULT_TIMEOUT,
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            jitter: DEFAULT_JITTER,
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            first_chunk: DEFAULT_FIRST_CHUNK,
            stream_idle: DEFAULT_STREAM_IDLE,
            retry_deadline: None,
        }
    }

    /// The policy a crabllm `ProviderConfig` asks for.
    ///
    /// Reads `max_retries` (default 2), `timeout` in seconds (default 30;
    /// 0 disables it) and `retry_deadline` in seconds (default 15), the
    /// defaults `ProviderConfig` documents. Every other knob keeps its default.
    ///
    /// # Examples
    ///
    /// ```
    /// use crabllm_core::ProviderConfig;
    /// use provider_retry::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let p = RetryPolicy::from_config(&ProviderConfig::default());
    /// assert_eq!(p.get_retry_deadline(), Some(Duration::from_secs(15)));
    /// ```
    pub fn from_config(config: &ProviderConfig) -> Self {
        let secs = |v: Option<u64>, default| Duration::from_secs(v.unwrap_or(default));
        Self::new()
            .max_retries(config.max_retries.unwrap_or(DEFAULT_MAX_RETRIES))
            .timeout(secs(config.timeout, CONFIG_DEFAULT_TIMEOUT_SECS))
            .retry_deadline(Some(secs(
                config.retry_deadline,
                CONFIG_DEFAULT_RETRY_DEADLINE_SECS,
            )))
    }

    /// Retries after the first attempt; 0 makes every call a single attempt.
    pub const fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Bound on each attempt (for streams: on opening them). Zero disables it.
    /// An expired attempt counts as [`Error::Timeout`](crabllm_core::Error::Timeout), which is retried.
    pub const fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// The backoff before the first retry; each later retry doubles it.
    pub const fn initial_backoff(mut self, d: Duration) -> Self {
        self.initial_backoff = d;
        self
    }

    /// The cap on every backoff delay, applied after jitter.
    pub const fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d;
        self
    }

    /// How the backoff is randomised (see [`Jitter`]).
    pub const fn jitter(mut self, j: Jitter) -> Self {
        self.jitter = j;
        self
    }

    /// Longest `Retry-After` to wait for; a longer one ends the call at once.
    pub const fn max_retry_after(mut self, d: Duration) -> Self {
        self.max_retry_after = d;
        self
    }

    /// Longest wait from a stream's hand-over to its first item. Zero disables it.
    ///
    /// Expiry ends the stream with [`Error::Timeout`](crabllm_core::Error::Timeout)
    /// (an I/O `TimedOut` error for raw byte streams); nothing is retried.
    /// Set it apart from [`stream_idle`](Self::stream_idle) because a
    /// reasoning model may be silent for minutes before its first token and
    /// then stream quickly.
    ///
    /// # Examples
    ///
    /// ```
    /// use provider_retry::RetryPolicy;
    /// use std::time::Duration;
    ///
    /// let p = RetryPolicy::new().first_chunk(Duration::from_secs(600));
    /// assert_eq!(p.get_first_chunk(), Duration::from_secs(600));
    /// assert_eq!(p.get_stream_idle(), Duration::from_secs(90));
    /// ```
    pub const fn first_chunk(mut self, d: Duration) -> Self {
        self.first_chunk = d;
        self
    }

    /// Longest gap between two items of an open stream, after the first
    /// (the wait for the first is [`first_chunk`](Self::first_chunk)).
    /// Zero disables it.
    pub const fn stream_idle(mut self, d: Duration) -> Self {
        self.stream_idle = d;
        self
    }

    /// No backoff may end later than this after the first attempt began;
    /// `None` (the default) sets no deadline.
    pub const fn retry_deadline(mut self, d: Option<Duration>) -> Self {
        self.retry_deadline = d;
        self
    }

    /// See [`max_retries`](Self::max_retries).
    pub const fn get_max_retries(&self) -> u32 {
        self.max_retries
    }
    /// See [`timeout`](Self::timeout).
    pub const fn get_timeout(&self) -> Duration {
        self.timeout
    }
    /// See [`initial_backoff`](Self::initial_backoff).
    pub const fn get_initial_backoff(&self) -> Duration {
        self.initial_backoff
    }
    /// See [`max_backoff`](Self::max_backoff).
    pub const fn get_max_backoff(&self) -> Duration {
        self.max_backoff
    }
    /// See [`jitter`](Self::jitter).
    pub const fn get_jitter(&self) -> Jitter {
        self.jitter
    }
    /// See [`max_retry_after`](Self::max_retry_after).
    pub const fn get_max_retry_after(&self) -> Duration {
        self.max_retry_after
    }
    /// See [`first_chunk`](Self::first_chunk).
    pub const fn get_first_chunk(&self) -> Duration {
        self.first_chunk
    }
    /// See [`stream_idle`](Self::stream_idle).
    pub const fn get_stream_idle(&self) -> Duration {
        self.stream_idle
    }
    /// See [`retry_deadline`](Self::retry_deadline).
    pub const fn get_retry_deadline(&self) -> Option<Duration> {
        self.retry_deadline
    }

    /// The backoff schedule a wrapper seeded with `seed` uses for its call number `call`.
    ///
    /// It is [`Schedule::new`] with this policy's `initial_backoff`,
    /// `max_backoff` and `jitter`.
    /// Call numbers count, from 0, the calls of a wrapper (and its clones)
    /// in the order they first back off. This is how tests and the
    /// snapshots see exactly the delays the wrapper will choose.
    ///
    /// # Examples
    ///
    /// ```
    /// use provider_retry::{Jitter, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// let p = RetryPolicy::new().jitter(Jitter::None);
    /// let ms: Vec<u128> = p.schedule(0, 0).take(4).map(|d| d.as_millis()).collect();
    /// assert_eq!(ms, [100, 200, 400, 800]);
    /// ```
    pub fn schedule(&self, seed: u64, call: u64) -> Schedule {
        Schedule::new(
            self.initial_backoff,
            self.max_backoff,
            self.jitter,
            seed,
            call,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let p = RetryPolicy::default();
        assert_eq!(p.get_max_retries(), 2);
        assert_eq!(p.get_timeout(), Duration::from_secs(30));
        assert_eq!(p.get_initial_backoff(), Duration::from_millis(100));
        assert_eq!(p.get_max_backoff(), Duration::from_secs(20));
        assert_eq!(p.get_jitter(), Jitter::Equal);
        assert_eq!(p.get_max_retry_after(), Duration::from_secs(60));
        assert_eq!(p.get_first_chunk(), Duration::from_secs(300));
        assert_eq!(p.get_stream_idle(), Duration::from_secs(90));
        assert_eq!(p.get_retry_deadline(), None);
    }

    #[test]
    fn default_schedule_doubles_to_the_cap() {
        let p = RetryPolicy::new().jitter(Jitter::None);
        let got: Vec<u128> = p.schedule(0, 0).take(10).map(|d| d.as_millis()).collect();
        assert_eq!(
            got,
            [100, 200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000]
        );
    }

    #[test]
    fn schedule_is_built_from_the_three_backoff_knobs() {
        let ms = Duration::from_millis;
        let p = RetryPolicy::new()
            .initial_backoff(ms(30))
            .max_backoff(ms(700))
            .jitter(Jitter::Decorrelated);
        let want: Vec<Duration> = Schedule::new(ms(30), ms(700), Jitter::Decorrelated, 8, 3)
            .take(12)
            .collect();
        assert_eq!(p.schedule(8, 3).take(12).collect::<Vec<_>>(), want);
        assert_ne!(p.schedule(8, 4).take(12).collect::<Vec<_>>(), want);
        assert_ne!(p.schedule(9, 3).take(12).collect::<Vec<_>>(), want);
    }

    #[test]
    fn from_config_reads_the_three_fields() {
        let config = ProviderConfig {
            max_retries: Some(5),
            timeout: Some(0),
            retry_deadline: Some(3),
            ..ProviderConfig::default()
        };
        let p = RetryPolicy::from_config(&config);
        assert_eq!(p.get_max_retries(), 5);
        assert_eq!(p.get_timeout(), Duration::ZERO);
        assert_eq!(p.get_retry_deadline(), Some(Duration::from_secs(3)));
        assert_eq!(p.get_initial_backoff(), DEFAULT_INITIAL_BACKOFF);
        assert_eq!(p.get_first_chunk(), DEFAULT_FIRST_CHUNK);
        assert_eq!(p.get_stream_idle(), DEFAULT_STREAM_IDLE);
    }

    #[test]
    fn from_config_fills_documented_defaults() {
        let p = RetryPolicy::from_config(&ProviderConfig::default());
        assert_eq!(p.get_max_retries(), 2);
        assert_eq!(p.get_timeout(), Duration::from_secs(30));
        assert_eq!(p.get_retry_deadline(), Some(Duration::from_secs(15)));
    }
}
