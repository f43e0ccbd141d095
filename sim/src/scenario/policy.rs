//! The wrapper's knobs, as a scenario states them.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The wrapper's knobs. Durations are written as integer milliseconds
/// (`timeout = 30000`) or as text with a unit (`"250ns"`, `"1.5s"`, `"2m"`);
/// the older `*_ms` names are accepted too.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PolicySpec {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Bound on each attempt; zero disables it.
    #[serde(alias = "timeout_ms", with = "crate::duration")]
    pub timeout: Duration,
    /// The backoff before the first retry, doubling after.
    #[serde(alias = "initial_backoff_ms", with = "crate::duration")]
    pub initial_backoff: Duration,
    /// The cap on every backoff delay.
    #[serde(alias = "max_backoff_ms", with = "crate::duration")]
    pub max_backoff: Duration,
    /// How the backoff is randomised.
    pub jitter: JitterSpec,
    /// Longest `Retry-After` honoured.
    #[serde(alias = "max_retry_after_ms", with = "crate::duration")]
    pub max_retry_after: Duration,
    /// Longest wait from a stream's hand-over to its first item; zero disables.
    #[serde(alias = "first_chunk_ms", with = "crate::duration")]
    pub first_chunk: Duration,
    /// Longest gap between two items, after the first; zero disables.
    #[serde(alias = "stream_idle_ms", with = "crate::duration")]
    pub stream_idle: Duration,
    /// No wait may end later than this after the first attempt began; absent: no deadline.
    #[serde(
        alias = "retry_deadline_ms",
        with = "crate::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub retry_deadline: Option<Duration>,
}

/// provider-retry's documented defaults (`docs/wrapper.md`, "Defaults"), written here
/// again so a scenario's meaning never depends on the wrapper's code.
impl Default for PolicySpec {
    fn default() -> Self {
        Self {
            max_retries: 2,
            timeout: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(20),
            jitter: JitterSpec::Equal,
            max_retry_after: Duration::from_secs(60),
            first_chunk: Duration::from_secs(300),
            stream_idle: Duration::from_secs(90),
            retry_deadline: None,
        }
    }
}

/// A jitter kind, as scenario files spell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JitterSpec {
    /// Exactly the exponential base.
    None,
    /// Uniform in `[b/2, b]`.
    Equal,
    /// Uniform in `[0, b]`.
    Full,
    /// Grows from the previous delay: uniform in `[initial, 3 x previous]`, capped.
    Decorrelated,
}
