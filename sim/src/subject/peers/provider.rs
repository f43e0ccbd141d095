//! One `Provider` for every peer: the method routing written once.
//!
//! [`Peer`] sends each method [`retries`](super::retries) names through its
//! library's [`RetryLib::retry`], as one repeatable operation, and
//! forwards every other method, and the `is_*_compat` flags, unchanged.

use crate::subject::Probe;
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use std::future::Future;

/// A retry library, as a careful user configures it for one policy.
pub trait RetryLib: Send + Sync + 'static {
    /// Run `op` (one attempt per call) until it succeeds or the library's
    /// configuration gives up, and return its last result unchanged.
    fn retry<'a, T, F, Fut>(&'a self, op: F) -> impl Future<Output = Result<T, Error>> + Send + 'a
    where
        T: Send + 'a,
        F: Fn() -> Fut + Clone + Send + Sync + 'a,
        Fut: Future<Output = Result<T, Error>> + Send + 'a;
}

/// A provider retried by the library `R`.
#[derive(Debug)]
pub struct Peer<R> {
    inner: Probe,
    lib: R,
}

impl<R: RetryLib> Peer<R> {
    /// Wrap `inner` in `lib`.
    pub fn new(inner: Probe, lib: R) -> Self {
        Self { inner, lib }
    }
}

type Streamed<T> = Result<BoxStream<'static, Result<T, Error>>, Error>;

impl<R: RetryLib> Provider for Peer<R> {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        self.lib.retry(|| self.inner.chat_completion(r)).await
    }

    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Streamed<ChatCompletionChunk> {
        self.lib
            .retry(|| self.inner.chat_completion_stream(r))
            .await
    }

    async fn anthropic_messages(
        &self,
        r: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        self.lib.retry(|| self.inner.anthropic_messages(r)).await
    }

    async fn anthropic_messages_stream(
        &self,
        r: &anthropic::Request,
    ) -> Streamed<anthropic::StreamEvent> {
        self.lib
            .retry(|| self.inner.anthropic_messages_stream(r))
            .await
    }

    async fn gemini_generate_content(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        self.lib
            .retry(|| self.inner.gemini_generate_content(model, r))
            .await
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Streamed<gemini::Response> {
        self.lib
            .retry(|| self.inner.gemini_generate_content_stream(model, r))
            .await
    }

    async fn complete(&self, r: &ir::Request) -> Result<ir::Response, Error> {
        self.lib.retry(|| self.inner.complete(r)).await
    }

    async fn complete_stream(&self, r: &ir::Request) -> Streamed<ir::StreamEvent> {
        self.lib.retry(|| self.inner.complete_stream(r)).await
    }

    async fn embedding(&self, r: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        self.lib.retry(|| self.inner.embedding(r)).await
    }

    async fn models(&self) -> Result<ModelList, Error> {
        self.lib.retry(|| self.inner.models()).await
    }

    async fn chat_completion_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        self.lib
            .retry(|| self.inner.chat_completion_raw(model, body.clone()))
            .await
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.lib
            .retry(|| self.inner.chat_completion_stream_raw(model, body.clone()))
            .await
    }

    async fn anthropic_messages_raw(&self, body: Bytes) -> Result<Bytes, Error> {
        self.lib
            .retry(|| self.inner.anthropic_messages_raw(body.clone()))
            .await
    }

    async fn anthropic_messages_stream_raw(&self, body: Bytes) -> Result<ByteStream, Error> {
        self.lib
            .retry(|| self.inner.anthropic_messages_stream_raw(body.clone()))
            .await
    }

    async fn gemini_generate_content_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        self.lib
            .retry(|| self.inner.gemini_generate_content_raw(model, body.clone()))
            .await
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.lib
            .retry(|| {
                self.inner
                    .gemini_generate_content_stream_raw(model, body.clone())
            })
            .await
    }

    // Forwarded once, untimed: the passthrough body cannot be replayed;
    // images and audio are not idempotent.

    async fn chat_completion_stream_passthrough(
        &self,
        model: &str,
        body: ByteStream,
    ) -> Result<ByteStream, Error> {
        self.inner
            .chat_completion_stream_passthrough(model, body)
            .await
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
        fields: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        self.inner.audio_transcription(model, fields).await
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
}
