//! Test your own retry wrapper with the conformance suite.
//!
//! `MyRetry` stands for a wrapper written elsewhere: a plain loop with
//! exponential backoff (no jitter), a per-attempt timeout, Retry-After up to
//! a cap, a deadline, retried stream opens and first-chunk and idle bounds
//! on streams (borrowed from `provider_retry::stream::IdleBounded`); it retries chat
//! only and forwards every other method once. Implementing `Subject` for
//! it (with a `Claim` saying exactly that) is all the suite needs; `cargo
//! test` runs the test at the bottom, and `cargo run -p provider-retry-sim
//! --example conform_own_wrapper` prints the verdicts.

use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use provider_retry::stream::IdleBounded;
use provider_retry_sim::check::Claim;
use provider_retry_sim::check::claim::JitterShape;
use provider_retry_sim::method::Method;
use provider_retry_sim::run::conform::{Options, Report, suite, table};
use provider_retry_sim::scenario::PolicySpec;
use provider_retry_sim::subject::{Probe, Subject};
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// The wrapper under test.
struct MyRetry<P> {
    inner: P,
    policy: PolicySpec,
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
            let result = match p.timeout {
                Duration::ZERO => op().await,
                limit => tokio::time::timeout(limit, op())
                    .await
                    .unwrap_or(Err(Error::Timeout)),
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= p.max_retries {
                return Err(error);
            }
            let wait = match error.retry_after() {
                Some(asked) if asked > p.max_retry_after => return Err(error),
                Some(asked) => asked,
                None => p
                    .initial_backoff
                    .saturating_mul(1 << attempt.min(31))
                    .min(p.max_backoff),
            };
            if p.retry_deadline.is_some_and(|d| start.elapsed() + wait > d) {
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
        let (first, idle) = (self.policy.first_chunk, self.policy.stream_idle);
        Ok(Box::pin(IdleBounded::with_first_chunk(stream, first, idle)))
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

    async fn gemini_generate_content(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        self.inner.gemini_generate_content(model, r).await
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        self.inner.gemini_generate_content_stream(model, r).await
    }

    async fn complete(&self, r: &ir::Request) -> Result<ir::Response, Error> {
        self.inner.complete(r).await
    }

    async fn complete_stream(
        &self,
        r: &ir::Request,
    ) -> Result<BoxStream<'static, Result<ir::StreamEvent, Error>>, Error> {
        self.inner.complete_stream(r).await
    }

    async fn embedding(&self, r: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        self.inner.embedding(r).await
    }

    async fn image_generation(&self, r: &ImageRequest) -> Result<(Bytes, String), Error> {
        self.inner.image_generation(r).await
    }

    async fn audio_speech(&self, r: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        self.inner.audio_speech(r).await
    }

    async fn audio_transcription(
        &self,
        model: &str,
        f: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        self.inner.audio_transcription(model, f).await
    }

    async fn models(&self) -> Result<ModelList, Error> {
        self.inner.models().await
    }

    fn is_openai_compat(&self) -> bool {
        self.inner.is_openai_compat()
    }

    fn is_anthropic_compat(&self) -> bool {
        self.inner.is_anthropic_compat()
    }

    fn is_gemini_compat(&self) -> bool {
        self.inner.is_gemini_compat()
    }

    async fn chat_completion_stream_passthrough(
        &self,
        model: &str,
        body: ByteStream,
    ) -> Result<ByteStream, Error> {
        self.inner
            .chat_completion_stream_passthrough(model, body)
            .await
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.inner.chat_completion_stream_raw(model, body).await
    }

    async fn chat_completion_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        self.inner.chat_completion_raw(model, body).await
    }

    async fn anthropic_messages_raw(&self, body: Bytes) -> Result<Bytes, Error> {
        self.inner.anthropic_messages_raw(body).await
    }

    async fn anthropic_messages_stream_raw(&self, body: Bytes) -> Result<ByteStream, Error> {
        self.inner.anthropic_messages_stream_raw(body).await
    }

    async fn gemini_generate_content_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        self.inner.gemini_generate_content_raw(model, body).await
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.inner
            .gemini_generate_content_stream_raw(model, body)
            .await
    }
}

/// How the suite builds and judges it.
struct Mine;

impl Subject for Mine {
    type Wrapped = MyRetry<Probe>;

    fn name(&self) -> String {
        "my wrapper".into()
    }

    /// provider-retry's semantics, except that it never jitters, retries
    /// chat and its stream open only, and bounds only those attempts.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        let mut claim = Claim::provider_retry(policy);
        claim.backoff.jitter = JitterShape::Scale { lo: 1.0, hi: 1.0 };
        claim.retried = [Method::Chat, Method::ChatStream].into();
        claim.timed = claim.retried.clone();
        claim
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, _seed: u64) -> MyRetry<Probe> {
        MyRetry {
            inner,
            policy: policy.clone(),
        }
    }
}

fn verdicts() -> Report {
    let options = Options {
        seeds: 3,
        net_seeds: 1,
        cases: 16,
        seed: 1,
        repeats: 1,
    };
    suite(&Mine, "mine", &options).expect("a world starts")
}

fn main() {
    let report = verdicts();
    print!("{}", table(std::slice::from_ref(&report)));
    for finding in report.findings.values() {
        println!(
            "{} (scenario {}, seed {})",
            finding.violation, finding.name, finding.seed
        );
        // A generated scenario is printed whole: save it to replay it.
        if finding.name == "generated" {
            println!("{}", toml::to_string(&finding.scenario).unwrap_or_default());
        }
    }
}

#[test]
fn my_wrapper_holds_every_oracle() {
    let report = verdicts();
    assert!(report.held(), "{}", table(std::slice::from_ref(&report)));
}
