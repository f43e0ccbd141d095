//! Black-box tracing: what any wrapper did, seen from the provider's side.
//!
//! Our own wrapper reports its steps through its observer hook; another
//! wrapper has no such hook. [`Probed`] sits between a wrapper and the
//! scripted provider and records each attempt it sees start and end (an
//! attempt dropped before it answered, as by a timeout, ends `timed out`).
//! [`infer`] then adds what only the wrapper knew, from the attempts'
//! timing and the policy the wrapper claims: each wait (the gap between an
//! attempt's end and the next one's start) and each give-up and its likely
//! reason. The oracles judge the result like any other trace.

use crate::oracles::delay_bounds;
use crate::provider::{Shared, SimProvider};
use crate::trace::{AttemptOutcome, Kind, Record, Trace};
use crabllm_core::{
    BoxStream, ChatCompletionChunk, ChatCompletionRequest, ChatCompletionResponse, Error, Provider,
};
use provider_retry::RetryPolicy;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The scripted provider as a wrapper under test sees it, recording every attempt.
#[derive(Debug, Clone)]
pub struct Probed {
    inner: SimProvider,
    shared: Arc<Shared>,
    client: u32,
    /// (call, attempts seen in it)
    attempts: Arc<Mutex<(u64, u32)>>,
}

impl Probed {
    /// Probe `inner`, writing into `shared`'s trace as `client`.
    pub fn new(inner: SimProvider, shared: Arc<Shared>, client: u32) -> Self {
        Self {
            inner,
            shared,
            client,
            attempts: Arc::new(Mutex::new((u64::MAX, 0))),
        }
    }

    fn next_attempt(&self) -> (u64, u32) {
        let call = self.inner.call();
        let mut state = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 != call {
            *state = (call, 0);
        }
        let attempt = state.1;
        state.1 += 1;
        (call, attempt)
    }

    async fn attempt<T>(&self, answer: impl Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let (call, attempt) = self.next_attempt();
        self.shared
            .record(self.client, call, Kind::AttemptStarted { attempt });
        let mut pending = Unanswered {
            probe: self,
            call,
            attempt,
            armed: true,
        };
        let result = answer.await;
        pending.armed = false;
        let outcome = match &result {
            Ok(_) => AttemptOutcome::Ok,
            Err(e) => AttemptOutcome::of_error(e),
        };
        self.shared
            .record(self.client, call, Kind::AttemptEnded { attempt, outcome });
        result
    }
}

/// Records `timed out` if dropped before the attempt answered.
struct Unanswered<'a> {
    probe: &'a Probed,
    call: u64,
    attempt: u32,
    armed: bool,
}

impl Drop for Unanswered<'_> {
    fn drop(&mut self) {
        if self.armed {
            let outcome = AttemptOutcome::TimedOut;
            let attempt = self.attempt;
            self.probe.shared.record(
                self.probe.client,
                self.call,
                Kind::AttemptEnded { attempt, outcome },
            );
        }
    }
}

impl Provider for Probed {
    async fn chat_completion(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<ChatCompletionResponse, Error> {
        self.attempt(self.inner.chat_completion(r)).await
    }

    async fn chat_completion_stream(
        &self,
        r: &ChatCompletionRequest,
    ) -> Result<BoxStream<'static, Result<ChatCompletionChunk, Error>>, Error> {
        self.attempt(self.inner.chat_completion_stream(r)).await
    }

    // The scripted provider answers only chat: the rest are unsupported there too.
    crate::chat_only_provider_rest!();
}

/// What one call's attempts looked like so far, for [`infer`].
#[derive(Default)]
struct CallState {
    first_start: Option<u64>,
    /// The last attempt that ended and was not followed by another: (t, attempt, outcome).
    last_end: Option<(u64, u32, AttemptOutcome)>,
    previous_backoff: Option<u64>,
}

/// Add the waits and give-ups a probed trace implies under `claimed`.
///
/// A wait is recorded at the end of the attempt before it, as our wrapper
/// does, with the gap to the next attempt as its length; it counts as a
/// Retry-After wait when the attempt's error carried one. A failed call's
/// give-up gets the reason the claimed policy allows, checked in its order
/// (not transient, exhausted, Retry-After too long, a deadline the longest
/// allowed wait would pass); if none
/// applies the reason is `unexplained`, which the `transient_retried` oracle
/// reports.
pub fn infer(trace: Trace, claimed: &RetryPolicy) -> Trace {
    let mut calls: BTreeMap<(u32, u64), CallState> = BTreeMap::new();
    let mut records = Vec::with_capacity(trace.records.len());
    for r in trace.records {
        let state = calls.entry((r.client, r.call)).or_default();
        match &r.kind {
            Kind::AttemptStarted { .. } => {
                state.first_start.get_or_insert(r.t);
                if let Some((t, attempt, outcome)) = state.last_end.take() {
                    let delay_ns = r.t - t;
                    let retry_after = matches!(
                        outcome,
                        AttemptOutcome::Error {
                            retry_after_ns: Some(_),
                            ..
                        }
                    );
                    state.previous_backoff = (!retry_after).then_some(delay_ns);
                    records.push(Record {
                        t,
                        client: r.client,
                        call: r.call,
                        kind: Kind::Delay {
                            attempt,
                            delay_ns,
                            retry_after,
                        },
                    });
                }
            }
            Kind::AttemptEnded { attempt, outcome } => {
                state.last_end = Some((r.t, *attempt, outcome.clone()));
            }
            Kind::CallEnded { ok: false } => {
                if let Some((t, attempt, outcome)) = state.last_end.take() {
                    if outcome != AttemptOutcome::Ok {
                        let reason = reason(claimed, state, t, attempt, &outcome).to_string();
                        records.push(Record {
                            t,
                            client: r.client,
                            call: r.call,
                            kind: Kind::GaveUp { attempt, reason },
                        });
                    }
                }
            }
            _ => {}
        }
        records.push(r);
    }
    Trace { records }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX`.
fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn reason(
    claimed: &RetryPolicy,
    state: &CallState,
    t: u64,
    attempt: u32,
    outcome: &AttemptOutcome,
) -> &'static str {
    let (transient, retry_after) = match *outcome {
        AttemptOutcome::TimedOut => (true, None),
        AttemptOutcome::Error {
            transient,
            retry_after_ns,
            ..
        } => (transient, retry_after_ns),
        AttemptOutcome::Ok => return "unexplained",
    };
    let cap = saturating_nanos(claimed.get_max_retry_after());
    if !transient {
        return "not_transient";
    }
    if attempt >= claimed.get_max_retries() {
        return "exhausted";
    }
    if retry_after.is_some_and(|ra| ra > cap) {
        return "retry_after_too_long";
    }
    if let Some(deadline) = claimed.get_retry_deadline() {
        // The drawn wait is unknown: the longest the policy allows decides
        // whether a deadline give-up was possible.
        let longest =
            retry_after.unwrap_or_else(|| delay_bounds(claimed, attempt, state.previous_backoff).1);
        let elapsed = t - state.first_start.unwrap_or(t);
        if u128::from(elapsed) + u128::from(longest) > saturating_nanos(deadline).into() {
            return "deadline";
        }
    }
    "unexplained"
}
