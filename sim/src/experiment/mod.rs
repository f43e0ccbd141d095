//! Experiments: what retries, jitter and a budget do to a shared resource under contention.
//!
//! Unlike scenarios, which judge one wrapper against oracles, an experiment
//! runs several policies over the same seeded worlds and reports numbers
//! side by side. Both are deterministic per seed.
//!
//! | experiment | question |
//! |---|---|
//! | [`jitter`] | how much work and time each jitter kind costs N clients racing for one write |
//! | [`storm`] | whether a provider near capacity recovers from a short overload, with and without retries and a budget |

pub mod jitter;
pub mod plot;
pub mod storm;

use crabllm_core::{BoxStream, ChatCompletionRequest, ChatCompletionResponse, Error, Provider};
use std::future::Future;

/// A provider whose only real method is `chat_completion`, given as a closure.
#[derive(Clone)]
pub(crate) struct ChatOnly<F>(pub(crate) F);

impl<F, Fut> Provider for ChatOnly<F>
where
    F: Fn() -> Fut + Send + Sync,
    Fut: Future<Output = Result<(), Error>> + Send,
{
    async fn chat_completion(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        (self.0)().await.map(|()| ChatCompletionResponse::default())
    }

    async fn chat_completion_stream(
        &self,
        _: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<crabllm_core::ChatCompletionChunk, Error>>, Error> {
        Err(Error::not_implemented("chat_completion_stream"))
    }

    crate::chat_only_provider_rest!();
}

/// A paused current-thread runtime: experiments run on virtual time.
pub(crate) fn paused() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

/// The answer a contended or overloaded resource gives: transient, so it is retried.
pub(crate) fn busy(body: &str) -> Error {
    Error::Provider {
        status: 503,
        body: body.to_string(),
        retry_after: None,
    }
}
