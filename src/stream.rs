//! Idle-bounded streams: an open stream may not go silent for longer than `stream_idle`.
//!
//! Once a stream is handed to the caller nothing is retried: a chunk already
//! delivered cannot be taken back, so a retry could only lose or repeat
//! some. A stalled stream ends instead, with a timeout error as its last item.

use crate::timer::LazyTimer;
use crabllm_core::{BoxStream, Error};
use futures_core::Stream;
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error an idle-bounded stream yields when the bound expires.
pub trait IdleError {
    /// The error that ends a stream silent for too long.
    fn idle_timeout() -> Self;
}

impl IdleError for Error {
    /// [`Error::Timeout`], like an attempt that ran out of time.
    fn idle_timeout() -> Self {
        Error::Timeout
    }
}

impl IdleError for std::io::Error {
    /// An [`std::io::ErrorKind::TimedOut`] error, for raw byte streams.
    fn idle_timeout() -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "stream idle timeout")
    }
}

pin_project! {
    /// A stream that ends with a timeout error if no item arrives within `idle`.
    ///
    /// The gap is counted from the first poll that finds no item ready, so
    /// time the consumer spends between polls is not held against the
    /// provider. After the timeout item the stream is finished for good.
    pub struct IdleBounded<S> {
        #[pin]
        inner: S,
        #[pin]
        timer: LazyTimer,
        done: bool,
    }
}

impl<S> IdleBounded<S> {
    /// Bound `inner` by `idle`; zero never expires.
    pub fn new(inner: S, idle: Duration) -> Self {
        Self {
            inner,
            timer: LazyTimer::new(idle),
            done: false,
        }
    }
}

impl<S, T, E> Stream for IdleBounded<S>
where
    S: Stream<Item = Result<T, E>>,
    E: IdleError,
{
    type Item = Result<T, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = this.inner.poll_next(cx) {
            this.timer.disarm();
            *this.done = item.is_none();
            return Poll::Ready(item);
        }
        match this.timer.poll_expired(cx) {
            Poll::Ready(()) => {
                *this.done = true;
                Poll::Ready(Some(Err(E::idle_timeout())))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Box `stream` behind the idle bound, or return it as is when `idle` is zero.
pub(crate) fn bound<T, E>(
    stream: BoxStream<'static, Result<T, E>>,
    idle: Duration,
) -> BoxStream<'static, Result<T, E>>
where
    T: Send + 'static,
    E: IdleError + Send + 'static,
{
    if idle.is_zero() {
        return stream;
    }
    Box::pin(IdleBounded::new(stream, idle))
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::time::{Instant, sleep};

    fn ticking(gaps: &'static [u64]) -> BoxStream<'static, Result<u64, Error>> {
        Box::pin(futures::stream::iter(gaps).then(|&g| async move {
            sleep(Duration::from_secs(g)).await;
            Ok(g)
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn gaps_within_the_bound_pass_every_item() {
        let got: Vec<_> = bound(ticking(&[1, 5, 5, 1]), Duration::from_secs(5))
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(got, [1, 5, 5, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_ends_the_stream_with_timeout_at_the_bound() {
        let start = Instant::now();
        let mut s = bound(ticking(&[1, 2, 60, 1]), Duration::from_secs(5));
        assert_eq!(s.next().await.unwrap().unwrap(), 1);
        assert_eq!(s.next().await.unwrap().unwrap(), 2);
        assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
        assert_eq!(start.elapsed(), Duration::from_secs(3 + 5));
        assert!(s.next().await.is_none(), "nothing after the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn the_bound_covers_the_wait_for_the_first_item() {
        let mut s = bound(ticking(&[10]), Duration::from_secs(5));
        assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_disables_the_bound() {
        let got: Vec<_> = bound(ticking(&[1000]), Duration::ZERO).collect().await;
        assert_eq!(got.len(), 1);
        assert!(got[0].is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn raw_byte_streams_time_out_with_io_timed_out() {
        let raw: BoxStream<'static, Result<u8, std::io::Error>> =
            Box::pin(futures::stream::pending());
        let mut s = bound(raw, Duration::from_secs(1));
        let err = s.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    }
}
