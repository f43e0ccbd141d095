//! Every built-in scenario across many seeds: oracles, expectations, determinism.

use provider_retry_sim::{builtin, evaluate, replay_command};

/// Seeds per scenario per test run. `RETRY_SIM_SEEDS` overrides it for a longer soak.
fn seeds() -> u64 {
    std::env::var("RETRY_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

#[test]
fn every_builtin_scenario_holds_across_seeds_and_repeats_exactly() {
    let mut failures = Vec::new();
    for (name, scenario) in builtin::all().expect("built-in scenarios parse") {
        for seed in 0..seeds() {
            let e = evaluate(&scenario, seed, true).expect("runtime");
            if !e.passed() {
                let why = e
                    .violations
                    .iter()
                    .map(ToString::to_string)
                    .chain(e.unmet.iter().cloned())
                    .chain(e.divergence.iter().map(ToString::to_string))
                    .next()
                    .unwrap_or_default();
                failures.push(format!(
                    "{name} seed {seed}: {why}\n  replay: {}",
                    replay_command(name, seed)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failing run(s):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn scenarios_exercise_what_they_are_named_for() {
    // Guard against a scenario that silently stops injecting its fault: each
    // must show its signature in the trace of the default seed.
    use provider_retry_sim::trace::{AttemptOutcome, Kind};
    let has = |name: &str, pred: &dyn Fn(&Kind) -> bool| {
        let scenario = builtin::get(name).unwrap().unwrap();
        let e = evaluate(&scenario, provider_retry_sim::DEFAULT_SEED, false).unwrap();
        e.trace.records.iter().any(|r| pred(&r.kind))
    };
    let gave_up = |why: &'static str| move |k: &Kind| matches!(k, Kind::GaveUp { reason, .. } if reason == why);
    assert!(has("permanent-outage", &gave_up("exhausted")));
    assert!(has("non-transient", &gave_up("not_transient")));
    assert!(has(
        "rate-limit-above-cap",
        &gave_up("retry_after_too_long")
    ));
    assert!(has("retry-deadline", &gave_up("deadline")));
    assert!(has("rate-limit-below-cap", &|k| matches!(
        k,
        Kind::Delay {
            retry_after: true,
            ..
        }
    )));
    assert!(has("hang-and-timeouts", &|k| matches!(
        k,
        Kind::AttemptEnded {
            outcome: AttemptOutcome::TimedOut,
            ..
        }
    )));
    assert!(has("brownout", &|k| matches!(
        k,
        Kind::AttemptEnded {
            outcome: AttemptOutcome::TimedOut,
            ..
        }
    )));
    assert!(has("mid-stream-error", &|k| matches!(
        k,
        Kind::StreamFailed { timeout: false }
    )));
    assert!(has("stalled-stream", &|k| matches!(
        k,
        Kind::StreamFailed { timeout: true }
    )));
    assert!(has("stream-open-retry", &|k| matches!(
        k,
        Kind::ChunkReceived { .. }
    )));
}
