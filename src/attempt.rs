//! One attempt, bounded by the per-attempt timeout.

use crate::timer::LazyTimer;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// The attempt ran past its timeout and was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimedOut;

pin_project! {
    /// Runs `fut` to completion unless `timeout` passes first.
    ///
    /// The inner future is polled before the timer, so an answer that is
    /// ready at the same instant the timer fires still wins: the provider did
    /// its work in time. The timer is armed only once `fut` is pending.
    pub(crate) struct Attempt<F> {
        #[pin]
        fut: F,
        #[pin]
        timer: LazyTimer,
    }
}

impl<F> Attempt<F> {
    #[inline]
    pub(crate) fn new(fut: F, timeout: Duration) -> Self {
        Self {
            fut,
            timer: LazyTimer::new(timeout),
        }
    }
}

impl<F: Future> Future for Attempt<F> {
    type Output = Result<F::Output, TimedOut>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(out) = this.fut.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        this.timer.poll_expired(cx).map(|()| Err(TimedOut))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::{Instant, sleep};

    #[tokio::test(start_paused = true)]
    async fn ready_future_needs_no_timer() {
        assert_eq!(
            Attempt::new(async { 5 }, Duration::from_secs(1)).await,
            Ok(5)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_future_times_out_at_exactly_the_limit() {
        let start = Instant::now();
        let r = Attempt::new(sleep(Duration::from_secs(5)), Duration::from_secs(2)).await;
        assert_eq!(r, Err(TimedOut));
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn answer_at_the_limit_wins() {
        let r = Attempt::new(sleep(Duration::from_secs(2)), Duration::from_secs(2)).await;
        assert_eq!(r, Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn zero_and_unrepresentable_limits_never_fire() {
        for limit in [Duration::ZERO, Duration::MAX] {
            let start = Instant::now();
            let r = Attempt::new(sleep(Duration::from_secs(3600)), limit).await;
            assert_eq!(r, Ok(()));
            assert_eq!(start.elapsed(), Duration::from_secs(3600));
        }
    }
}
