//! A gateway's provider map: several upstreams, each behind its own
//! `Retrying`, all paying for their retries from one shared `RetryBudget`.
//!
//! One upstream is healthy, one fails three attempts in ten, one is down.
//! The down one's retries drain the shared bucket; once it is empty every
//! upstream's retries are refused until successes refill it, so an outage
//! behind one route cannot multiply the gateway's load. Each wrapper keeps
//! its own policy and seed; only the budget is shared.
//!
//! `cargo run --example gateway` prints one row per upstream. It runs on
//! tokio's paused clock against in-process fakes (`examples/support`), so it
//! finishes at once and prints the same numbers every time; `cargo test
//! --example gateway` checks them.

mod support;

use crabllm_core::Provider;
use provider_retry::{Event, GiveUp, RetryBudget, RetryPolicy, Retrying};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use support::{Fake, Health, human, request};
use tokio::time::Instant;

/// Calls the gateway routes to each model.
const CALLS_PER_MODEL: u64 = 200;

/// Attempts per call when nothing refuses a retry: the default policy's.
const TRIES: u32 = RetryPolicy::new().get_max_retries() + 1;

/// The gateway's routes: a model name and the upstream that serves it.
const ROUTES: [(&str, Health); 3] = [
    ("gpt-4o", Health::Healthy),
    ("claude-sonnet", Health::Flaky(3)),
    ("llama-local", Health::Down),
];

/// One route's totals.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Row {
    ok: u64,
    failed: u64,
    /// Attempts that reached the upstream, first tries included.
    attempts: u64,
    /// Retries the shared budget refused.
    refused: u64,
}

/// What one run of the gateway saw.
#[derive(Debug)]
struct Report {
    rows: BTreeMap<&'static str, Row>,
    tokens_left: u64,
    capacity: u64,
    elapsed: std::time::Duration,
}

/// Builds the map, routes `CALLS_PER_MODEL` calls to each model in turn, and
/// totals what happened.
async fn run() -> Report {
    let budget = RetryBudget::new();
    let refused: BTreeMap<&str, Arc<AtomicU64>> = ROUTES
        .iter()
        .map(|(model, _)| (*model, Arc::default()))
        .collect();
    let mut gateway: BTreeMap<&str, Retrying<Fake>> = BTreeMap::new();
    for (seed, (model, health)) in (0u64..).zip(ROUTES) {
        let count = refused[model].clone();
        let wrapper = Retrying::new(Fake::new(health))
            .seed(seed)
            .budget(budget.clone())
            // Only to count refusals for the table: the budget works without it.
            .observer(move |event: &Event<'_>| {
                if let Event::GaveUp {
                    reason: GiveUp::Budget,
                    ..
                } = event
                {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            });
        gateway.insert(model, wrapper);
    }

    let started = Instant::now();
    let mut rows = BTreeMap::<&str, Row>::new();
    // Traffic interleaves the routes, as a gateway's does.
    for _ in 0..CALLS_PER_MODEL {
        for (model, upstream) in &gateway {
            let answer = upstream.chat_completion(&request(model)).await;
            let row = rows.entry(model).or_default();
            match answer {
                Ok(_) => row.ok += 1,
                Err(_) => row.failed += 1,
            }
        }
    }
    for (model, upstream) in &gateway {
        let row = rows.entry(model).or_default();
        row.attempts = upstream.get_ref().attempts();
        row.refused = refused[model].load(Ordering::Relaxed);
    }
    Report {
        rows,
        tokens_left: budget.get_tokens(),
        capacity: budget.get_capacity(),
        elapsed: started.elapsed(),
    }
}

fn print(report: &Report) {
    println!(
        "{:<14} {:>5} {:>5} {:>6} {:>9} {:>16}",
        "model", "calls", "ok", "failed", "attempts", "budget refusals"
    );
    for (model, row) in &report.rows {
        println!(
            "{:<14} {:>5} {:>5} {:>6} {:>9} {:>16}",
            model,
            row.ok + row.failed,
            row.ok,
            row.failed,
            row.attempts,
            row.refused
        );
    }
    let down = &report.rows["llama-local"];
    let flaky = &report.rows["claude-sonnet"];
    println!(
        "shared budget: {} of {} tokens left after {} of virtual time",
        report.tokens_left,
        report.capacity,
        human(report.elapsed)
    );
    println!(
        "llama-local is down: it got {} attempts, not the {} that {} tries per call would send",
        down.attempts,
        CALLS_PER_MODEL * u64::from(TRIES),
        TRIES
    );
    println!(
        "claude-sonnet paid for it: {} of its calls failed because the drained bucket refused their retries",
        flaky.refused
    );
    println!(
        "(one budget caps the gateway's total retry load; one budget per route keeps routes apart)"
    );
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    print(&run().await);
}

#[tokio::test(start_paused = true)]
async fn the_shared_budget_caps_the_down_upstreams_retries() {
    let report = run().await;
    let (healthy, flaky, down) = (
        &report.rows["gpt-4o"],
        &report.rows["claude-sonnet"],
        &report.rows["llama-local"],
    );
    assert_eq!(healthy.ok, CALLS_PER_MODEL, "{report:?}");
    assert_eq!(
        healthy.attempts, CALLS_PER_MODEL,
        "a healthy route never retries"
    );
    assert_eq!(down.ok, 0, "{report:?}");
    // The budget refused most of the down route's retries: it got far fewer
    // than three attempts per call, and at least one per call.
    assert!(down.refused > CALLS_PER_MODEL / 2, "{report:?}");
    assert!(down.attempts < CALLS_PER_MODEL * 2, "{report:?}");
    assert!(down.attempts >= CALLS_PER_MODEL, "{report:?}");
    // One bucket: the flaky route's retries were refused too.
    assert!(flaky.refused > 0, "{report:?}");
    for row in report.rows.values() {
        assert_eq!(row.ok + row.failed, CALLS_PER_MODEL, "{report:?}");
    }
}
