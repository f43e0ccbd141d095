//! The backend called directly: the in-process world's provider.

use crate::backend::{Backend, Item, Opened, Reply};
use crate::method::Method;
use crate::wire::address::CallId;
use crate::wire::items;
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use futures::StreamExt;
use std::sync::Arc;

/// The backend, called directly, as one call's attempt ([`SimProvider::at`]).
#[derive(Debug, Clone)]
pub struct SimProvider {
    backend: Arc<Backend>,
    call: CallId,
}

impl SimProvider {
    /// The backend, its attempts not yet told whose they are.
    pub fn new(backend: Arc<Backend>) -> Self {
        Self {
            backend,
            call: CallId::UNATTRIBUTED,
        }
    }

    /// This provider, answering as call `id`'s attempt.
    pub fn at(&self, id: CallId) -> Self {
        Self {
            backend: self.backend.clone(),
            call: id,
        }
    }

    /// One attempt, up to a success's [`Opened`] answer.
    pub async fn open(&self) -> Result<Opened, Error> {
        match self.backend.attempt(self.call.client, self.call.call).await {
            Reply::Ok(opened) => Ok(opened),
            other => Err(error_of(other)),
        }
    }

    /// One attempt of a unary method: the response's value from its identity.
    pub async fn unary<T>(
        &self,
        value: impl FnOnce(crate::trace::ChunkId) -> T,
    ) -> Result<T, Error> {
        Ok(value(self.open().await?.response()))
    }

    /// One attempt of a stream method: items built by `item`, a broken
    /// connection as `fail`.
    pub async fn stream<T: Send + 'static, E: Send + 'static>(
        &self,
        item: impl Fn(crate::trace::ChunkId) -> T + Send + 'static,
        fail: impl Fn() -> E + Send + 'static,
    ) -> Result<futures::stream::BoxStream<'static, Result<T, E>>, Error> {
        let opened = self.open().await?;
        Ok(opened
            .into_stream()
            .map(move |i| match i {
                Item::Chunk(id) => Ok(item(id)),
                Item::Fail => Err(fail()),
            })
            .boxed())
    }
}

/// The error an answer other than success becomes.
pub fn error_of(reply: Reply) -> Error {
    match reply {
        Reply::Ok(_) => Error::Internal("a success is not an error".into()),
        Reply::Status {
            status,
            retry_after,
            ..
        } => Error::Provider {
            status,
            body: format!("simulated {status}"),
            retry_after,
        },
        Reply::Network => Error::Network("simulated connection reset".into()),
        Reply::Decode => Error::Decode("simulated garbage".into()),
    }
}

// Every `Provider` method, answered by the backend: typed values from
// [`crate::wire::items`], raw bodies and SSE bytes as the network
// world's server would send them.

/// A typed stream's broken connection.
fn reset() -> Error {
    Error::Network("simulated mid-stream reset".into())
}

impl SimProvider {
    /// One attempt of a raw stream method: `method`'s SSE events as
    /// bytes, a broken connection as an io error.
    async fn raw_stream(&self, method: Method) -> Result<ByteStream, Error> {
        self.stream(
            move |id| items::event(method, id),
            || {
                std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated mid-stream reset",
                )
            },
        )
        .await
    }

    /// One attempt of a raw unary method: `method`'s JSON body.
    async fn raw(&self, method: Method) -> Result<Bytes, Error> {
        self.unary(|id| items::body(method, id)).await
    }
}

impl Provider for SimProvider {
    async fn chat_completion(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        self.unary(items::chat_response).await
    }

    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        self.stream(items::chat_chunk, reset).await
    }

    async fn anthropic_messages(
        &self,
        _: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        self.unary(items::anthropic_response).await
    }

    async fn anthropic_messages_stream(
        &self,
        _: &anthropic::Request,
    ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
        self.stream(items::anthropic_event, reset).await
    }

    async fn gemini_generate_content(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        self.unary(items::gemini_response).await
    }

    async fn gemini_generate_content_stream(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        self.stream(items::gemini_response, reset).await
    }

    async fn complete(&self, _: &ir::Request) -> Result<ir::Response, Error> {
        self.unary(items::ir_response).await
    }

    async fn complete_stream(
        &self,
        _: &ir::Request,
    ) -> Result<BoxStream<'static, Result<ir::StreamEvent, Error>>, Error> {
        self.stream(items::ir_event, reset).await
    }

    async fn embedding(&self, _: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        self.unary(items::embedding_response).await
    }

    async fn image_generation(&self, _: &ImageRequest) -> Result<(Bytes, String), Error> {
        self.unary(items::media).await
    }

    async fn audio_speech(&self, _: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        self.unary(items::media).await
    }

    async fn audio_transcription(
        &self,
        _: &str,
        _: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        self.unary(items::media).await
    }

    async fn models(&self) -> Result<ModelList, Error> {
        self.unary(items::model_list).await
    }

    async fn chat_completion_stream_passthrough(
        &self,
        _: &str,
        body: ByteStream,
    ) -> Result<ByteStream, Error> {
        // The body is sent (read to its end) before the answer comes.
        body.for_each(|_| async {}).await;
        self.raw_stream(Method::Passthrough).await
    }

    async fn chat_completion_stream_raw(&self, _: &str, _: Bytes) -> Result<ByteStream, Error> {
        self.raw_stream(Method::ChatStreamRaw).await
    }

    async fn chat_completion_raw(&self, _: &str, _: Bytes) -> Result<Bytes, Error> {
        self.raw(Method::ChatRaw).await
    }

    async fn anthropic_messages_raw(&self, _: Bytes) -> Result<Bytes, Error> {
        self.raw(Method::AnthropicRaw).await
    }

    async fn anthropic_messages_stream_raw(&self, _: Bytes) -> Result<ByteStream, Error> {
        self.raw_stream(Method::AnthropicStreamRaw).await
    }

    async fn gemini_generate_content_raw(&self, _: &str, _: Bytes) -> Result<Bytes, Error> {
        self.raw(Method::GeminiRaw).await
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        _: &str,
        _: Bytes,
    ) -> Result<ByteStream, Error> {
        self.raw_stream(Method::GeminiStreamRaw).await
    }
}
