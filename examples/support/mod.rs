//! An in-process fake provider for the examples: no network, no randomness.
//!
//! Each fake answers `chat_completion` after a fixed (virtual) latency, and
//! fails a fixed share of its attempts, chosen by a hash of its attempt
//! counter, so every run of an example prints the same numbers.

// Each example uses part of this module.
#![allow(dead_code)]

use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
    anthropic, gemini,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How one attempt at a fake provider's answer costs on tokio's clock.
const LATENCY: Duration = Duration::from_millis(40);

/// A flaky provider's failures on every fourth attempt are 429s that ask for
/// this wait, so the examples show a `Retry-After` honoured next to backoffs.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// How a fake provider behaves.
#[derive(Debug, Clone, Copy)]
pub enum Health {
    /// Every attempt succeeds.
    Healthy,
    /// This many attempts in every ten fail with a transient error.
    Flaky(u64),
    /// Every attempt fails with HTTP 503.
    Down,
}

/// A provider that answers from its [`Health`], counting its attempts.
///
/// Clones share the attempt counter, as clones of one HTTP client share
/// one upstream.
#[derive(Debug, Clone)]
pub struct Fake {
    health: Health,
    attempts: Arc<AtomicU64>,
}

impl Fake {
    /// A fake provider in the given health.
    pub fn new(health: Health) -> Self {
        Self {
            health,
            attempts: Arc::default(),
        }
    }

    /// How many attempts reached this provider (its clones included).
    pub fn attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    /// The answer to attempt `n`: `None` for success.
    fn failure(&self, n: u64) -> Option<Error> {
        let failing = match self.health {
            Health::Healthy => return None,
            Health::Down => true,
            // A hash, not `n % 10`: failures then come in runs of any
            // length, as real ones do, and some calls exhaust their retries.
            Health::Flaky(per_ten) => mix(n) % 10 < per_ten,
        };
        let (status, retry_after) = match self.health {
            Health::Flaky(_) if n % 4 == 0 => (429, Some(RETRY_AFTER)),
            _ => (503, None),
        };
        failing.then(|| Error::Provider {
            status,
            body: format!("fake {status}"),
            retry_after,
        })
    }
}

/// SplitMix64's finaliser: a fixed, well-spread hash of `n`.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Provider for Fake {
    async fn chat_completion(
        &self,
        request: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        let n = self.attempts.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(LATENCY).await;
        match self.failure(n) {
            Some(error) => Err(error),
            None => Ok(ChatCompletionResponse {
                model: request.model.clone(),
                ..ChatCompletionResponse::default()
            }),
        }
    }

    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        Err(Error::not_implemented("chat_completion_stream"))
    }

    async fn anthropic_messages(
        &self,
        _: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        Err(Error::not_implemented("anthropic_messages"))
    }

    async fn anthropic_messages_stream(
        &self,
        _: &anthropic::Request,
    ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
        Err(Error::not_implemented("anthropic_messages_stream"))
    }

    async fn gemini_generate_content_stream(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        Err(Error::not_implemented("gemini_generate_content_stream"))
    }
}

/// A chat request for `model`.
pub fn request(model: &str) -> ChatCompletionRequest {
    ChatCompletionRequest {
        model: model.to_string(),
        ..ChatCompletionRequest::default()
    }
}

/// A duration as a person reads it: `250 ms`, `1.250 s`.
pub fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.3} s", d.as_secs_f64())
    }
}
