//! Every built-in scenario across many seeds: oracles, expectations, determinism.

use provider_retry_sim::scenario::WorldKind;
use provider_retry_sim::{builtin, evaluate, replay_command};

/// Seeds per scenario per test run. `RETRY_SIM_SEEDS` overrides it for a longer soak.
fn seeds() -> u64 {
    std::env::var("RETRY_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100)
}

/// Seeds per network scenario: each run steps turmoil's whole network, so
/// fewer by default. `RETRY_SIM_NET_SEEDS` overrides it.
fn network_seeds() -> u64 {
    std::env::var("RETRY_SIM_NET_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20)
}

#[test]
fn every_builtin_scenario_holds_across_seeds_and_repeats_exactly() {
    check_world(WorldKind::InProcess, seeds());
}

#[test]
fn every_network_scenario_holds_across_seeds_and_repeats_exactly() {
    check_world(WorldKind::Network, network_seeds());
}

fn check_world(world: WorldKind, seeds: u64) {
    let mut failures = Vec::new();
    let all = builtin::all().expect("built-in scenarios parse");
    let in_world: Vec<_> = all.into_iter().filter(|(_, s)| s.world == world).collect();
    assert!(!in_world.is_empty(), "no {world:?} scenarios");
    for (name, scenario) in in_world {
        for seed in 0..seeds {
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
    let timed_out = |k: &Kind| {
        matches!(
            k,
            Kind::AttemptEnded {
                outcome: AttemptOutcome::TimedOut,
                ..
            }
        )
    };
    assert!(has("net-partition-during-attempt", &timed_out));
    assert!(has("net-crash-mid-stream", &|k| matches!(
        k,
        Kind::StreamFailed { timeout: false }
    )));
    assert!(has("net-lossy-link", &|k| matches!(
        k,
        Kind::AttemptEnded { outcome, .. } if *outcome != AttemptOutcome::Ok
    )));
    assert!(has("net-bounce-during-backoff", &|k| matches!(
        k,
        Kind::Delay {
            retry_after: false,
            ..
        }
    )));
    assert!(has("net-one-way-and-hold", &timed_out));
    assert!(has("net-retry-after-http-date", &|k| matches!(
        k,
        Kind::Delay {
            retry_after: true,
            ..
        }
    )));
}
