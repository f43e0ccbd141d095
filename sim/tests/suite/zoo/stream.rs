//! Handed-over streams: the idle bound, and the two planted re-open defects.

use super::defect::Defect;
use crabllm_core::{BoxStream, ChatCompletionChunk, ChatCompletionRequest, Error, Provider};
use futures::StreamExt;
use std::time::Duration;

/// The error that ends a stream silent for too long.
pub trait IdleTimeout {
    fn idle_timeout() -> Self;
}

impl IdleTimeout for Error {
    fn idle_timeout() -> Self {
        Error::Timeout
    }
}

impl IdleTimeout for std::io::Error {
    fn idle_timeout() -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "stream idle timeout")
    }
}

/// `stream`, ended with a timeout error if it stays silent for `first`
/// before its first item or for `idle` between later ones (zero: never).
/// Each silence is timed per poll of the next item.
pub fn idle_bounded<T, E>(
    stream: BoxStream<'static, Result<T, E>>,
    first: Duration,
    idle: Duration,
) -> BoxStream<'static, Result<T, E>>
where
    T: Send + 'static,
    E: IdleTimeout + Send + 'static,
{
    if first.is_zero() && idle.is_zero() {
        return stream;
    }
    Box::pin(futures::stream::unfold(
        Some((stream, first)),
        move |state| async move {
            let (mut stream, bound) = state?;
            if bound.is_zero() {
                let item = stream.next().await?;
                return Some((item, Some((stream, idle))));
            }
            match tokio::time::timeout(bound, stream.next()).await {
                Ok(Some(item)) => Some((item, Some((stream, idle)))),
                Ok(None) => None,
                Err(_) => Some((Err(E::idle_timeout()), None)),
            }
        },
    ))
}

/// What a re-opening stream carries between items.
struct Reopening<P> {
    inner: P,
    request: ChatCompletionRequest,
    current: BoxStream<'static, Result<ChatCompletionChunk, Error>>,
    delivered: u32,
    reopens_left: u32,
    skip_delivered: bool,
}

/// A chat stream that, on an error after hand-over, opens a second stream
/// and goes on delivering from it: from its start
/// ([`Defect::ReplaysFailedStream`]) or past the items already delivered
/// ([`Defect::SplicesSecondStream`]).
pub fn reopening<P>(
    inner: P,
    request: ChatCompletionRequest,
    first: BoxStream<'static, Result<ChatCompletionChunk, Error>>,
    defect: Defect,
    reopens: u32,
) -> BoxStream<'static, Result<ChatCompletionChunk, Error>>
where
    P: Provider + Clone + 'static,
{
    let state = Reopening {
        inner,
        request,
        current: first,
        delivered: 0,
        reopens_left: reopens,
        skip_delivered: defect == Defect::SplicesSecondStream,
    };
    Box::pin(futures::stream::unfold(state, |mut s| async move {
        loop {
            match s.current.next().await? {
                Ok(chunk) => {
                    s.delivered += 1;
                    return Some((Ok(chunk), s));
                }
                Err(error) if s.reopens_left == 0 => return Some((Err(error), s)),
                Err(error) => {
                    s.reopens_left -= 1;
                    let Ok(mut next) = s.inner.chat_completion_stream(&s.request).await else {
                        return Some((Err(error), s));
                    };
                    if s.skip_delivered {
                        for _ in 0..s.delivered {
                            let _ = next.next().await;
                        }
                    }
                    s.current = next;
                }
            }
        }
    }))
}
