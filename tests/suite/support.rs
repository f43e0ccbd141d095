//! A small scripted provider for the wrapper's behaviour tests.
//!
//! Every call, whatever the method, takes the next step of one script and
//! records the method name and the virtual instant it was made.

use bytes::Bytes;
use crabllm_core::{
    AudioSpeechRequest, BoxStream, ByteStream, ChatCompletionChunk, ChatCompletionRequest,
    ChatCompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ImageRequest, ModelList,
    MultipartField, Provider, anthropic, gemini, ir,
};
use futures::StreamExt;
use provider_retry::Event;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, sleep};

pub fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub enum Step {
    /// Succeed after this long.
    Ok(Duration),
    /// Fail with this HTTP status (and Retry-After) at once.
    Status(u16, Option<Duration>),
    /// Fail with this HTTP status (no Retry-After) after this long.
    StatusAfter(Duration, u16),
    /// Fail with a network error at once.
    Network,
    /// Fail with a decode error (not transient).
    Decode,
    /// Never answer; sets the shared flag when dropped.
    Hang,
    /// Open a stream whose item `i` arrives `gaps[i]` after the previous;
    /// then end, fail, or stall forever.
    Stream(Vec<Duration>, End),
}

#[derive(Clone, Copy, Debug)]
pub enum End {
    Done,
    Fail,
    Stall,
}

#[derive(Clone, Default)]
pub struct Scripted {
    script: Arc<Mutex<VecDeque<Step>>>,
    /// What to do once the script runs out.
    fallback: Option<Arc<Step>>,
    pub calls: Arc<Mutex<Vec<(&'static str, Instant)>>>,
    pub dropped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Scripted {
    pub fn new(steps: impl IntoIterator<Item = Step>) -> Self {
        Self {
            script: Arc::new(Mutex::new(steps.into_iter().collect())),
            ..Self::default()
        }
    }

    /// Answer `step` forever after the script runs out.
    pub fn then_always(mut self, step: Step) -> Self {
        self.fallback = Some(Arc::new(step));
        self
    }

    pub fn count(&self) -> usize {
        self.calls.lock().unwrap().len()
    }

    pub fn methods(&self) -> Vec<&'static str> {
        self.calls.lock().unwrap().iter().map(|c| c.0).collect()
    }

    /// Virtual milliseconds from `start` at which each call was made.
    pub fn call_times(&self, start: Instant) -> Vec<u128> {
        let calls = self.calls.lock().unwrap();
        calls.iter().map(|c| (c.1 - start).as_millis()).collect()
    }

    fn take(&self, method: &'static str) -> Step {
        self.calls.lock().unwrap().push((method, Instant::now()));
        let next = self.script.lock().unwrap().pop_front();
        next.or_else(|| self.fallback.as_deref().cloned())
            .unwrap_or(Step::Status(599, None))
    }

    /// Play the next step up to its answer: `Ok(Some(stream items))` for a
    /// stream, `Ok(None)` for a plain success.
    async fn play(&self, method: &'static str) -> Result<Option<(Vec<Duration>, End)>, Error> {
        match self.take(method) {
            Step::Ok(after) => {
                sleep(after).await;
                Ok(None)
            }
            Step::Status(status, retry_after) => Err(Error::Provider {
                status,
                body: format!("scripted {status}"),
                retry_after,
            }),
            Step::StatusAfter(after, status) => {
                sleep(after).await;
                Err(Error::Provider {
                    status,
                    body: format!("scripted {status}"),
                    retry_after: None,
                })
            }
            Step::Network => Err(Error::Network("scripted".into())),
            Step::Decode => Err(Error::Decode("scripted".into())),
            Step::Hang => {
                let _guard = DropFlag(self.dropped.clone());
                std::future::pending::<()>().await;
                unreachable!("pending never completes")
            }
            Step::Stream(gaps, end) => Ok(Some((gaps, end))),
        }
    }

    /// For methods whose success value the tests never need.
    async fn play_err<T>(&self, method: &'static str) -> Result<T, Error> {
        self.play(method).await?;
        Err(Error::Invalid(method.into()))
    }

    async fn play_stream<T: Send + 'static, E: Send + 'static>(
        &self,
        method: &'static str,
        item: fn(usize) -> Result<T, E>,
        fail: fn() -> E,
    ) -> Result<BoxStream<'static, Result<T, E>>, Error> {
        let Some((gaps, end)) = self.play(method).await? else {
            return Ok(Box::pin(futures::stream::empty()));
        };
        let items =
            futures::stream::iter(gaps.into_iter().enumerate()).then(move |(i, gap)| async move {
                sleep(gap).await;
                item(i)
            });
        let tail: BoxStream<'static, Result<T, E>> = match end {
            End::Done => Box::pin(futures::stream::empty()),
            End::Fail => Box::pin(futures::stream::once(async move { Err(fail()) })),
            End::Stall => Box::pin(futures::stream::pending()),
        };
        Ok(Box::pin(items.chain(tail)))
    }
}

pub fn chunk(i: usize) -> Result<ChatCompletionChunk, Error> {
    Ok(ChatCompletionChunk {
        id: i.to_string(),
        ..Default::default()
    })
}

fn byte_chunk(i: usize) -> Result<Bytes, std::io::Error> {
    Ok(Bytes::from(i.to_string()))
}

fn net_err() -> Error {
    Error::Network("scripted mid-stream".into())
}

fn io_err() -> std::io::Error {
    std::io::Error::other("scripted mid-stream")
}

fn opaque<T>(_: usize) -> Result<T, Error> {
    Err(Error::Internal(
        "scripted streams carry no typed items here".into(),
    ))
}

impl Provider for Scripted {
    async fn chat_completion(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        self.play("chat_completion").await?;
        Ok(ChatCompletionResponse::default())
    }
    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        self.play_stream("chat_completion_stream", chunk, net_err)
            .await
    }
    async fn anthropic_messages(
        &self,
        _: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        self.play_err("anthropic_messages").await
    }
    async fn anthropic_messages_stream(
        &self,
        _: &anthropic::Request,
    ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
        self.play_stream("anthropic_messages_stream", opaque, net_err)
            .await
    }
    async fn gemini_generate_content(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<gemini::Response, Error> {
        self.play_err("gemini_generate_content").await
    }
    async fn gemini_generate_content_stream(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        self.play_stream("gemini_generate_content_stream", opaque, net_err)
            .await
    }
    async fn complete(&self, _: &ir::Request) -> Result<ir::Response, Error> {
        self.play_err("complete").await
    }
    async fn complete_stream(
        &self,
        _: &ir::Request,
    ) -> Result<BoxStream<'static, Result<ir::StreamEvent, Error>>, Error> {
        self.play_stream("complete_stream", opaque, net_err).await
    }
    async fn embedding(&self, _: &EmbeddingRequest) -> Result<EmbeddingResponse, Error> {
        self.play_err("embedding").await
    }
    async fn image_generation(&self, _: &ImageRequest) -> Result<(Bytes, String), Error> {
        self.play_err("image_generation").await
    }
    async fn audio_speech(&self, _: &AudioSpeechRequest) -> Result<(Bytes, String), Error> {
        self.play_err("audio_speech").await
    }
    async fn audio_transcription(
        &self,
        _: &str,
        _: &[MultipartField],
    ) -> Result<(Bytes, String), Error> {
        self.play_err("audio_transcription").await
    }
    async fn models(&self) -> Result<ModelList, Error> {
        self.play_err("models").await
    }
    fn is_openai_compat(&self) -> bool {
        true
    }
    fn is_anthropic_compat(&self) -> bool {
        true
    }
    fn is_gemini_compat(&self) -> bool {
        true
    }
    async fn chat_completion_stream_passthrough(
        &self,
        _: &str,
        _: ByteStream,
    ) -> Result<ByteStream, Error> {
        self.play_stream("chat_completion_stream_passthrough", byte_chunk, io_err)
            .await
    }
    async fn chat_completion_stream_raw(&self, _: &str, _: Bytes) -> Result<ByteStream, Error> {
        self.play_stream("chat_completion_stream_raw", byte_chunk, io_err)
            .await
    }
    async fn chat_completion_raw(&self, _: &str, _: Bytes) -> Result<Bytes, Error> {
        self.play_err("chat_completion_raw").await
    }
    async fn anthropic_messages_raw(&self, _: Bytes) -> Result<Bytes, Error> {
        self.play_err("anthropic_messages_raw").await
    }
    async fn anthropic_messages_stream_raw(&self, _: Bytes) -> Result<ByteStream, Error> {
        self.play_stream("anthropic_messages_stream_raw", byte_chunk, io_err)
            .await
    }
    async fn gemini_generate_content_raw(&self, _: &str, _: Bytes) -> Result<Bytes, Error> {
        self.play_err("gemini_generate_content_raw").await
    }
    async fn gemini_generate_content_stream_raw(
        &self,
        _: &str,
        _: Bytes,
    ) -> Result<ByteStream, Error> {
        self.play_stream("gemini_generate_content_stream_raw", byte_chunk, io_err)
            .await
    }
}

/// A compact, comparable line per observer event, with virtual ms from `start`.
pub fn describe(event: &Event<'_>, start: Instant) -> String {
    let t = |at: Instant| (at - start).as_millis();
    match event {
        Event::AttemptStarted { attempt, at, .. } => format!("{} start {attempt}", t(*at)),
        Event::AttemptEnded {
            attempt,
            at,
            outcome,
            ..
        } => {
            let how = match outcome {
                provider_retry::Outcome::Ok => "ok".to_string(),
                provider_retry::Outcome::Error(e) => format!("error {}", e.http_status()),
                provider_retry::Outcome::TimedOut => "timed out".to_string(),
            };
            format!("{} end {attempt} {how}", t(*at))
        }
        Event::Delay {
            attempt,
            at,
            delay,
            reason,
            ..
        } => {
            format!(
                "{} delay {attempt} {}ms {reason:?}",
                t(*at),
                delay.as_millis()
            )
        }
        Event::Throttled {
            attempt,
            at,
            wait,
            reason,
            ..
        } => {
            format!(
                "{} throttled {attempt} {}ms {}",
                t(*at),
                wait.as_millis(),
                reason.as_str()
            )
        }
        Event::GaveUp {
            attempt,
            at,
            reason,
            ..
        } => {
            format!("{} gave up {attempt} {}", t(*at), reason.as_str())
        }
        Event::StreamTimedOut {
            at, bound, limit, ..
        } => {
            format!(
                "{} stream timed out {} {}ms",
                t(*at),
                bound.as_str(),
                limit.as_millis()
            )
        }
    }
}

/// An observer that records [`describe`] lines.
pub fn recorder(start: Instant) -> (Arc<Mutex<Vec<String>>>, impl provider_retry::Observer) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = log.clone();
    (log, move |e: &Event<'_>| {
        sink.lock().unwrap().push(describe(e, start))
    })
}

pub fn request() -> ChatCompletionRequest {
    ChatCompletionRequest::default()
}
