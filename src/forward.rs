//! The `Provider` impl: every method forwarded, the retried ones through the one loop.
//!
//! The table of what is retried is in the crate docs.

use crate::attempt::Attempt;
use crate::observe::Emitter;
use crate::retrying::Retrying;
use crate::stream::{IdleError, bound};
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use std::future::Future;

type Opened<T> = Result<BoxStream<'static, Result<T, Error>>, Error>;

impl<P: Provider> Retrying<P> {
    /// Retry opening a stream, then bound the open stream's silences (see [`bound`]).
    async fn retry_open<T, E, Fut>(
        &self,
        method: &'static str,
        open: impl FnMut() -> Fut + Clone,
    ) -> Result<BoxStream<'static, Result<T, E>>, Error>
    where
        T: Send + 'static,
        E: IdleError + Send + 'static,
        Fut: Future<Output = Result<BoxStream<'static, Result<T, E>>, Error>>,
    {
        let emit = self.emitter(method);
        let stream = self.retry_with(&emit, open).await?;
        Ok(self.bound(stream, &emit))
    }

    /// Put an open stream behind the policy's `first_chunk` and `stream_idle`.
    fn bound<T, E>(
        &self,
        stream: BoxStream<'static, Result<T, E>>,
        emit: &Emitter<'_>,
    ) -> BoxStream<'static, Result<T, E>>
    where
        T: Send + 'static,
        E: IdleError + Send + 'static,
    {
        let policy = self.get_policy();
        bound(
            stream,
            policy.get_first_chunk(),
            policy.get_stream_idle(),
            emit.for_stream(),
        )
    }
}

impl<P: Provider> Provider for Retrying<P> {
    // The non-streaming methods return the loop's future itself rather than
    // awaiting it in another `async fn`: one state machine less, one move of
    // the answer less on every call.
    fn chat_completion(
        &self,
        request: &ChatCompletionRequest,
    ) -> impl Future<Output = Result<ChatCompletionResponse, Error>> + Send {
        self.retry("chat_completion", move || {
            self.get_ref().chat_completion(request)
        })
    }

    async fn chat_completion_stream(
        &self,
        request: &ChatCompletionRequest,
    ) -> Opened<ChatCompletionChunk> {
        self.retry_open("chat_completion_stream", || {
            self.get_ref().chat_completion_stream(request)
        })
        .await
    }

    fn anthropic_messages(
        &self,
        request: &anthropic::Request,
    ) -> impl Future<Output = Result<anthropic::Response, Error>> + Send {
        self.retry("anthropic_messages", move || {
            self.get_ref().anthropic_messages(request)
        })
    }

    async fn anthropic_messages_stream(
        &self,
        request: &anthropic::Request,
    ) -> Opened<anthropic::StreamEvent> {
        self.retry_open("anthropic_messages_stream", || {
            self.get_ref().anthropic_messages_stream(request)
        })
        .await
    }

    fn gemini_generate_content(
        &self,
        model: &str,
        request: &gemini::Request,
    ) -> impl Future<Output = Result<gemini::Response, Error>> + Send {
        self.retry("gemini_generate_content", move || {
            self.get_ref().gemini_generate_content(model, request)
        })
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        request: &gemini::Request,
    ) -> Opened<gemini::Response> {
        self.retry_open("gemini_generate_content_stream", || {
            self.get_ref()
                .gemini_generate_content_stream(model, request)
        })
        .await
    }

    fn complete(
        &self,
        request: &ir::Request,
    ) -> impl Future<Output = Result<ir::Response, Error>> + Send {
        self.retry("complete", move || self.get_ref().complete(request))
    }

    async fn complete_stream(&self, request: &ir::Request) -> Opened<ir::StreamEvent> {
        self.retry_open("complete_stream", || {
            self.get_ref().complete_stream(request)
        })
        .await
    }

    fn embedding(
        &self,
        request: &EmbeddingRequest,
    ) -> impl Future<Output = Result<EmbeddingResponse, Error>> + Send {
        self.retry("embedding", move || self.get_ref().embedding(request))
    }

    async fn image_generation(&self, request: &ImageRequest) -> Result<(Bytes, String), Error> {
        self.get_ref().image_generation(request).await
    }

    async fn audio_speech(&self, request: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        self.get_ref().audio_speech(request).await
    }

    async fn audio_transcription(
        &self,
        model: &str,
        fields: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        self.get_ref().audio_transcription(model, fields).await
    }

    fn models(&self) -> impl Future<Output = Result<ModelList, Error>> + Send {
        self.retry("models", move || self.get_ref().models())
    }

    fn is_openai_compat(&self) -> bool {
        self.get_ref().is_openai_compat()
    }

    fn is_anthropic_compat(&self) -> bool {
        self.get_ref().is_anthropic_compat()
    }

    fn is_gemini_compat(&self) -> bool {
        self.get_ref().is_gemini_compat()
    }

    async fn chat_completion_stream_passthrough(
        &self,
        model: &str,
        body_stream: ByteStream,
    ) -> Result<ByteStream, Error> {
        // The body is consumed by the one attempt, so there is nothing to retry with.
        let emit = self.emitter("chat_completion_stream_passthrough");
        let open = self
            .get_ref()
            .chat_completion_stream_passthrough(model, body_stream);
        let stream = Attempt::new(open, self.get_policy().get_timeout())
            .await
            .unwrap_or(Err(Error::Timeout))?;
        Ok(self.bound(stream, &emit))
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        raw_body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.retry_open("chat_completion_stream_raw", || {
            self.get_ref()
                .chat_completion_stream_raw(model, raw_body.clone())
        })
        .await
    }

    async fn chat_completion_raw(&self, model: &str, raw_body: Bytes) -> Result<Bytes, Error> {
        self.retry("chat_completion_raw", || {
            self.get_ref().chat_completion_raw(model, raw_body.clone())
        })
        .await
    }

    async fn anthropic_messages_raw(&self, raw_body: Bytes) -> Result<Bytes, Error> {
        self.retry("anthropic_messages_raw", || {
            self.get_ref().anthropic_messages_raw(raw_body.clone())
        })
        .await
    }

    async fn anthropic_messages_stream_raw(&self, raw_body: Bytes) -> Result<ByteStream, Error> {
        self.retry_open("anthropic_messages_stream_raw", || {
            self.get_ref()
                .anthropic_messages_stream_raw(raw_body.clone())
        })
        .await
    }

    async fn gemini_generate_content_raw(
        &self,
        model: &str,
        raw_body: Bytes,
    ) -> Result<Bytes, Error> {
        self.retry("gemini_generate_content_raw", || {
            self.get_ref()
                .gemini_generate_content_raw(model, raw_body.clone())
        })
        .await
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        raw_body: Bytes,
    ) -> Result<ByteStream, Error> {
        self.retry_open("gemini_generate_content_stream_raw", || {
            self.get_ref()
                .gemini_generate_content_stream_raw(model, raw_body.clone())
        })
        .await
    }
}
