//! Bounded streams: an open stream may wait at most `first_chunk` for its
//! first item and `stream_idle` between later ones.
//!
//! Once a stream is handed to the caller nothing is retried: a chunk already
//! delivered cannot be taken back, so a retry could only lose or repeat
//! some. A stalled stream ends instead, with a timeout error as its last item.
//!
//! The two bounds are apart because the silences differ: a reasoning model
//! may think for minutes before its first token, then emits many a second.

use crate::observe::{StreamBound, StreamWatch};
use crate::timer::LazyTimer;
use crabllm_core::{BoxStream, Error};
use futures_core::Stream;
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error a bounded stream yields when a bound expires.
pub trait IdleError {
    /// The error that ends a stream silent for too long between items.
    fn idle_timeout() -> Self;

    /// The error that ends a stream whose first item never came in time;
    /// by default the same as [`idle_timeout`](Self::idle_timeout).
    fn first_chunk_timeout() -> Self
    where
        Self: Sized,
    {
        Self::idle_timeout()
    }
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

    /// An [`std::io::ErrorKind::TimedOut`] error naming the first-chunk bound.
    fn first_chunk_timeout() -> Self {
        std::io::Error::new(std::io::ErrorKind::TimedOut, "stream first chunk timeout")
    }
}

pin_project! {
    /// A stream that ends with a timeout error if its first item does not
    /// arrive within `first_chunk`, or a later one within `idle` of the one before.
    ///
    /// Each wait is counted from the first poll that finds no item ready, so
    /// time the consumer spends between polls is not held against the
    /// provider. After the timeout item the stream is finished for good.
    /// Every byte a raw stream yields is an item: keep-alive bytes reset the bound.
    pub struct IdleBounded<S> {
        #[pin]
        inner: S,
        #[pin]
        timer: LazyTimer,
        idle: Duration,
        started: bool,
        done: bool,
        watch: Option<StreamWatch>,
    }
}

impl<S> IdleBounded<S> {
    /// Bound `inner` by `idle`, the first item included; zero never expires.
    pub fn new(inner: S, idle: Duration) -> Self {
        Self::with_first_chunk(inner, idle, idle)
    }

    /// Bound the wait for `inner`'s first item by `first_chunk` and each
    /// later gap by `idle`; a zero bound never expires.
    pub fn with_first_chunk(inner: S, first_chunk: Duration, idle: Duration) -> Self {
        Self {
            inner,
            timer: LazyTimer::new(first_chunk),
            idle,
            started: false,
            done: false,
            watch: None,
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
        let mut this = self.project();
        if *this.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = this.inner.poll_next(cx) {
            if !*this.started {
                *this.started = true;
                this.timer.as_mut().relimit(*this.idle);
            } else {
                this.timer.disarm();
            }
            *this.done = item.is_none();
            return Poll::Ready(item);
        }
        match this.timer.as_mut().poll_expired(cx) {
            Poll::Ready(()) => {
                *this.done = true;
                let (bound, error) = match *this.started {
                    false => (StreamBound::FirstChunk, E::first_chunk_timeout()),
                    true => (StreamBound::Idle, E::idle_timeout()),
                };
                if let Some(watch) = this.watch {
                    watch.timed_out(bound, this.timer.limit());
                }
                Poll::Ready(Some(Err(error)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Box `stream` behind its two bounds, or return it as is when both are zero.
pub(crate) fn bound<T, E>(
    stream: BoxStream<'static, Result<T, E>>,
    first_chunk: Duration,
    idle: Duration,
    watch: Option<StreamWatch>,
) -> BoxStream<'static, Result<T, E>>
where
    T: Send + 'static,
    E: IdleError + Send + 'static,
{
    if first_chunk.is_zero() && idle.is_zero() {
        return stream;
    }
    let mut bounded = IdleBounded::with_first_chunk(stream, first_chunk, idle);
    bounded.watch = watch;
    Box::pin(bounded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;
    use tokio::time::{Instant, sleep};

    const FIVE: Duration = Duration::from_secs(5);

    fn ticking(gaps: &'static [u64]) -> BoxStream<'static, Result<u64, Error>> {
        Box::pin(futures::stream::iter(gaps).then(|&g| async move {
            sleep(Duration::from_secs(g)).await;
            Ok(g)
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn gaps_within_the_bound_pass_every_item() {
        let got: Vec<_> = bound(ticking(&[1, 5, 5, 1]), FIVE, FIVE, None)
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(got, [1, 5, 5, 1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stall_ends_the_stream_with_timeout_at_the_bound() {
        let start = Instant::now();
        let mut s = bound(ticking(&[1, 2, 60, 1]), FIVE, FIVE, None);
        assert_eq!(s.next().await.unwrap().unwrap(), 1);
        assert_eq!(s.next().await.unwrap().unwrap(), 2);
        assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
        assert_eq!(start.elapsed(), Duration::from_secs(3 + 5));
        assert!(s.next().await.is_none(), "nothing after the timeout");
    }

    #[tokio::test(start_paused = true)]
    async fn new_bounds_the_first_item_by_the_idle_bound() {
        let mut s = std::pin::pin!(IdleBounded::new(ticking(&[10]), FIVE));
        assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_item_has_its_own_bound() {
        let start = Instant::now();
        let got: Vec<_> = bound(ticking(&[60, 5, 1]), Duration::from_secs(61), FIVE, None)
            .map(|r| r.unwrap())
            .collect()
            .await;
        assert_eq!(got, [60, 5, 1]);
        assert_eq!(start.elapsed(), Duration::from_secs(66));

        let start = Instant::now();
        let mut s = bound(ticking(&[60]), Duration::from_secs(59), FIVE, None);
        assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
        assert_eq!(start.elapsed(), Duration::from_secs(59));
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_first_chunk_bound_waits_forever_then_bounds_gaps() {
        let start = Instant::now();
        let mut s = bound(ticking(&[1000, 60]), Duration::ZERO, FIVE, None);
        assert_eq!(s.next().await.unwrap().unwrap(), 1000);
        assert!(matches!(s.next().await, Some(Err(Error::Timeout))));
        assert_eq!(start.elapsed(), Duration::from_secs(1005));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_disables_the_bound() {
        let got: Vec<_> = bound(ticking(&[1000]), Duration::ZERO, Duration::ZERO, None)
            .collect()
            .await;
        assert_eq!(got.len(), 1);
        assert!(got[0].is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn raw_byte_streams_time_out_with_io_timed_out() {
        let raw: BoxStream<'static, Result<u8, std::io::Error>> =
            Box::pin(futures::stream::pending());
        let mut s = bound(raw, Duration::from_secs(1), FIVE, None);
        let err = s.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
        assert_eq!(err.to_string(), "stream first chunk timeout");
    }
}
