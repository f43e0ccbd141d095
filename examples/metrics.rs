//! An observer feeding metrics: counters of attempts, errors and give-ups,
//! and histograms of attempts per call and of the waits between attempts.
//!
//! The observer is a closure that updates a [`Metrics`] value behind a
//! mutex; a real service would hand the same events to its metrics library
//! (a counter per `GiveUp` reason, a histogram of `Delay` durations). It runs
//! inline in the retry loop, so it only adds numbers.
//!
//! `cargo run --example metrics` prints the counters and both histograms.
//! It runs on tokio's paused clock against an in-process fake provider
//! (`examples/support`) that fails four attempts in ten, so it finishes at
//! once and prints the same numbers every time; `cargo test --example
//! metrics` checks them against what the provider saw.

mod support;

use crabllm_core::Provider;
use provider_retry::{DelayReason, Event, GiveUp, Outcome, Retrying};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Fake, Health, human, request};

/// Calls made through the wrapper.
const CALLS: u64 = 300;

/// Retries after the first attempt: four, so the histogram has five rows.
const MAX_RETRIES: u32 = 4;

/// Upper bounds of the wait histogram's buckets; a last bucket takes the rest.
const WAIT_BUCKETS: [Duration; 4] = [
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
];

/// What the observer counts.
#[derive(Debug, Default)]
struct Metrics {
    attempts: u64,
    errors: u64,
    timeouts: u64,
    succeeded: u64,
    gave_up: BTreeMap<GiveUp, u64>,
    /// Calls by the attempts they made, success or not.
    attempts_per_call: BTreeMap<u32, u64>,
    /// Waits by bucket: index `i` counts waits up to `WAIT_BUCKETS[i]`.
    waits: [u64; WAIT_BUCKETS.len() + 1],
    waits_by_reason: BTreeMap<DelayReason, u64>,
    waited: Duration,
}

impl Metrics {
    /// Counts one event.
    fn record(&mut self, event: &Event<'_>) {
        match *event {
            Event::AttemptStarted { .. } => self.attempts += 1,
            Event::AttemptEnded {
                attempt, outcome, ..
            } => match outcome {
                Outcome::Ok => {
                    self.succeeded += 1;
                    self.call_ended(attempt);
                }
                Outcome::Error(_) => self.errors += 1,
                Outcome::TimedOut => self.timeouts += 1,
            },
            Event::Delay { delay, reason, .. } => {
                let bucket = WAIT_BUCKETS.iter().take_while(|b| delay > **b).count();
                self.waits[bucket] += 1;
                *self.waits_by_reason.entry(reason).or_default() += 1;
                self.waited += delay;
            }
            Event::GaveUp {
                attempt, reason, ..
            } => {
                *self.gave_up.entry(reason).or_default() += 1;
                self.call_ended(attempt);
            }
            // Only streams report it; this example makes plain calls.
            Event::StreamTimedOut { .. } => {}
            // Only a throttle reports it; this example uses none.
            Event::Throttled { .. } => {}
        }
    }

    /// A call ended after attempt number `last` (from 0).
    fn call_ended(&mut self, last: u32) {
        *self.attempts_per_call.entry(last + 1).or_default() += 1;
    }

    fn calls(&self) -> u64 {
        self.attempts_per_call.values().sum()
    }

    fn waits(&self) -> u64 {
        self.waits.iter().sum()
    }
}

/// Makes `CALLS` calls through an observed wrapper; returns the metrics and
/// the attempts the provider itself counted.
async fn run() -> (Metrics, u64) {
    let metrics = Arc::new(Mutex::new(Metrics::default()));
    let sink = metrics.clone();
    let provider = Retrying::new(Fake::new(Health::Flaky(4)))
        .max_retries(MAX_RETRIES)
        .seed(7)
        .observer(move |event: &Event<'_>| sink.lock().unwrap().record(event));
    for _ in 0..CALLS {
        // Failed calls are counted by the observer; nothing else to do here.
        let _ = provider.chat_completion(&request("gpt-4o")).await;
    }
    let seen = provider.get_ref().attempts();
    drop(provider);
    let metrics = Arc::into_inner(metrics)
        .expect("the wrapper, and its observer, are gone")
        .into_inner()
        .unwrap();
    (metrics, seen)
}

/// A bar of `count` scaled to `of`, at most 40 characters.
fn bar(count: u64, of: u64) -> String {
    "#".repeat((count * 40).div_ceil(of.max(1)) as usize)
}

fn print(m: &Metrics) {
    println!(
        "calls {}: {} succeeded, {} gave up",
        m.calls(),
        m.succeeded,
        m.gave_up.values().sum::<u64>()
    );
    for (reason, n) in &m.gave_up {
        println!("  gave up, {}: {n}", reason.as_str());
    }
    println!(
        "attempts {}: {} errors, {} timeouts",
        m.attempts, m.errors, m.timeouts
    );
    println!("attempts per call");
    for (tries, n) in &m.attempts_per_call {
        println!("  {tries:>2} {n:>5} {}", bar(*n, m.calls()));
    }
    println!(
        "waits before a retry ({} in all, {} waited)",
        m.waits(),
        human(m.waited)
    );
    let mut lower = "0 ms".to_string();
    for (i, n) in m.waits.iter().enumerate() {
        let upper = WAIT_BUCKETS
            .get(i)
            .map_or("and more".to_string(), |b| human(*b));
        println!("  {lower:>7} .. {upper:<8} {n:>5} {}", bar(*n, m.waits()));
        lower = upper;
    }
    for (reason, n) in &m.waits_by_reason {
        let name = match reason {
            DelayReason::Backoff => "backoff",
            DelayReason::RetryAfter => "Retry-After",
        };
        println!("  {name}: {n}");
    }
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let (metrics, _) = run().await;
    print(&metrics);
}

#[tokio::test(start_paused = true)]
async fn the_metrics_add_up_to_what_the_provider_saw() {
    let (m, seen) = run().await;
    assert_eq!(m.calls(), CALLS, "{m:?}");
    assert_eq!(
        m.attempts, seen,
        "every attempt started reached the provider"
    );
    assert_eq!(m.attempts, m.succeeded + m.errors + m.timeouts, "{m:?}");
    // Every attempt but a call's first follows one wait.
    assert_eq!(m.waits(), m.attempts - CALLS, "{m:?}");
    let per_call: u64 = m
        .attempts_per_call
        .iter()
        .map(|(k, n)| u64::from(*k) * n)
        .sum();
    assert_eq!(per_call, m.attempts, "{m:?}");
    // Four in ten attempts fail: retries happen, both kinds of wait occur,
    // and a few calls use all five attempts.
    assert!(m.attempts_per_call.len() > 2, "{m:?}");
    assert_eq!(m.waits_by_reason.len(), 2, "{m:?}");
    assert!(
        m.attempts_per_call.keys().all(|k| *k <= MAX_RETRIES + 1),
        "{m:?}"
    );
}
