//! Test your own retry wrapper with the conformance suite.
//!
//! `MyRetry` stands for a wrapper written elsewhere: a plain loop with
//! exponential backoff (no jitter), a per-attempt timeout, Retry-After up to
//! a cap, a deadline, retried stream opens and an idle bound on streams
//! (borrowed from `provider_retry::stream::IdleBounded`). Implementing
//! `Wrapper` for it is all the suite needs; `cargo test` runs the test at
//! the bottom, and `cargo run -p provider-retry-sim --example
//! conform_own_wrapper` prints the verdicts.

use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
    anthropic, gemini,
};
use provider_retry::stream::IdleBounded;
use provider_retry::{Jitter, RetryPolicy};
use provider_retry_sim::conform::{Options, Report, Wrapper, suite, table};
use provider_retry_sim::probe::Probed;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The wrapper under test.
struct MyRetry<P> {
    inner: P,
    policy: RetryPolicy,
}

impl<P: Provider> MyRetry<P> {
    async fn retry<T, F>(&self, mut op: impl FnMut() -> F) -> Result<T, Error>
    where
        F: Future<Output = Result<T, Error>>,
    {
        let p = &self.policy;
        let start = Instant::now();
        let mut attempt = 0u32;
        loop {
            let result = match p.get_timeout() {
                Duration::ZERO => op().await,
                limit => tokio::time::timeout(limit, op())
                    .await
                    .unwrap_or(Err(Error::Timeout)),
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= p.get_max_retries() {
                return Err(error);
            }
            let wait = match error.retry_after() {
                Some(asked) if asked > p.get_max_retry_after() => return Err(error),
                Some(asked) => asked,
                None => p
                    .get_initial_backoff()
                    .saturating_mul(1 << attempt.min(31))
                    .min(p.get_max_backoff()),
            };
            if p.get_retry_deadline()
                .is_some_and(|d| start.elapsed() + wait > d)
            {
                return Err(error);
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

impl<P: Provider> Provider for MyRetry<P> {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        self.retry(|| self.inner.chat_completion(r)).await
    }

    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        let stream = self.retry(|| self.inner.chat_completion_stream(r)).await?;
        Ok(Box::pin(IdleBounded::new(
            stream,
            self.policy.get_stream_idle(),
        )))
    }

    async fn anthropic_messages(
        &self,
        r: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        self.inner.anthropic_messages(r).await
    }

    async fn anthropic_messages_stream(
        &self,
        r: &anthropic::Request,
    ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
        self.inner.anthropic_messages_stream(r).await
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        self.inner.gemini_generate_content_stream(model, r).await
    }
}

/// How the suite builds and judges it.
struct Mine;

impl Wrapper for Mine {
    type Wrapped = MyRetry<Probed>;

    fn name(&self) -> String {
        "my wrapper".into()
    }

    /// It follows the scenario's policy, except that it never jitters.
    fn claims(&self, asked: RetryPolicy) -> RetryPolicy {
        asked.jitter(Jitter::None)
    }

    fn wrap(&self, inner: Probed, claimed: RetryPolicy, _seed: u64) -> MyRetry<Probed> {
        MyRetry {
            inner,
            policy: claimed,
        }
    }
}

fn verdicts() -> Report {
    let options = Options {
        seeds: 3,
        cases: 16,
        seed: 1,
    };
    suite(&Mine, &options).expect("a tokio runtime")
}

fn main() {
    let report = verdicts();
    print!("{}", table(std::slice::from_ref(&report)));
    for finding in report.findings.values() {
        println!(
            "{} (scenario {}, seed {})",
            finding.violation, finding.name, finding.seed
        );
    }
}

#[test]
fn my_wrapper_holds_every_oracle() {
    let report = verdicts();
    assert!(report.held(), "{}", table(std::slice::from_ref(&report)));
}
