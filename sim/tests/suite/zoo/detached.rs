//! The variants whose work outlives their caller: each runs part of
//! `chat_completion` in a task of its own and awaits its `JoinHandle`.
//! Dropping a handle does not cancel its task, so when the caller drops
//! the call the task goes on: a correct wrapper spawns nothing (rule 9).

use super::defect::Defect;
use super::planted::Planted;
use crabllm_core::{ChatCompletionRequest, ChatCompletionResponse, Error, Provider};
use tokio::task::JoinError;

impl<P: Provider + Clone + 'static> Planted<P> {
    /// `chat_completion` as this variant makes it, if its defect is one of
    /// this file's.
    pub(crate) async fn detached_chat(
        &self,
        r: &ChatCompletionRequest,
    ) -> Option<Result<ChatCompletionResponse, Error>> {
        match self.defect {
            Defect::RetriesAfterCallerLeft => Some(self.loop_in_task(r).await),
            Defect::AttemptOutlivesCaller => Some(self.retry(|| self.attempt_in_task(r)).await),
            _ => None,
        }
    }

    /// The whole retry loop in a task of its own.
    async fn loop_in_task(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        let twin = self.twin();
        let r = r.clone();
        let task = tokio::spawn(async move { twin.retry(|| twin.inner.chat_completion(&r)).await });
        joined(task.await)
    }

    /// One attempt in a task of its own, bounded by its timeout there.
    async fn attempt_in_task(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        let twin = self.twin();
        let r = r.clone();
        let task = tokio::spawn(async move { twin.attempt(twin.inner.chat_completion(&r)).await });
        joined(task.await)
    }
}

/// A task's result; its panic goes on unwinding into the caller.
fn joined<T>(result: Result<Result<T, Error>, JoinError>) -> Result<T, Error> {
    match result {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Cancelled: only as the world shuts down.
        Err(_) => Err(Error::Timeout),
    }
}
