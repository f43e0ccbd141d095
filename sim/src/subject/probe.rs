//! The provider every subject wraps: it records each attempt it sees.
//!
//! A [`Probe`] sits between the subject and the world's provider (the
//! backend in process, the HTTP client over the network). Every call into
//! it is one attempt: it records the attempt's start and its end (an
//! attempt dropped before it answered, as by a timeout, ends `dropped`).
//! It answers the `is_*_compat` flags the world gives its client.

use crate::backend::Backend;
use crate::link::{Cursor, Link};
use crate::trace::{AttemptOutcome, Failure, Kind, Reported};
use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The world's provider as a subject sees it, recording every attempt.
#[derive(Debug, Clone)]
pub struct Probe {
    link: Link,
    backend: Arc<Backend>,
    client: u32,
    cursor: Cursor,
    compat: u8,
    /// (call, attempts seen in it)
    attempts: Arc<Mutex<(u64, u32)>>,
}

/// Writes what a subject reports of itself into the trace, under the
/// call its client is making.
#[derive(Debug, Clone)]
pub struct Reporter {
    backend: Arc<Backend>,
    client: u32,
    cursor: Cursor,
}

impl Reporter {
    /// Record `event` now.
    pub fn report(&self, event: Reported) {
        self.backend
            .record(self.client, self.cursor.get(), Kind::Reported { event });
    }
}

impl Probe {
    /// Probe `link` for `client`, recording into `backend`'s trace; `compat`
    /// holds the `is_*_compat` flags as [`compat_bits`](crate::trace::compat_bits).
    pub fn new(link: Link, backend: Arc<Backend>, client: u32, cursor: Cursor, compat: u8) -> Self {
        Self {
            link,
            backend,
            client,
            cursor,
            compat,
            attempts: Arc::new(Mutex::new((u64::MAX, 0))),
        }
    }

    /// A handle for the subject's own reports.
    pub fn reporter(&self) -> Reporter {
        Reporter {
            backend: self.backend.clone(),
            client: self.client,
            cursor: self.cursor.clone(),
        }
    }

    fn next_attempt(&self) -> (u64, u32) {
        let call = self.cursor.get();
        let mut state = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 != call {
            *state = (call, 0);
        }
        let attempt = state.1;
        state.1 = state.1.saturating_add(1);
        (call, attempt)
    }

    async fn attempt<T>(&self, answer: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let (call, attempt) = self.next_attempt();
        let record = self.backend.start_attempt(self.client, call, attempt, 0);
        let result = answer.await;
        record.end(match &result {
            Ok(_) => AttemptOutcome::Ok,
            Err(e) => AttemptOutcome::Failed(Failure::of(e)),
        });
        result
    }
}

/// One attempt of `$method` through whichever provider the world links.
macro_rules! through {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        $self
            .attempt(async {
                match &$self.link {
                    Link::Local(p) => p.$method($($arg),*).await,
                    Link::Http(p) => p.$method($($arg),*).await,
                }
            })
            .await
    };
}

type Streamed<T> = Result<BoxStream<'static, Result<T, Error>>, Error>;

impl Provider for Probe {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        through!(self.chat_completion(r))
    }

    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Streamed<ChatCompletionChunk> {
        through!(self.chat_completion_stream(r))
    }

    async fn anthropic_messages(
        &self,
        r: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        through!(self.anthropic_messages(r))
    }

    async fn anthropic_messages_stream(
        &self,
        r: &anthropic::Request,
    ) -> Streamed<anthropic::StreamEvent> {
        through!(self.anthropic_messages_stream(r))
    }

    async fn gemini_generate_content(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        through!(self.gemini_generate_content(model, r))
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Streamed<gemini::Response> {
        through!(self.gemini_generate_content_stream(model, r))
    }

    async fn complete(&self, r: &ir::Request) -> Result<ir::Response, Error> {
        through!(self.complete(r))
    }

    async fn complete_stream(&self, r: &ir::Request) -> Streamed<ir::StreamEvent> {
        through!(self.complete_stream(r))
    }

    async fn embedding(&self, r: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        through!(self.embedding(r))
    }

    async fn image_generation(&self, r: &ImageRequest) -> Result<(Bytes, String), Error> {
        through!(self.image_generation(r))
    }

    async fn audio_speech(&self, r: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        through!(self.audio_speech(r))
    }

    async fn audio_transcription(
        &self,
        model: &str,
        fields: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        through!(self.audio_transcription(model, fields))
    }

    async fn models(&self) -> Result<ModelList, Error> {
        through!(self.models())
    }

    fn is_openai_compat(&self) -> bool {
        self.compat & 1 != 0
    }

    fn is_anthropic_compat(&self) -> bool {
        self.compat & 2 != 0
    }

    fn is_gemini_compat(&self) -> bool {
        self.compat & 4 != 0
    }

    async fn chat_completion_stream_passthrough(
        &self,
        model: &str,
        body: ByteStream,
    ) -> Result<ByteStream, Error> {
        self.attempt(async {
            match &self.link {
                Link::Local(p) => p.chat_completion_stream_passthrough(model, body).await,
                Link::Http(p) => p.chat_completion_stream_passthrough(model, body).await,
            }
        })
        .await
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        through!(self.chat_completion_stream_raw(model, body.clone()))
    }

    async fn chat_completion_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        through!(self.chat_completion_raw(model, body.clone()))
    }

    async fn anthropic_messages_raw(&self, body: Bytes) -> Result<Bytes, Error> {
        through!(self.anthropic_messages_raw(body.clone()))
    }

    async fn anthropic_messages_stream_raw(&self, body: Bytes) -> Result<ByteStream, Error> {
        through!(self.anthropic_messages_stream_raw(body.clone()))
    }

    async fn gemini_generate_content_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        through!(self.gemini_generate_content_raw(model, body.clone()))
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        through!(self.gemini_generate_content_stream_raw(model, body.clone()))
    }
}
