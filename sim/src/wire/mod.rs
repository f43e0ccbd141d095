//! Every method family, end to end: the values a provider hands back (each
//! carrying its [`ChunkId`] payload), and the caller's side of each method.
//!
//! | module | role |
//! |---|---|
//! | [`items`] | typed responses and stream items built from, and read back to, payloads |
//!
//! [`invoke`] makes one call of any [`Method`] on any provider, reports each
//! item's payload as it arrives, and says how the call ended.

pub mod items;

use crate::method::Method;
use crate::trace::ChunkId;
use crabllm_core::{ChatCompletionRequest, Error, Provider};
use futures::StreamExt;

/// How a failed call ended.
#[derive(Debug)]
pub struct Ended {
    pub error: Error,
    /// `Some(timeout)` when a handed-over stream failed after its items.
    pub stream_failed: Option<bool>,
}

impl From<Error> for Ended {
    fn from(error: Error) -> Self {
        Ended {
            error,
            stream_failed: None,
        }
    }
}

/// Read a typed stream to its end, reporting each item's payload.
async fn drain<T, E>(
    mut items: impl futures::Stream<Item = Result<T, E>> + Unpin,
    payload: impl Fn(&T) -> Option<ChunkId>,
    error: impl Fn(E) -> Error,
    on_item: &mut impl FnMut(Option<ChunkId>),
) -> Result<(), Ended> {
    while let Some(item) = items.next().await {
        match item {
            Ok(item) => on_item(payload(&item)),
            Err(e) => {
                let error = error(e);
                return Err(Ended {
                    stream_failed: Some(matches!(error, Error::Timeout)),
                    error,
                });
            }
        }
    }
    Ok(())
}

/// Make one call of `method` on `provider`, reporting every item's payload
/// (a unary response counts as one item).
///
/// # Errors
///
/// The call's error, and whether it came from a handed-over stream.
pub async fn invoke<P: Provider>(
    provider: &P,
    method: Method,
    mut on_item: impl FnMut(Option<ChunkId>),
) -> Result<(), Ended> {
    let chat = ChatCompletionRequest::default();
    match method {
        Method::Chat => {
            let r = provider.chat_completion(&chat).await?;
            on_item(items::payload_of(&r));
            Ok(())
        }
        Method::ChatStream => {
            let s = provider.chat_completion_stream(&chat).await?;
            drain(s, items::payload_of, |e| e, &mut on_item).await
        }
        other => Err(Error::Internal(format!("method {other} is not driven yet")).into()),
    }
}
