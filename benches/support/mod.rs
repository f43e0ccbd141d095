//! The provider the overhead benches and the allocation test drive: it
//! answers at once, after one pending poll, or after one failure, and does
//! no work of its own beyond building an empty answer.

use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
    anthropic, gemini,
};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};

/// How the bench provider answers each chat call.
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Ready on the first poll.
    Ready,
    /// Pending once (after waking), then ready: the shape of real I/O.
    PendingOnce,
    /// Every other attempt is a 503; the next succeeds.
    FailOnce,
}

#[derive(Debug, Clone)]
pub struct Bench {
    mode: Mode,
    failed: Arc<AtomicBool>,
}

impl Bench {
    pub fn new(mode: Mode) -> Self {
        Self {
            mode,
            failed: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Pending once, then ready.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

pub const CHUNKS: usize = 64;

impl Provider for Bench {
    async fn chat_completion(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        match self.mode {
            Mode::Ready => {}
            Mode::PendingOnce => yield_once().await,
            Mode::FailOnce => {
                // Alternate: fail, succeed, fail, ... so each call fails exactly once.
                if !self.failed.fetch_xor(true, Ordering::Relaxed) {
                    return Err(Error::Provider {
                        status: 503,
                        body: String::new(),
                        retry_after: None,
                    });
                }
            }
        }
        Ok(ChatCompletionResponse::default())
    }

    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        let chunks = (0..CHUNKS).map(|_| Ok(ChatCompletionChunk::default()));
        Ok(Box::pin(futures::stream::iter(chunks)))
    }

    // The other required methods, never called here. Written out rather
    // than taken from the simulator's macro: the wrapper's own tests
    // (tests/allocations.rs includes this file) must not build the
    // simulator, or every mutant of the wrapper would rebuild it.
    async fn anthropic_messages(
        &self,
        _: &anthropic::Request,
    ) -> Result<anthropic::Response, Error> {
        Err(Error::not_implemented("anthropic_messages"))
    }

    async fn anthropic_messages_stream(
        &self,
        _: &anthropic::Request,
    ) -> Result<BoxStream<'static, Result<anthropic::StreamEvent, Error>>, Error> {
        Err(Error::not_implemented("anthropic_messages_stream"))
    }

    async fn gemini_generate_content_stream(
        &self,
        _: &str,
        _: &gemini::Request,
    ) -> Result<BoxStream<'static, Result<gemini::Response, Error>>, Error> {
        Err(Error::not_implemented("gemini_generate_content_stream"))
    }
}

/// Poll `future` to completion with a no-op waker; the bench providers never
/// need a real wake-up.
pub fn drive<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

pub fn request() -> ChatCompletionRequest {
    serde_json::from_str(r#"{"model":"m","messages":[]}"#).expect("a minimal request parses")
}

/// A current-thread runtime on the real clock.
pub fn real_clock() -> tokio::runtime::Runtime {
    runtime(false)
}

/// A current-thread runtime on a clock paused from the start.
pub fn paused_clock() -> tokio::runtime::Runtime {
    runtime(true)
}

fn runtime(paused: bool) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(paused)
        .build()
        .expect("a current-thread runtime builds")
}
