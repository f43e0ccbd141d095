//! The client driver both worlds share: the subject wrapped once for every
//! client or once per client ([`Wrapper`]), each client's calls made
//! through it and recorded from the caller's side, with panics caught and
//! recorded as findings.

use super::drops::walk_away;
use crate::backend::Backend;
use crate::link::{Link, caller};
use crate::method::Method;
use crate::scenario::{CallDrop, Scenario, Workload, Wrapper};
use crate::seeds::derive;
use crate::subject::{Probe, Subject};
use crate::trace::{CallOutcome, Failure, Kind, compat_bits};
use crate::wire::address::CallId;
use crate::wire::{invoke, requests};
use crabllm_core::Provider;
use futures::FutureExt;
use futures::future::Either;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

/// One client's part of a workload.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// The client's number.
    pub client: u32,
    /// When its first call starts.
    pub start: Duration,
    /// How many calls it makes.
    pub calls: u32,
    /// Idle time between its calls.
    pub think: Duration,
}

impl Plan {
    /// A closed-loop client making `calls` calls `think` apart from the start.
    pub fn closed(client: u32, calls: u32, think: Duration) -> Self {
        Self {
            client,
            start: Duration::ZERO,
            calls,
            think,
        }
    }

    /// An open-loop arrival: one call at `at`.
    pub fn arrival(client: u32, at: Duration) -> Self {
        Self {
            client,
            start: at,
            calls: 1,
            think: Duration::ZERO,
        }
    }
}

/// The `is_*_compat` flags of `client`'s provider: drawn per client, so a
/// subject that answers any constant for a flag is caught on some client.
pub fn inner_compat(seed: u64, client: u32) -> u8 {
    // Client 0 and 1 always differ in every flag; later clients draw.
    match client {
        0 => 0b101,
        1 => 0b010,
        _ => (derive(seed, "compat", client.into()) & 0b111) as u8,
    }
}

/// The `is_*_compat` flags of the one provider a shared wrapper wraps:
/// client 0's on odd seeds and client 1's on even ones, so over any two
/// consecutive seeds every flag takes both values and a subject that
/// answers a constant is caught. (Odd seeds, the default seed 1 among
/// them, give a one-client run the flags it has per client.)
pub fn shared_compat(seed: u64) -> u8 {
    inner_compat(seed, u32::from(seed.is_multiple_of(2)))
}

/// The seed `subject.wrap` gets: per client, or once for a shared wrapper
/// (client 0's, so a one-client run is the same either way).
fn wrapper_seed(seed: u64, client: u32) -> u64 {
    derive(seed, "wrapper", client.into())
}

/// The subject around a probe of `link`, or what it panicked with.
type Wrapped<W> = Result<Arc<W>, String>;

fn wrap<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seed: u64,
    link: Link,
    backend: &Arc<Backend>,
    compat: u8,
) -> Wrapped<S::Wrapped> {
    let probe = Probe::new(link, backend.clone(), compat);
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        Arc::new(subject.wrap(probe, &scenario.policy, seed))
    }))
    .map_err(|panic| format!("while wrapping: {}", panic_message(panic.as_ref())))
}

/// One client's calls, as a future of their own.
pub type Client = std::pin::Pin<Box<dyn Future<Output = ()> + 'static>>;

/// Every plan's calls, as the scenario's [`Wrapper`] says: through one
/// wrapper around one probe of `link` that every client shares, or each
/// client through its own (the network world runs each client on a host
/// of its own, and so uses [`drive`] per client instead).
pub fn drive_all<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seed: u64,
    plans: Vec<Plan>,
    link: Link,
    backend: Arc<Backend>,
) -> Vec<Client> {
    match scenario.workload.wrapper {
        Wrapper::PerClient => plans
            .into_iter()
            .map(|plan| {
                let calls = drive(subject, scenario, seed, plan, link.clone(), backend.clone());
                Box::pin(calls) as Client
            })
            .collect(),
        Wrapper::Shared => {
            let compat = shared_compat(seed);
            let wrapped = wrap(
                subject,
                scenario,
                wrapper_seed(seed, 0),
                link,
                &backend,
                compat,
            );
            plans
                .into_iter()
                .map(|plan| {
                    let calls = calls(
                        wrapped.clone(),
                        scenario.workload.clone(),
                        plan,
                        backend.clone(),
                        compat,
                    );
                    Box::pin(calls) as Client
                })
                .collect()
        }
    }
}

/// Wrap a probe of `link` in `subject` for `plan`'s client alone, and
/// return the future that makes its calls, recording each. Wrapping
/// happens now, so the future owns all it needs (the network world runs
/// it on a client host of its own).
pub fn drive<S: Subject>(
    subject: &S,
    scenario: &Scenario,
    seed: u64,
    plan: Plan,
    link: Link,
    backend: Arc<Backend>,
) -> impl Future<Output = ()> + 'static {
    let compat = inner_compat(seed, plan.client);
    let wrapper_seed = wrapper_seed(seed, plan.client);
    let wrapped = wrap(subject, scenario, wrapper_seed, link, &backend, compat);
    calls(wrapped, scenario.workload.clone(), plan, backend, compat)
}

/// The future that makes `plan`'s calls through `wrapped`, recording each;
/// `inner` is the wrapped provider's compat flags.
fn calls<W: Provider + 'static>(
    wrapped: Wrapped<W>,
    workload: Workload,
    plan: Plan,
    backend: Arc<Backend>,
    inner: u8,
) -> impl Future<Output = ()> + 'static {
    let client = plan.client;
    async move {
        let wrapped = match wrapped {
            Ok(wrapped) => wrapped,
            Err(message) => {
                let outcome = CallOutcome::Panicked { message };
                backend.record(client, 0, Kind::CallEnded { outcome });
                return;
            }
        };
        tokio::time::sleep(plan.start).await;
        for call in 0..u64::from(plan.calls) {
            let id = CallId::new(client, call);
            let method = workload.method(client, call);
            let walks = workload.drop_of(client, call).copied();
            let one = || caller::scope(id, one_call(&*wrapped, method, &backend, id, inner));
            // Made where it is awaited: a call's future is kilobytes, and
            // each move of it cost a sweep about 1 % of its time.
            let outcome = match walks {
                None => Some(one().await),
                Some(plan) => or_walk_away(one(), plan, &backend, client, call).await,
            };
            // A dropped call has no outcome: its caller has gone.
            if let Some(outcome) = outcome {
                let panicked = matches!(outcome, CallOutcome::Panicked { .. });
                backend.record(client, call, Kind::CallEnded { outcome });
                if panicked {
                    // The subject's state is unknown after a panic: this client stops.
                    return;
                }
            }
            // Also after a dropped call: what its wrapper does after the
            // drop shows in the trace while the client thinks.
            tokio::time::sleep(plan.think).await;
        }
    }
}

/// `call`'s outcome, or `None` if `plan` says its caller drops it first:
/// then the drop is recorded, and the call's future is dropped as this
/// returns (so an attempt it abandons ends after the drop, at its instant).
async fn or_walk_away(
    call: impl Future<Output = CallOutcome>,
    plan: CallDrop,
    backend: &Backend,
    client: u32,
    number: u64,
) -> Option<CallOutcome> {
    // Made before the call is first polled, so it misses none of its records.
    let away = std::pin::pin!(walk_away(backend, client, number, plan));
    match futures::future::select(std::pin::pin!(call), away).await {
        Either::Left((outcome, _)) => Some(outcome),
        Either::Right(((), _)) => {
            backend.record(client, number, Kind::CallDropped);
            None
        }
    }
}

async fn one_call<P: Provider>(
    wrapped: &P,
    method: Method,
    backend: &Backend,
    id: CallId,
    inner_compat: u8,
) -> CallOutcome {
    let CallId { client, call } = id;
    let compat = std::panic::catch_unwind(AssertUnwindSafe(|| {
        compat_bits(
            wrapped.is_openai_compat(),
            wrapped.is_anthropic_compat(),
            wrapped.is_gemini_compat(),
        )
    }));
    let compat = match compat {
        Ok(bits) => bits,
        Err(panic) => {
            return CallOutcome::Panicked {
                message: format!("in is_*_compat: {}", panic_message(panic.as_ref())),
            };
        }
    };
    backend.record(
        client,
        call,
        Kind::CallStarted {
            method,
            compat,
            inner_compat,
            digest: requests::sent(method, id).map(|s| s.digest),
        },
    );
    let on_item = |chunk| backend.record(client, call, Kind::ChunkReceived { chunk });
    match AssertUnwindSafe(invoke(wrapped, method, id, on_item))
        .catch_unwind()
        .await
    {
        Ok(Ok(())) => CallOutcome::Ok,
        Ok(Err(end)) => {
            if let Some(timeout) = end.stream_failed {
                backend.record(client, call, Kind::StreamFailed { timeout });
            }
            CallOutcome::Failed(Failure::of(&end.error))
        }
        Err(panic) => CallOutcome::Panicked {
            message: panic_message(panic.as_ref()),
        },
    }
}

/// A panic's message, when it is text.
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Keep the default panic hook quiet for panics a run catches (they are
/// reported as findings); panics elsewhere still print.
pub fn quiet_caught_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_RUN.with(|f| f.get()) {
                previous(info);
            }
        }));
    });
}

thread_local! {
    /// Set while this thread runs a world (its panics are findings).
    pub static IN_RUN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks this thread as running a world until dropped, restoring what was
/// there before even if the world panics.
pub struct InRun(bool);

impl InRun {
    /// Mark the thread.
    pub fn enter() -> Self {
        InRun(IN_RUN.with(|f| f.replace(true)))
    }
}

impl Drop for InRun {
    fn drop(&mut self) {
        IN_RUN.with(|f| f.set(self.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_marks_its_thread_until_it_ends_a_nested_one_included() {
        let marked = || IN_RUN.with(|f| f.get());
        assert!(!marked());
        let outer = InRun::enter();
        assert!(marked());
        drop(InRun::enter());
        assert!(marked(), "an inner run leaves the outer's mark");
        drop(outer);
        assert!(!marked());
    }

    #[test]
    fn the_first_two_clients_differ_in_every_flag_and_later_ones_draw_three_bits() {
        let mut seen = std::collections::BTreeSet::new();
        for seed in 0..64 {
            assert_eq!(inner_compat(seed, 0) ^ inner_compat(seed, 1), 0b111);
            assert_eq!(inner_compat(seed, 1), 0b010, "client 1 does not draw");
            for client in 2..16 {
                let flags = inner_compat(seed, client);
                assert!(flags <= 0b111, "{flags:#b} has more than three flags");
                seen.insert(flags);
            }
        }
        assert_eq!(seen.len(), 8, "later clients draw every combination");
    }

    #[test]
    fn a_panic_is_reported_by_its_text_whatever_its_type() {
        let of = |f: fn()| panic_message(std::panic::catch_unwind(f).unwrap_err().as_ref());
        quiet_caught_panics();
        let quiet = InRun::enter();
        assert_eq!(of(|| panic!("a str")), "a str");
        assert_eq!(of(|| panic!("a {}", "String")), "a String");
        assert_eq!(
            of(|| std::panic::panic_any(7_u8)),
            "a panic without a message"
        );
        drop(quiet);
    }
}
