//! False convictions the full-size sweeps found, each a correct wrapper
//! on the scenario that showed it: acquitted now, and each test fails with
//! its fix reverted. Here rather than beside the sweep so that the judge's
//! mutation pass (which runs `zoo::`) sees them.

use provider_retry_sim::subject::{OursJitter, Subject};

/// Every attempt times out and two callers walk away in a backoff: the
/// shape the generator found (`conform --cases 1000`, pooled over 1,000
/// seeds) where the judge convicted every correct wrapper. A dropped call
/// was taken for one the horizon cut off, so the run's end (when its last
/// call ended, a time the draws chose) truncated every call's last wait,
/// and a drop cut short the wait it came in, which shows only if its draw
/// was short. Both are out of the pool now: the correct wrapper holds, and
/// equal jitter judged as full is still caught on the same runs.
#[test]
fn callers_walking_away_in_a_backoff_bias_no_delay_sample() {
    use provider_retry_sim::check::distribution::{Samples, samples, test};
    use provider_retry_sim::scenario::{JitterSpec, Scenario};
    const WALK_AWAYS: &str = r#"
name = "walk-aways-pooled"
[policy]
max_retries = 3
timeout = "1748ns"
initial_backoff = 290
max_backoff = 3000
jitter = "full"
[faults]
latency = { kind = "uniform", min_ms = 10, max_ms = 10 }
[workload]
kind = "closed"
clients = 3
calls = 2
drops = [
  { client = 1, call = 0, during = "backoff", attempt = 1, after_ms = 21 },
  { client = 2, call = 0, during = "backoff", attempt = 0, after_ms = 66 },
]
"#;
    let scenario = Scenario::parse(std::path::Path::new("walk-aways.toml"), WALK_AWAYS).unwrap();
    let full = OursJitter(JitterSpec::Full);
    let claim = full.claim(&scenario.policy);
    let pooled = |subject: &OursJitter| {
        let mut all = Samples::default();
        for seed in 0..1000 {
            let e = provider_retry_sim::run::evaluate(subject, &scenario, seed, false).unwrap();
            all.extend(samples(&e.trace, &claim));
        }
        all
    };
    let honest = pooled(&full);
    assert!(honest.len() > 5_000, "{}", honest.len());
    assert_eq!(test(&honest, &claim), None);
    let planted = pooled(&OursJitter(JitterSpec::Equal));
    assert!(test(&planted, &claim).is_some_and(|v| v.contains("KS D")));
}

/// provider-retry with a waiting throttle on the scenario `text` under `seed`.
fn ours_throttle_on(text: &str, seed: u64) -> provider_retry_sim::run::Evaluation {
    let scenario =
        provider_retry_sim::scenario::Scenario::parse(std::path::Path::new("finding.toml"), text)
            .unwrap();
    provider_retry_sim::run::evaluate(
        &provider_retry_sim::subject::OursThrottle,
        &scenario,
        seed,
        false,
    )
    .unwrap()
}

/// A waiting throttle's pause, set by a 429 answered before the heal,
/// outlives it: the calls started after the heal are refused at the gate
/// (no retries allowed) with the rest of the pause. The throttle's claim
/// says so; `liveness_after_heal` convicted it at the false-alarm sweep's
/// full size (`conform --cases 1000`), and now leaves those calls unjudged.
#[test]
fn a_pause_that_outlives_the_heal_excuses_the_calls_its_gate_refused() {
    const OUTLIVES: &str = r#"
name = "pause-outlives-the-heal"

[policy]
max_retries = 0
timeout = 0
initial_backoff = 0
max_backoff = 0
jitter = "none"
max_retry_after = 277
first_chunk = 0
stream_idle = 0
retry_deadline = 0

[faults]
p_transient = 0.28360742437736364
retry_after_ms = 277
heal_ms = 1

[faults.latency]
kind = "uniform"
min_ms = 10
max_ms = 10

[workload]
kind = "closed"
clients = 2
calls = 3
think_ms = 50

[expect]
liveness_after_heal_ms = 0
"#;
    let e = ours_throttle_on(OUTLIVES, 10083493165367007071);
    assert!(e.passed(), "{:#?}", e.violations);
    // The calls after the heal were refused, not served: the exemption is
    // what acquits them.
    assert!(e.summary.success_rate() < 1.0, "{:?}", e.summary);
}

/// Two calls fail in the same instant under a 10 ms deadline, one with a
/// Retry-After of 1 ms: the other's backoff is 0 ns, so it reaches the gate
/// at once, finds the pause, and is refused there (the wait would pass the
/// deadline), ending in the failure's instant. The judge took a call that
/// ended in its last attempt's instant for one that never went to its
/// gate, and convicted the refusal (`transient_retried`) and the 0 ns delay
/// reported before it (`no_sleep_after_final`) at the false-alarm sweep's
/// full size.
#[test]
fn a_retry_refused_at_the_gate_after_no_backoff_is_the_throttles() {
    const NO_BACKOFF: &str = r#"
name = "refused-after-no-backoff"

[policy]
max_retries = 1
timeout = 10
initial_backoff = 0
max_backoff = 0
jitter = "none"
max_retry_after = "18446744073709551615ns"
first_chunk = 0
stream_idle = 0
retry_deadline = 10

[faults]
script = ["503:ra=1", "503"]

[faults.latency]
kind = "uniform"
min_ms = 10
max_ms = 10

[workload]
kind = "closed"
clients = 2
calls = 1
method = "anthropic"
"#;
    let e = ours_throttle_on(NO_BACKOFF, 0);
    assert!(e.passed(), "{:#?}", e.violations);
}
