//! The in-process world: clients, each a `Retrying` around one shared provider, on a paused clock.

use crate::faults::Faults;
use crate::provider::{Shared, SimProvider, chunk_id};
use crate::scenario::{Method, Scenario, Workload, WorldKind};
use crate::seeds::{derive, stream, unit};
use crate::trace::{AttemptOutcome, Kind, Trace};
use crabllm_core::{ChatCompletionRequest, Error, Provider};
use futures::StreamExt;
use provider_retry::{Event, Outcome, RetryPolicy, Retrying};
use std::sync::Arc;
use std::time::Duration;

/// A wrapper under test: given the client's provider view, its policy and
/// its seed, the provider the client calls.
pub trait Subject: Sync {
    /// The wrapped provider.
    type Wrapped: Provider;
    /// Wrap `inner`, reporting steps into `shared`'s trace as `client`.
    fn wrap(
        &self,
        inner: SimProvider,
        policy: RetryPolicy,
        seed: u64,
        shared: Arc<Shared>,
        client: u32,
    ) -> Self::Wrapped;
}

/// Our own `Retrying`, traced through its observer hook.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ours;

impl Subject for Ours {
    type Wrapped = Retrying<SimProvider>;

    fn wrap(
        &self,
        inner: SimProvider,
        policy: RetryPolicy,
        seed: u64,
        shared: Arc<Shared>,
        client: u32,
    ) -> Self::Wrapped {
        let view = inner.clone();
        Retrying::with_policy(inner, policy)
            .seed(seed)
            .observer(recorder(shared, client, move || view.call()))
    }
}

/// An observer writing `client`'s wrapper events into `shared`'s trace,
/// under the call `call` says is in progress.
pub(crate) fn recorder(
    shared: Arc<Shared>,
    client: u32,
    call: impl Fn() -> u64 + Send + Sync + 'static,
) -> impl provider_retry::Observer {
    move |e: &Event<'_>| {
        if let Some(kind) = record_of(e) {
            shared.record(client, call(), kind);
        }
    }
}

/// The trace record for a wrapper event.
pub fn record_of(event: &Event<'_>) -> Option<Kind> {
    Some(match *event {
        Event::AttemptStarted { attempt, .. } => Kind::AttemptStarted { attempt },
        Event::AttemptEnded {
            attempt, outcome, ..
        } => Kind::AttemptEnded {
            attempt,
            outcome: outcome_of(outcome),
        },
        Event::Delay {
            attempt,
            delay,
            reason,
            ..
        } => Kind::Delay {
            attempt,
            delay_ns: u64::try_from(delay.as_nanos()).unwrap_or(u64::MAX),
            retry_after: reason == provider_retry::DelayReason::RetryAfter,
        },
        Event::GaveUp {
            attempt, reason, ..
        } => Kind::GaveUp {
            attempt,
            reason: reason.as_str().to_string(),
        },
    })
}

fn outcome_of(outcome: Outcome<'_>) -> AttemptOutcome {
    match outcome {
        Outcome::Ok => AttemptOutcome::Ok,
        Outcome::TimedOut => AttemptOutcome::TimedOut,
        Outcome::Error(e) => AttemptOutcome::of_error(e),
    }
}

/// Virtual time after which a run is cut off: far beyond any built-in
/// scenario, near enough that a hung run ends at once in real time.
pub const HORIZON: Duration = Duration::from_secs(24 * 3600);

/// Run `scenario` under `seed` with our wrapper, in the world it names, and return its trace.
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run(scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    match scenario.world {
        WorldKind::InProcess => run_with(&Ours, scenario, seed),
        WorldKind::Network => crate::net::world::run(scenario, seed),
    }
}

/// Run `scenario` under `seed` against `subject`, in process (whatever
/// world the scenario names: other subjects are driven in process only).
///
/// # Errors
///
/// Only if tokio cannot build a runtime.
pub fn run_with<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    Ok(runtime.block_on(world(subject, scenario, seed)))
}

async fn world<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> Trace {
    let shared = Shared::new(
        Faults::new(scenario.faults.clone(), seed),
        scenario.faults.capacity,
    );
    let policy = scenario.policy.policy();
    let method = scenario.workload.method;
    // Every client (closed loop) or arrival (open loop) is one future; all
    // are joined in one task, so the order of events depends only on the
    // paused clock and the seed.
    // Validated when the scenario was parsed; an invalid one runs no call.
    let workload = scenario.workload.workload().unwrap_or(Workload::Closed {
        clients: 0,
        calls: 0,
        think_ms: 0,
    });
    let plan: Vec<(u32, Duration, u32, Duration)> = match workload {
        Workload::Closed {
            clients,
            calls,
            think_ms,
        } => (0..clients)
            .map(|c| (c, Duration::ZERO, calls, Duration::from_millis(think_ms)))
            .collect(),
        Workload::Open {
            rate_per_s,
            duration_ms,
        } => arrivals(seed, rate_per_s, duration_ms)
            .into_iter()
            .enumerate()
            .map(|(i, at)| (i as u32, at, 1, Duration::ZERO))
            .collect(),
    };
    let clients = plan.into_iter().map(|(client, start, calls, think)| {
        let view = SimProvider::new(shared.clone(), client);
        let wrapped = subject.wrap(
            view.clone(),
            policy,
            derive(seed, "wrapper", client.into()),
            shared.clone(),
            client,
        );
        let shared = shared.clone();
        async move {
            tokio::time::sleep(start).await;
            let set_call = |call| view.set_call(call);
            client_calls(&wrapped, set_call, &shared, client, calls, think, method).await;
        }
    });
    // A wrapper that never gives up would leave the paused clock with nothing
    // to advance to, and the run would hang: the horizon ends it, and the
    // `calls_end` oracle reports the calls it cut off.
    let _ = tokio::time::timeout(HORIZON, futures::future::join_all(clients)).await;
    Trace {
        records: shared.take_trace(),
    }
}

/// Poisson arrival times over `[0, duration)`.
fn arrivals(seed: u64, rate_per_s: f64, duration_ms: u64) -> Vec<Duration> {
    let mut rng = stream(seed, "arrivals", 0);
    let end = duration_ms as f64 / 1000.0;
    let mut t = 0.0;
    let mut out = Vec::new();
    loop {
        t += -(1.0 - unit(&mut rng)).ln() / rate_per_s;
        if t >= end {
            return out;
        }
        out.push(Duration::from_nanos((t * 1e9) as u64));
    }
}

/// One client's calls, one after another, each recorded from its start to
/// its end, with `think` idle between them. `set_call` tells the client's
/// provider view which call it serves.
pub(crate) async fn client_calls<P: Provider>(
    wrapped: &P,
    set_call: impl Fn(u64),
    shared: &Shared,
    client: u32,
    calls: u32,
    think: Duration,
    method: Method,
) {
    for call in 0..u64::from(calls) {
        set_call(call);
        shared.record(client, call, Kind::CallStarted);
        let ok = one_call(wrapped, method, shared, client, call).await;
        shared.record(client, call, Kind::CallEnded { ok });
        tokio::time::sleep(think).await;
    }
}

async fn one_call<P: Provider>(
    wrapped: &P,
    method: Method,
    shared: &Shared,
    client: u32,
    call: u64,
) -> bool {
    let request = ChatCompletionRequest::default();
    match method {
        Method::Chat => wrapped.chat_completion(&request).await.is_ok(),
        Method::Stream => {
            let Ok(mut items) = wrapped.chat_completion_stream(&request).await else {
                return false;
            };
            while let Some(item) = items.next().await {
                match item {
                    Ok(chunk) => {
                        let (stream, index) = chunk_id(&chunk).unwrap_or((u64::MAX, u32::MAX));
                        shared.record(client, call, Kind::ChunkReceived { stream, index });
                    }
                    Err(e) => {
                        shared.record(
                            client,
                            call,
                            Kind::StreamFailed {
                                timeout: matches!(e, Error::Timeout),
                            },
                        );
                        return false;
                    }
                }
            }
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrivals_are_sorted_inside_the_window_and_near_the_rate() {
        let a = arrivals(5, 100.0, 10_000);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        assert!(a.iter().all(|t| *t < Duration::from_secs(10)));
        // Poisson(1000): sd about 32; five of them either side.
        assert!((840..=1160).contains(&a.len()), "{}", a.len());
    }
}
