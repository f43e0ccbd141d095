//! Snapshots of backoff schedules: seeds 0..4 of each jitter kind, default and capped.
//!
//! Integer milliseconds, one line per seed, so a change in the draw method,
//! the key layout or the arithmetic shows up as a reviewable diff.

use provider_retry::{Jitter, RetryPolicy};
use std::fmt::Write;
use std::time::Duration;

const KINDS: [Jitter; 4] = [
    Jitter::None,
    Jitter::Equal,
    Jitter::Full,
    Jitter::Decorrelated,
];

fn table(policy: RetryPolicy, retries: usize) -> String {
    let mut out = String::new();
    for jitter in KINDS {
        writeln!(out, "{jitter:?}").unwrap();
        for seed in 0..4u64 {
            let ms: Vec<String> = policy
                .jitter(jitter)
                .schedule(seed, 0)
                .take(retries)
                .map(|d| d.as_millis().to_string())
                .collect();
            writeln!(out, "  seed {seed}: {}", ms.join(" ")).unwrap();
        }
    }
    out
}

fn snapshot(name: &str, body: String) {
    insta::with_settings!({ snapshot_path => "../../snapshots", prepend_module_to_snapshot => false }, {
        insta::assert_snapshot!(name, body);
    });
}

#[test]
fn default_policy_schedules() {
    snapshot("schedule_default", table(RetryPolicy::new(), 12));
}

#[test]
fn capped_policy_schedules() {
    let capped = RetryPolicy::new()
        .initial_backoff(Duration::from_millis(50))
        .max_backoff(Duration::from_millis(500));
    snapshot("schedule_capped", table(capped, 10));
}
