//! The oracles catch real defects: a naive wrapper run through the same
//! world is reported, property by property.

use crabllm_core::{ChatCompletionRequest, ChatCompletionResponse, Error, Provider};
use provider_retry::RetryPolicy;
use provider_retry_sim::oracles::check;
use provider_retry_sim::provider::{Shared, SimProvider};
use provider_retry_sim::trace::{AttemptOutcome, Kind};
use provider_retry_sim::world::{Subject, run_with};
use provider_retry_sim::{builtin, claims};
use std::sync::Arc;
use std::time::Duration;

/// The classic naive loop: three attempts, a fixed 100 ms sleep after every
/// failure (the last one too), every error retried, Retry-After ignored.
struct Naive;

struct NaiveWrapper {
    inner: SimProvider,
    shared: Arc<Shared>,
    client: u32,
}

impl Subject for Naive {
    type Wrapped = NaiveWrapper;
    fn wrap(
        &self,
        inner: SimProvider,
        _: RetryPolicy,
        _: u64,
        shared: Arc<Shared>,
        client: u32,
    ) -> NaiveWrapper {
        NaiveWrapper {
            inner,
            shared,
            client,
        }
    }
}

impl NaiveWrapper {
    fn record(&self, kind: Kind) {
        self.shared.record(self.client, self.inner.call(), kind);
    }
}

impl Provider for NaiveWrapper {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        let mut last = None;
        for attempt in 0..3 {
            self.record(Kind::AttemptStarted { attempt });
            match self.inner.chat_completion(r).await {
                Ok(v) => {
                    self.record(Kind::AttemptEnded {
                        attempt,
                        outcome: AttemptOutcome::Ok,
                    });
                    return Ok(v);
                }
                Err(e) => {
                    let retry_after_ns = e.retry_after().map(|d| d.as_nanos() as u64);
                    let outcome = AttemptOutcome::Error {
                        status: e.http_status(),
                        transient: e.is_transient(),
                        retry_after_ns,
                    };
                    self.record(Kind::AttemptEnded { attempt, outcome });
                    self.record(Kind::Delay {
                        attempt,
                        delay_ns: 100_000_000,
                        retry_after: false,
                    });
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or(Error::Timeout))
    }
    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<
        crabllm_core::BoxStream<'static, Result<crabllm_core::ChatCompletionChunk, Error>>,
        Error,
    > {
        self.inner.chat_completion_stream(r).await
    }
    async fn anthropic_messages(
        &self,
        r: &crabllm_core::anthropic::Request,
    ) -> Result<crabllm_core::anthropic::Response, Error> {
        self.inner.anthropic_messages(r).await
    }
    async fn anthropic_messages_stream(
        &self,
        r: &crabllm_core::anthropic::Request,
    ) -> Result<
        crabllm_core::BoxStream<'static, Result<crabllm_core::anthropic::StreamEvent, Error>>,
        Error,
    > {
        self.inner.anthropic_messages_stream(r).await
    }
    async fn gemini_generate_content_stream(
        &self,
        m: &str,
        r: &crabllm_core::gemini::Request,
    ) -> Result<
        crabllm_core::BoxStream<'static, Result<crabllm_core::gemini::Response, Error>>,
        Error,
    > {
        self.inner.gemini_generate_content_stream(m, r).await
    }
}

fn violated(scenario: &str) -> Vec<&'static str> {
    let s = builtin::get(scenario).unwrap().unwrap();
    let trace = run_with(&Naive, &s, 1).unwrap();
    let mut names: Vec<_> = check(&trace, &claims(&s))
        .into_iter()
        .map(|v| v.oracle)
        .collect();
    names.dedup();
    names
}

#[test]
fn naive_wrapper_retries_non_transient_errors() {
    assert!(violated("non-transient").contains(&"non_transient_once"));
}

#[test]
fn naive_wrapper_sleeps_after_its_final_attempt() {
    assert!(violated("permanent-outage").contains(&"no_sleep_after_final"));
}

#[test]
fn naive_wrapper_ignores_retry_after() {
    assert!(violated("rate-limit-above-cap").contains(&"retry_after_honoured"));
}

#[test]
fn naive_wrapper_has_no_attempt_timeout() {
    // Hung attempts are never cut off, so their calls never end.
    assert!(violated("hang-and-timeouts").contains(&"calls_end"));
}
