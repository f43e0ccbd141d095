//! The `Provider` impl: every method of crabllm_core 0.0.25 forwarded, the
//! ones provider-retry documents as retried through the one loop.

use super::defect::Defect;
use super::planted::Planted;
use super::stream::{IdleTimeout, idle_bounded, reopening};
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use std::future::Future;

type Opened<T, E = Error> = Result<BoxStream<'static, Result<T, E>>, Error>;

impl<P: Provider> Planted<P> {
    /// The idle bound on handed-over streams (none, for that defect).
    fn idle(&self) -> std::time::Duration {
        match self.defect {
            Defect::NoStreamIdleBound => std::time::Duration::ZERO,
            _ => self.spec.stream_idle,
        }
    }

    /// The bound on the silence before a stream's first item (the idle
    /// bound, for that defect).
    fn first_chunk(&self) -> std::time::Duration {
        match self.defect {
            Defect::FirstChunkUnderIdleBound => self.idle(),
            _ => self.spec.first_chunk,
        }
    }

    /// Retry the open, then bound the handed-over stream's silences.
    async fn retry_open<T, E, F>(&self, op: impl FnMut() -> F) -> Opened<T, E>
    where
        T: Send + 'static,
        E: IdleTimeout + Send + 'static,
        F: Future<Output = Opened<T, E>>,
    {
        let stream = self.retry(op).await?;
        Ok(idle_bounded(stream, self.first_chunk(), self.idle()))
    }
}

impl<P: Provider + Clone + 'static> Provider for Planted<P> {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        if self.defect == Defect::AltersRetriedRequest {
            // The planted bug: every retry asks for a single token.
            let altered = ChatCompletionRequest {
                max_tokens: Some(1),
                ..r.clone()
            };
            let mut first = true;
            return self
                .retry(|| {
                    let request = match std::mem::take(&mut first) {
                        true => r,
                        false => &altered,
                    };
                    self.inner.chat_completion(request)
                })
                .await;
        }
        // Callers that walk away: the variants whose work outlives the call.
        if let Some(result) = self.detached_chat(r).await {
            return result;
        }
        self.retry(|| self.inner.chat_completion(r)).await
    }

    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Opened<ChatCompletionChunk> {
        let stream = self.retry(|| self.inner.chat_completion_stream(r)).await?;
        let stream = match self.defect {
            d @ (Defect::ReplaysFailedStream | Defect::SplicesSecondStream) => {
                let reopens = self.spec.max_retries;
                reopening(self.inner.clone(), r.clone(), stream, d, reopens)
            }
            _ => stream,
        };
        Ok(idle_bounded(stream, self.first_chunk(), self.idle()))
    }

    async fn anthropic_messages(
        &self,
        r: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        match self.defect {
            Defect::AnthropicNotRetried => self.attempt(self.inner.anthropic_messages(r)).await,
            _ => self.retry(|| self.inner.anthropic_messages(r)).await,
        }
    }

    async fn anthropic_messages_stream(
        &self,
        r: &anthropic::Request,
    ) -> Opened<anthropic::StreamEvent> {
        self.retry_open(|| self.inner.anthropic_messages_stream(r))
            .await
    }

    async fn gemini_generate_content(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        self.retry(|| self.inner.gemini_generate_content(model, r))
            .await
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Opened<gemini::Response> {
        self.retry_open(|| self.inner.gemini_generate_content_stream(model, r))
            .await
    }

    async fn complete(&self, r: &ir::Request) -> Result<ir::Response, Error> {
        match self.defect {
            // What the trait's default `complete` answers.
            Defect::CompleteNotForwarded => Err(Error::not_implemented("complete")),
            _ => self.retry(|| self.inner.complete(r)).await,
        }
    }

    async fn complete_stream(&self, r: &ir::Request) -> Opened<ir::StreamEvent> {
        self.retry_open(|| self.inner.complete_stream(r)).await
    }

    async fn embedding(&self, r: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        self.retry(|| self.inner.embedding(r)).await
    }

    async fn image_generation(&self, r: &ImageRequest) -> Result<(Bytes, String), Error> {
        match self.defect {
            Defect::RetriesImageGeneration => self.retry(|| self.inner.image_generation(r)).await,
            _ => self.inner.image_generation(r).await,
        }
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

    async fn models(&self) -> Result<ModelList, Error> {
        self.retry(|| self.inner.models()).await
    }

    fn is_openai_compat(&self) -> bool {
        self.defect != Defect::OpenAiCompatAlwaysFalse && self.inner.is_openai_compat()
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
        // The body is consumed by the one attempt: timed, never retried.
        let open = self.inner.chat_completion_stream_passthrough(model, body);
        let stream = self.attempt(open).await?;
        Ok(idle_bounded(stream, self.first_chunk(), self.idle()))
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.retry_open(|| self.inner.chat_completion_stream_raw(model, body.clone()))
            .await
    }

    async fn chat_completion_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        self.retry(|| self.inner.chat_completion_raw(model, body.clone()))
            .await
    }

    async fn anthropic_messages_raw(&self, body: Bytes) -> Result<Bytes, Error> {
        self.retry(|| self.inner.anthropic_messages_raw(body.clone()))
            .await
    }

    async fn anthropic_messages_stream_raw(&self, body: Bytes) -> Result<ByteStream, Error> {
        self.retry_open(|| self.inner.anthropic_messages_stream_raw(body.clone()))
            .await
    }

    async fn gemini_generate_content_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        self.retry(|| self.inner.gemini_generate_content_raw(model, body.clone()))
            .await
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.retry_open(|| {
            self.inner
                .gemini_generate_content_stream_raw(model, body.clone())
        })
        .await
    }
}
