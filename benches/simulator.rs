//! How fast the simulator runs: simulated attempts per CPU-second for one
//! fixed scenario in the in-process and the network world, and seeds per
//! second (on one core) of the sweep over the built-in scenario set, each
//! run twice as `retry-sim sweep` does.
//!
//! Both run on one thread, so wall time here is CPU time; `retry-sim sweep`
//! spreads seeds over every core on top of this.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provider_retry_sim::run::evaluate;
use provider_retry_sim::scenario::{Scenario, WorldKind};
use provider_retry_sim::subject::Ours;
use provider_retry_sim::trace::Kind;
use provider_retry_sim::{builtin, world};
use std::hint::black_box;
use std::time::Duration;

/// The fixed scenario: 10 clients x 10 calls, 30 % transient errors. It is
/// run as it is (in process) and over the simulated network.
const SCENARIO: &str = "transient-then-ok";

fn attempts(trace: &provider_retry_sim::trace::Trace) -> u64 {
    let started =
        |r: &&provider_retry_sim::trace::Record| matches!(r.kind, Kind::AttemptStarted { .. });
    trace.records.iter().filter(started).count() as u64
}

fn worlds(c: &mut Criterion) {
    let Some(Ok(in_process)) = builtin::get(SCENARIO) else {
        panic!("built-in scenario {SCENARIO} parses")
    };
    let network = Scenario {
        world: WorldKind::Network,
        ..in_process.clone()
    };
    let mut group = c.benchmark_group("simulator");
    for (name, scenario) in [("in_process", in_process), ("network", network)] {
        let trace = world::run(&Ours, &scenario, 1).expect("runtime");
        // Elements are simulated attempts: criterion prints attempts per second.
        group.throughput(Throughput::Elements(attempts(&trace)));
        group.bench_function(format!("{name}/{SCENARIO}"), |b| {
            b.iter(|| world::run(&Ours, black_box(&scenario), 1).expect("runtime"))
        });
    }
    group.finish();
}

fn sweep(c: &mut Criterion) {
    let scenarios = builtin::all().expect("built-in scenarios parse");
    let mut group = c.benchmark_group("sweep");
    // One element is one seed over the whole built-in set.
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    let mut seed = 0;
    group.bench_function("builtin_set_seed", |b| {
        b.iter(|| {
            seed += 1;
            for (_, scenario) in &scenarios {
                let evaluation = evaluate(&Ours, scenario, seed, true).expect("runtime");
                black_box(evaluation.passed());
            }
        })
    });
    group.finish();
}

criterion_group! {
    name = simulator;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    targets = worlds, sweep
}
criterion_main!(simulator);
