//! The Rust retry ecosystem, judged side by side with provider-retry.
//!
//! | module | role |
//! |---|---|
//! | [`provider`] | [`Peer`]: one `Provider` that routes every retried method through a [`RetryLib`] |
//! | [`backon`] | backon 1.6: `ExponentialBuilder` with jitter, and its `adjust` idiom for Retry-After |
//! | [`tokio_retry2`] | tokio-retry2 0.9: `ExponentialFactorBackoff`, its jitter, `RetryError::retry_after` |
//! | [`tower`] | tower 0.5: `retry::Policy` over `ExponentialBackoffMaker`, per-attempt `timeout` |
//! | [`reference`](mod@reference) | a small correct loop of our own for the jitter shapes no library draws (OpenAI's `[0.75 b, b]`, additive) |
//!
//! Each adapter wraps a `crabllm_core::Provider` the way a careful user of
//! its library would, in the library's documented idiom: failures that
//! `crabllm_core::Error::is_transient` calls transient are retried, every
//! idempotent call and stream open is retried (the same set for every
//! peer, [`retries`]), and each attempt of those is bounded by the
//! policy's timeout (the library's own timeout where it has one,
//! `tokio::time::timeout` where it has none). What the peers share is
//! written once: [`Peer`] for the routing, [`claim`] for the parts of
//! their claims that follow from it. Each library's claim states what its
//! configuration promises, citing where the library documents it.
//!
//! None of the libraries bounds a stream once it is handed over: their
//! claims say so (`first_chunk_ns` and `stream_idle_ns` are `None`).

pub mod backon;
pub mod provider;
pub mod reference;
pub mod tokio_retry2;
pub mod tower;

pub use self::backon::{Backon, BackonAdjust};
pub use self::reference::Reference;
pub use self::tokio_retry2::TokioRetry2;
pub use self::tower::Tower;
pub use provider::{Peer, RetryLib};

use crate::check::claim::{Backoff, Claim, RetryAfterRule, Retryable, nanos};
use crate::method::Method;
use crate::scenario::PolicySpec;
use std::collections::BTreeSet;
use std::time::Duration;

/// Whether every peer retries `method`: every idempotent call and stream
/// open is retried. The passthrough stream (its body is consumed by the
/// first attempt), image generation and audio (not idempotent, and billed
/// per call) are forwarded once, untimed.
pub fn retries(method: Method) -> bool {
    !matches!(
        method,
        Method::Passthrough | Method::Image | Method::AudioSpeech | Method::AudioTranscription
    )
}

/// The policy's per-attempt timeout; zero disables it.
pub fn attempt_timeout(policy: &PolicySpec) -> Option<Duration> {
    (!policy.timeout.is_zero()).then_some(policy.timeout)
}

/// What every peer claims for `policy` through [`Peer`]: `max_retries + 1`
/// attempts, the transient failures retried, the methods [`retries`] names retried and
/// timed by the policy's timeout, no stream bound, no budget, no reports;
/// the library's own backoff, Retry-After rule and deadline as given.
pub fn claim(
    policy: &PolicySpec,
    backoff: Backoff,
    retry_after: RetryAfterRule,
    deadline_ns: Option<u64>,
) -> Claim {
    let retried: BTreeSet<Method> = Method::ALL.into_iter().filter(|&m| retries(m)).collect();
    Claim {
        max_attempts: u64::from(policy.max_retries) + 1,
        timeout_ns: attempt_timeout(policy).map(nanos),
        backoff,
        retry_after,
        deadline_ns,
        retryable: Retryable::transient(),
        timed: retried.clone(),
        retried,
        first_chunk_ns: None,
        stream_idle_ns: None,
        budget: false,
        reports: false,
        upstreams: 1,
        shared_pause: None,
        retry_after_jitter_ns: 0,
        upstream_order: crate::check::claim::UpstreamOrder::InOrder,
        cooldown_ns: None,
        server_waits: None,
        should_retry_header: crate::check::claim::ShouldRetryHeader::Ignored,
    }
}

/// What a failure's Retry-After asks of a peer under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// The failure carries none: the library's backoff applies.
    Absent,
    /// Within `max_retry_after`: wait exactly this long.
    Wait(Duration),
    /// Over `max_retry_after`: the call ends at once, as every claim here says.
    TooLong,
}

/// The Retry-After of `e` against the policy's maximum `max`.
pub fn retry_after(e: &crabllm_core::Error, max: Duration) -> RetryAfter {
    match e.retry_after() {
        None => RetryAfter::Absent,
        Some(d) if d > max => RetryAfter::TooLong,
        Some(d) => RetryAfter::Wait(d),
    }
}

/// One attempt bounded by `timeout`, as a careful user bounds it where the
/// library has no timeout of its own: an elapsed attempt is dropped and
/// fails with `Error::Timeout` (transient, so retried).
pub async fn timed<T>(
    timeout: Option<Duration>,
    attempt: impl std::future::Future<Output = Result<T, crabllm_core::Error>>,
) -> Result<T, crabllm_core::Error> {
    match timeout {
        None => attempt.await,
        Some(d) => tokio::time::timeout(d, attempt)
            .await
            .unwrap_or(Err(crabllm_core::Error::Timeout)),
    }
}
