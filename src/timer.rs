//! A timer armed only when the work it bounds first has to wait.
//!
//! Most provider futures that answer at once never need a timer; reading the
//! clock and registering a `Sleep` for them is wasted work on the hot path.
//! So the limit starts counting at the first `Pending`: in virtual time that
//! is the same instant the attempt began, and in real time it differs only
//! by the synchronous part of the first poll.

use pin_project_lite::pin_project;
use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// Expires `limit` after it is first polled while armed. Zero never expires.
    #[derive(Debug)]
    pub(crate) struct LazyTimer {
        limit: Duration,
        armed: bool,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl LazyTimer {
    #[inline]
    pub(crate) fn new(limit: Duration) -> Self {
        Self {
            limit,
            armed: false,
            sleep: None,
        }
    }

    /// Start counting now if not yet counting, then report whether the limit has passed.
    ///
    /// A zero limit, or one too far to be an `Instant`, is pending forever.
    pub(crate) fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut this = self.project();
        if !*this.armed {
            *this.armed = true;
            let deadline = match this.limit.is_zero() {
                true => None,
                false => Instant::now().checked_add(*this.limit),
            };
            match (deadline, this.sleep.as_mut().as_pin_mut()) {
                (None, _) => this.sleep.set(None),
                (Some(at), Some(sleep)) => sleep.reset(at),
                (Some(at), None) => this.sleep.set(Some(tokio::time::sleep_until(at))),
            }
        }
        match this.sleep.as_pin_mut() {
            Some(sleep) => sleep.poll(cx),
            None => Poll::Pending,
        }
    }

    /// The limit in force.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// Stop counting and use `limit` from the next
    /// [`poll_expired`](Self::poll_expired) on.
    pub(crate) fn relimit(self: Pin<&mut Self>, limit: Duration) {
        let this = self.project();
        *this.limit = limit;
        *this.armed = false;
    }

    /// Stop counting; the next [`poll_expired`](Self::poll_expired) starts afresh.
    pub(crate) fn disarm(self: Pin<&mut Self>) {
        *self.project().armed = false;
    }
}
