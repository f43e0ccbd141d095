//! Every built-in scenario across thousands of seeds: oracles, expectations
//! (per run and pooled across seeds), and determinism (each run twice).

use provider_retry_sim::builtin;
use provider_retry_sim::run::sweep::{Shard, report, sweep};
use provider_retry_sim::scenario::{Scenario, WorldKind};
use provider_retry_sim::subject::Ours;
use std::collections::BTreeMap;

/// Seeds from the environment, or the default: the in-process world gets
/// 2,000 per scenario and the network world 500 (`RETRY_SIM_SEEDS`,
/// `RETRY_SIM_NET_SEEDS` raise or lower them).
fn seeds(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn check_world(world: WorldKind, seeds: u64) {
    let all = builtin::all().expect("built-in scenarios parse");
    let named: Vec<(String, Scenario)> = all
        .into_iter()
        .filter(|(_, s)| s.world == world)
        .map(|(n, s)| (n.to_string(), s))
        .collect();
    assert!(!named.is_empty(), "no {world:?} scenarios");
    let lines = sweep(&Ours, "ours", &named, 0..seeds, Shard::default(), &|| {}).expect("world");
    assert_eq!(lines.len() as u64, named.len() as u64 * seeds);
    let by_name: BTreeMap<String, Scenario> = named.into_iter().collect();
    let (text, passed) = report(&lines, &by_name);
    assert!(passed, "{text}");
}

#[test]
fn every_in_process_scenario_holds_across_thousands_of_seeds_and_repeats_exactly() {
    check_world(WorldKind::InProcess, seeds("RETRY_SIM_SEEDS", 2000));
}

#[test]
fn every_network_scenario_holds_across_hundreds_of_seeds_and_repeats_exactly() {
    check_world(WorldKind::Network, seeds("RETRY_SIM_NET_SEEDS", 500));
}
