//! Claims of LLM gateways that fall back across deployments, read from
//! their documentation.
//!
//! crabllm's gateway (`crabllm-proxy` 0.0.25, the `crabllm` binary) tries a
//! model's deployments in order and documents per deployment
//! (`crabllm-core`'s `ProviderConfig`): `max_retries`, "max retries on
//! transient errors before fallback"; `timeout`, the "per-request timeout";
//! `retry_deadline`, the "wall-clock deadline for the entire retry loop":
//! "the loop stops retrying once this much time has elapsed since the first
//! attempt". Its retry helpers' documentation (`handlers.rs`) gives the
//! schedule: 100 ms doubling, "full jitter: random duration in
//! [backoff/2, backoff]", uncapped, and "on 429, honor the upstream
//! Retry-After (floored at the exponential backoff)" (the code honours the
//! Retry-After of any failure that carries one, not only a 429's).

use super::claim::{Backoff, Claim, JitterShape, RetryAfterRule, Retryable, nanos};
use crate::method::Method;
use std::time::Duration;

/// One deployment's retry settings, as a gateway's configuration gives them.
///
/// # Default
///
/// crabllm's: 2 retries, a 30 s timeout, a 15 s deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deployment {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Zero: none.
    pub timeout: Duration,
    /// No wait may end later than this after the first attempt began.
    pub retry_deadline: Duration,
}

impl Default for Deployment {
    fn default() -> Self {
        Self {
            max_retries: 2,
            timeout: Duration::from_secs(30),
            retry_deadline: Duration::from_secs(15),
        }
    }
}

/// The methods a gateway's endpoints call on a deployment's provider:
/// chat (`chat_completion_raw`; streamed, `chat_completion_stream_passthrough`),
/// embeddings, and Anthropic messages (`anthropic_messages_raw`, streamed
/// `anthropic_messages_stream_raw`).
pub const ENDPOINT_METHODS: [Method; 5] = [
    Method::ChatRaw,
    Method::Passthrough,
    Method::Embedding,
    Method::AnthropicRaw,
    Method::AnthropicStreamRaw,
];

/// What crabllm's gateway documents for a model served by `upstreams`
/// deployments, each configured as `d`: every endpoint retried within a
/// deployment before fallback, but a streamed chat request, whose body is
/// forwarded as it arrives and cannot be sent twice.
///
/// The Retry-After rule is `Exact`: the documented floor (wait the larger
/// of the Retry-After and the drawn backoff) differs from it only where the
/// backoff is the longer, which the scenarios judged here avoid.
pub fn crabllm(d: &Deployment, upstreams: u32) -> Claim {
    let retried: std::collections::BTreeSet<Method> = ENDPOINT_METHODS
        .into_iter()
        .filter(|m| *m != Method::Passthrough)
        .collect();
    Claim {
        max_attempts: u64::from(d.max_retries) + 1,
        timeout_ns: (!d.timeout.is_zero()).then(|| nanos(d.timeout)),
        backoff: Backoff {
            initial_ns: nanos(Duration::from_millis(100)),
            factor: 2.0,
            cap_ns: None,
            jitter: JitterShape::Scale { lo: 0.5, hi: 1.0 },
            cap_after_jitter: false,
            advances_on_retry_after: true,
            floor_ns: 0,
        },
        retry_after: RetryAfterRule::Exact { max_ns: u64::MAX },
        deadline_ns: Some(nanos(d.retry_deadline)),
        // `Error::is_transient`: 429, 500, 502, 503, 504, network, timeout.
        retryable: Retryable::transient(),
        retried,
        timed: ENDPOINT_METHODS.into(),
        // No bound on a stream once it is handed over.
        first_chunk_ns: None,
        stream_idle_ns: None,
        budget: false,
        reports: false,
        upstreams,
        shared_pause: None,
        retry_after_jitter_ns: 0,
        upstream_order: crate::check::claim::UpstreamOrder::InOrder,
        cooldown_ns: None,
        server_waits: None,
        should_retry_header: crate::check::claim::ShouldRetryHeader::Ignored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_claim_reads_each_deployments_settings() {
        let d = Deployment {
            max_retries: 3,
            timeout: Duration::ZERO,
            retry_deadline: Duration::from_secs(9),
        };
        let c = crabllm(&d, 2);
        assert_eq!((c.max_attempts, c.upstreams), (4, 2));
        assert_eq!(c.timeout_ns, None);
        assert_eq!(c.deadline_ns, Some(9_000_000_000));
        assert!(c.retried.contains(&Method::ChatRaw));
        assert!(!c.retried.contains(&Method::Passthrough));
        assert!(c.timed.contains(&Method::Passthrough));
        assert_eq!(
            crabllm(&Deployment::default(), 1).timeout_ns,
            Some(30_000_000_000)
        );
    }
}
