//! The provider every subject wraps: it records each attempt it sees.
//!
//! A [`Probe`] sits between the subject and the world's provider (the
//! backend in process, the HTTP client over the network). Every call into
//! it is one attempt: it records the attempt's start, with the digest of
//! the request it was handed ([`Sent`]), and its end (an attempt dropped
//! before it answered, as by a timeout, ends `dropped`). It answers the
//! `is_*_compat` flags the world gives it.
//!
//! One probe may serve every client (a wrapper shared by all of them): it
//! attributes each attempt to the call its request names, and for what
//! carries no request (`models()`, a subject's own reports) to the call
//! the client driver is polling ([`caller`]), and tells the link below it
//! which call each attempt belongs to.

use crate::backend::Backend;
use crate::link::{Link, caller};
use crate::trace::{AttemptOutcome, Failure, Kind, Reported};
use crate::wire::address::CallId;
use crate::wire::digest::Sent;
use crate::wire::requests::ir_sent;
use bytes::{Bytes, BytesMut};
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use futures::StreamExt;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// The world's provider as a subject sees it, recording every attempt.
#[derive(Debug, Clone)]
pub struct Probe {
    link: Link,
    backend: Arc<Backend>,
    compat: u8,
    /// How many attempts each call has made so far.
    attempts: Arc<Mutex<BTreeMap<CallId, u32>>>,
}

/// Writes what a subject reports of itself into the trace, under the
/// call being polled when it reports ([`caller`]).
#[derive(Debug, Clone)]
pub struct Reporter {
    backend: Arc<Backend>,
}

impl Reporter {
    /// Record `event` now.
    pub fn report(&self, event: Reported) {
        let id = caller::current().unwrap_or(CallId::UNATTRIBUTED);
        self.backend
            .record(id.client, id.call, Kind::Reported { event });
    }
}

impl Probe {
    /// Probe `link`, recording into `backend`'s trace; `compat` holds the
    /// `is_*_compat` flags as [`compat_bits`](crate::trace::compat_bits).
    pub fn new(link: Link, backend: Arc<Backend>, compat: u8) -> Self {
        Self {
            link,
            backend,
            compat,
            attempts: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }

    /// A handle for the subject's own reports.
    pub fn reporter(&self) -> Reporter {
        Reporter {
            backend: self.backend.clone(),
        }
    }

    /// The number of `id`'s next attempt, from 0.
    fn next_attempt(&self, id: CallId) -> u32 {
        let mut attempts = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        let next = attempts.entry(id).or_insert(0);
        let attempt = *next;
        *next = next.saturating_add(1);
        attempt
    }

    /// One attempt sending `sent` (`None`: a method without a request),
    /// answered by `answer` on the link told whose attempt it is.
    async fn attempt<T, F, Fut>(&self, sent: Option<Sent>, answer: F) -> Result<T, Error>
    where
        F: FnOnce(Link) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let id = sent
            .and_then(|s| s.call)
            .or_else(caller::current)
            .unwrap_or(CallId::UNATTRIBUTED);
        let attempt = self.next_attempt(id);
        let digest = sent.map(|s| s.digest);
        let record = self
            .backend
            .start_attempt(id.client, id.call, attempt, 0, digest);
        let result = answer(self.link.at(id)).await;
        record.end(match &result {
            Ok(_) => AttemptOutcome::Ok,
            Err(e) => AttemptOutcome::Failed(Failure::of(e)),
        });
        result
    }
}

/// One attempt of `$method`, sending what `$sent` says, through whichever
/// provider the world links.
macro_rules! through {
    ($self:ident . $method:ident ( $($arg:expr),* ), $sent:expr) => {
        $self
            .attempt($sent, |link| async move {
                match &link {
                    Link::Local(p) => p.$method($($arg),*).await,
                    Link::Http(p) => p.$method($($arg),*).await,
                }
            })
            .await
    };
}

/// A passthrough body read whole (it is in memory: no time passes), as
/// bytes to digest and a stream to send on, ending as the original did.
async fn read_body(mut body: ByteStream) -> (Bytes, ByteStream) {
    let mut whole = BytesMut::new();
    while let Some(piece) = body.next().await {
        match piece {
            Ok(piece) => whole.extend_from_slice(&piece),
            Err(e) => {
                let sent = whole.freeze();
                let again = futures::stream::iter([Ok(sent.clone()), Err(e)]);
                return (sent, Box::pin(again));
            }
        }
    }
    let sent = whole.freeze();
    (sent.clone(), Box::pin(futures::stream::iter([Ok(sent)])))
}

type Streamed<T> = Result<BoxStream<'static, Result<T, Error>>, Error>;

impl Provider for Probe {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        through!(self.chat_completion(r), Some(Sent::typed(r, None)))
    }

    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Streamed<ChatCompletionChunk> {
        through!(self.chat_completion_stream(r), Some(Sent::typed(r, None)))
    }

    async fn anthropic_messages(
        &self,
        r: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        through!(self.anthropic_messages(r), Some(Sent::typed(r, None)))
    }

    async fn anthropic_messages_stream(
        &self,
        r: &anthropic::Request,
    ) -> Streamed<anthropic::StreamEvent> {
        through!(
            self.anthropic_messages_stream(r),
            Some(Sent::typed(r, None))
        )
    }

    async fn gemini_generate_content(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        through!(
            self.gemini_generate_content(model, r),
            Some(Sent::typed(r, Some(model)))
        )
    }

    async fn gemini_generate_content_stream(
        &self,
        model: &str,
        r: &gemini::Request,
    ) -> Streamed<gemini::Response> {
        through!(
            self.gemini_generate_content_stream(model, r),
            Some(Sent::typed(r, Some(model)))
        )
    }

    async fn complete(&self, r: &ir::Request) -> Result<ir::Response, Error> {
        through!(self.complete(r), Some(ir_sent(r)))
    }

    async fn complete_stream(&self, r: &ir::Request) -> Streamed<ir::StreamEvent> {
        through!(self.complete_stream(r), Some(ir_sent(r)))
    }

    async fn embedding(&self, r: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        through!(self.embedding(r), Some(Sent::typed(r, None)))
    }

    async fn image_generation(&self, r: &ImageRequest) -> Result<(Bytes, String), Error> {
        through!(self.image_generation(r), Some(Sent::typed(r, None)))
    }

    async fn audio_speech(&self, r: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        through!(self.audio_speech(r), Some(Sent::typed(r, None)))
    }

    async fn audio_transcription(
        &self,
        model: &str,
        fields: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        through!(
            self.audio_transcription(model, fields),
            Some(Sent::fields(model, fields))
        )
    }

    async fn models(&self) -> Result<ModelList, Error> {
        through!(self.models(), None)
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
        // Read before the attempt starts, to say whose attempt it is and
        // what it sends; the link gets the same bytes.
        let (sent, body) = read_body(body).await;
        through!(
            self.chat_completion_stream_passthrough(model, body),
            Some(Sent::body::<ChatCompletionRequest>(&sent, None))
        )
    }

    async fn chat_completion_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        through!(
            self.chat_completion_stream_raw(model, body.clone()),
            Some(Sent::body::<ChatCompletionRequest>(&body, None))
        )
    }

    async fn chat_completion_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        through!(
            self.chat_completion_raw(model, body.clone()),
            Some(Sent::body::<ChatCompletionRequest>(&body, None))
        )
    }

    async fn anthropic_messages_raw(&self, body: Bytes) -> Result<Bytes, Error> {
        through!(
            self.anthropic_messages_raw(body.clone()),
            Some(Sent::body::<anthropic::Request>(&body, None))
        )
    }

    async fn anthropic_messages_stream_raw(&self, body: Bytes) -> Result<ByteStream, Error> {
        through!(
            self.anthropic_messages_stream_raw(body.clone()),
            Some(Sent::body::<anthropic::Request>(&body, None))
        )
    }

    async fn gemini_generate_content_raw(&self, model: &str, body: Bytes) -> Result<Bytes, Error> {
        through!(
            self.gemini_generate_content_raw(model, body.clone()),
            Some(Sent::body::<gemini::Request>(&body, Some(model)))
        )
    }

    async fn gemini_generate_content_stream_raw(
        &self,
        model: &str,
        body: Bytes,
    ) -> Result<ByteStream, Error> {
        through!(
            self.gemini_generate_content_stream_raw(model, body.clone()),
            Some(Sent::body::<gemini::Request>(&body, Some(model)))
        )
    }
}
