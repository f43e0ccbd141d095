//! The observer hook: what the retry loop did, in order, with virtual timestamps.
//!
//! Each call reports `AttemptStarted`, `AttemptEnded`, then either the end of
//! the call (success, or `GaveUp`) or a `Delay` and the next attempt. A
//! stream handed over and later ended by one of its bounds reports one more
//! event, `StreamTimedOut`, naming the bound. With a throttle, an attempt
//! it holds back is preceded by one `Throttled` event per wait. The
//! same events go to `tracing` at debug level under the target
//! `provider_retry`. With no observer and no debug subscriber, the loop reads
//! no clock for them and builds nothing.

use crate::classify::GiveUp;
use crabllm_core::Error;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How one attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    /// The provider answered with success (for streams: the stream opened).
    Ok,
    /// The provider answered with this error.
    Error(&'a Error),
    /// The per-attempt timeout expired first; the call sees [`Error::Timeout`].
    TimedOut,
}

/// Why the loop waits before the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DelayReason {
    /// The backoff schedule's next delay.
    Backoff,
    /// The provider's `Retry-After`, honoured exactly.
    RetryAfter,
}

/// Why a [`Throttle`](crate::Throttle) holds an attempt back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ThrottleReason {
    /// A `Retry-After` seen by a call sharing the throttle has not run out.
    Paused,
    /// The learned send rate has no token for the attempt yet.
    Rate,
}

impl ThrottleReason {
    /// A short stable name: `"paused"` or `"rate"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ThrottleReason::Paused => "paused",
            ThrottleReason::Rate => "rate",
        }
    }
}

/// Which bound ended an open stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StreamBound {
    /// No first item within [`first_chunk`](crate::RetryPolicy::first_chunk) of the hand-over.
    FirstChunk,
    /// No next item within [`stream_idle`](crate::RetryPolicy::stream_idle) of the last one.
    Idle,
}

impl StreamBound {
    /// The policy knob's name: `"first_chunk"` or `"stream_idle"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StreamBound::FirstChunk => "first_chunk",
            StreamBound::Idle => "stream_idle",
        }
    }
}

/// One step of one call.
///
/// `call` numbers the calls an observer sees (from 0, per wrapper family,
/// in the order calls start); `attempt` numbers a call's attempts from 0.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An attempt is about to be made.
    AttemptStarted {
        /// Which provider method (`"chat_completion"`, ...).
        method: &'static str,
        /// The call's number.
        call: u64,
        /// The attempt's number within the call.
        attempt: u32,
        /// When, on tokio's clock (virtual under a paused clock).
        at: Instant,
    },
    /// An attempt ended.
    AttemptEnded {
        /// Which provider method.
        method: &'static str,
        /// The call's number.
        call: u64,
        /// The attempt's number within the call.
        attempt: u32,
        /// When.
        at: Instant,
        /// How it ended.
        outcome: Outcome<'a>,
    },
    /// The loop chose to wait this long before attempt `attempt + 1`.
    Delay {
        /// Which provider method.
        method: &'static str,
        /// The call's number.
        call: u64,
        /// The attempt that just failed.
        attempt: u32,
        /// When the wait begins.
        at: Instant,
        /// How long.
        delay: Duration,
        /// Why that long.
        reason: DelayReason,
    },
    /// A [`Throttle`](crate::Throttle) holds attempt `attempt` back this
    /// long; the attempt has not started. Reported before the wait begins.
    Throttled {
        /// Which provider method.
        method: &'static str,
        /// The call's number.
        call: u64,
        /// The attempt held back.
        attempt: u32,
        /// When the wait begins.
        at: Instant,
        /// How long.
        wait: Duration,
        /// Why.
        reason: ThrottleReason,
    },
    /// The call ends with the last attempt's error (or, when a throttle
    /// refused to wait before the first attempt, with the error it made:
    /// `attempt` is then 0 and no attempt started).
    GaveUp {
        /// Which provider method.
        method: &'static str,
        /// The call's number.
        call: u64,
        /// The attempt that failed last.
        attempt: u32,
        /// When.
        at: Instant,
        /// Why no further attempt is made.
        reason: GiveUp,
    },
    /// A handed-over stream went silent past one of its bounds and ends
    /// with a timeout error. Nothing is retried after it.
    StreamTimedOut {
        /// Which provider method opened the stream.
        method: &'static str,
        /// The call's number.
        call: u64,
        /// When the bound expired.
        at: Instant,
        /// Which bound.
        bound: StreamBound,
        /// The bound's length.
        limit: Duration,
    },
}

/// Receives every [`Event`] of every call through a wrapper.
///
/// Called inline from the retry loop, so keep it quick and non-blocking.
/// Any `Fn(&Event) + Send + Sync` closure is an observer.
///
/// # Examples
///
/// ```
/// use provider_retry::{Event, Observer};
/// use std::sync::{Arc, Mutex};
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let sink = log.clone();
/// let observer = move |e: &Event<'_>| sink.lock().unwrap().push(format!("{e:?}"));
/// fn takes(_: impl Observer) {}
/// takes(observer);
/// ```
pub trait Observer: Send + Sync {
    /// One step of one call.
    fn on_event(&self, event: &Event<'_>);
}

impl<F: Fn(&Event<'_>) + Send + Sync> Observer for F {
    fn on_event(&self, event: &Event<'_>) {
        self(event)
    }
}

/// One call's view of the hooks: decides once whether anyone listens.
pub(crate) struct Emitter<'a> {
    observer: Option<&'a Arc<dyn Observer>>,
    tracing: bool,
    method: &'static str,
    call: u64,
}

impl<'a> Emitter<'a> {
    #[inline]
    pub(crate) fn new(
        observer: Option<&'a Arc<dyn Observer>>,
        calls: &std::sync::atomic::AtomicU64,
        method: &'static str,
    ) -> Self {
        let tracing = tracing::enabled!(target: "provider_retry", tracing::Level::DEBUG);
        // Only observed calls take a number, so an unobserved call touches no shared counter.
        let call = match observer {
            Some(_) => calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            None => 0,
        };
        Self {
            observer,
            tracing,
            method,
            call,
        }
    }

    /// Whether anyone listens; when not, callers skip reading the clock.
    #[inline]
    pub(crate) fn on(&self) -> bool {
        self.observer.is_some() || self.tracing
    }

    #[inline]
    pub(crate) fn attempt_started(&self, attempt: u32) {
        if self.on() {
            self.emit(|method, call, at| Event::AttemptStarted {
                method,
                call,
                attempt,
                at,
            });
        }
    }

    #[inline]
    pub(crate) fn attempt_ended(&self, attempt: u32, outcome: Outcome<'_>) {
        if self.on() {
            self.emit(|method, call, at| Event::AttemptEnded {
                method,
                call,
                attempt,
                at,
                outcome,
            });
        }
    }

    #[inline]
    pub(crate) fn delay(&self, attempt: u32, delay: Duration, reason: DelayReason) {
        if self.on() {
            self.emit(|method, call, at| Event::Delay {
                method,
                call,
                attempt,
                at,
                delay,
                reason,
            });
        }
    }

    #[inline]
    pub(crate) fn throttled(&self, attempt: u32, wait: Duration, reason: ThrottleReason) {
        if self.on() {
            self.emit(|method, call, at| Event::Throttled {
                method,
                call,
                attempt,
                at,
                wait,
                reason,
            });
        }
    }

    #[inline]
    pub(crate) fn gave_up(&self, attempt: u32, reason: GiveUp) {
        if self.on() {
            self.emit(|method, call, at| Event::GaveUp {
                method,
                call,
                attempt,
                at,
                reason,
            });
        }
    }

    /// What a handed-over stream needs to report its end: nothing (and no
    /// clone of the observer) when no one listens.
    pub(crate) fn for_stream(&self) -> Option<StreamWatch> {
        self.on().then(|| StreamWatch {
            observer: self.observer.cloned(),
            tracing: self.tracing,
            method: self.method,
            call: self.call,
        })
    }

    /// Out of line and cold: the unobserved path pays only the `on()` test.
    #[cold]
    #[inline(never)]
    fn emit<'e>(&self, make: impl FnOnce(&'static str, u64, Instant) -> Event<'e>) {
        let event = make(self.method, self.call, Instant::now());
        deliver(self.observer.map(|o| &**o), self.tracing, &event);
    }
}

/// An [`Emitter`] that outlives the call: a handed-over stream holds one to
/// report which bound ended it.
pub(crate) struct StreamWatch {
    observer: Option<Arc<dyn Observer>>,
    tracing: bool,
    method: &'static str,
    call: u64,
}

impl StreamWatch {
    #[cold]
    pub(crate) fn timed_out(&self, bound: StreamBound, limit: Duration) {
        let event = Event::StreamTimedOut {
            method: self.method,
            call: self.call,
            at: Instant::now(),
            bound,
            limit,
        };
        deliver(self.observer.as_deref(), self.tracing, &event);
    }
}

fn deliver(observer: Option<&dyn Observer>, tracing: bool, event: &Event<'_>) {
    if let Some(observer) = observer {
        observer.on_event(event);
    }
    if tracing {
        trace(event);
    }
}

fn trace(event: &Event<'_>) {
    use tracing::debug;
    match *event {
        Event::AttemptStarted {
            method,
            call,
            attempt,
            ..
        } => {
            debug!(target: "provider_retry", method, call, attempt, "attempt started")
        }
        Event::AttemptEnded {
            method,
            call,
            attempt,
            outcome,
            ..
        } => match outcome {
            Outcome::Ok => debug!(target: "provider_retry", method, call, attempt, "attempt ok"),
            Outcome::Error(e) => {
                debug!(target: "provider_retry", method, call, attempt, error = %e, transient = e.is_transient(), "attempt failed")
            }
            Outcome::TimedOut => {
                debug!(target: "provider_retry", method, call, attempt, "attempt timed out")
            }
        },
        Event::Delay {
            method,
            call,
            attempt,
            delay,
            reason,
            ..
        } => {
            debug!(target: "provider_retry", method, call, attempt, delay_ms = delay.as_millis() as u64, ?reason, "backing off")
        }
        Event::Throttled {
            method,
            call,
            attempt,
            wait,
            reason,
            ..
        } => {
            debug!(target: "provider_retry", method, call, attempt, wait_ms = wait.as_millis() as u64, reason = reason.as_str(), "throttled")
        }
        Event::GaveUp {
            method,
            call,
            attempt,
            reason,
            ..
        } => {
            debug!(target: "provider_retry", method, call, attempt, reason = reason.as_str(), "gave up")
        }
        Event::StreamTimedOut {
            method,
            call,
            bound,
            limit,
            ..
        } => {
            debug!(target: "provider_retry", method, call, bound = bound.as_str(), limit_ms = limit.as_millis() as u64, "stream timed out")
        }
    }
}
