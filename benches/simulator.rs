//! How fast the simulator runs: simulated attempts per CPU-second for one
//! fixed scenario in the in-process and the network world; a hanging
//! subject over the network, stepped every millisecond to the horizon as
//! turmoil steps it and with quiet time skipped; seeds per second (on one
//! core) of the sweep over the built-in scenario set, each run twice as
//! `retry-sim sweep` does; and the whole of `retry-sim conform`.
//!
//! All but `conform` run on one thread, so wall time there is CPU time;
//! `retry-sim sweep` spreads seeds over every core on top of this, and
//! `conform` spreads its subjects.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provider_retry_sim::run::{conform, evaluate};
use provider_retry_sim::scenario::{Scenario, WorldKind};
use provider_retry_sim::subject::{Bare, Ours, SubjectName};
use provider_retry_sim::trace::Kind;
use provider_retry_sim::world::net::world::{Stepping, run_stepping};
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

/// The bare provider behind a partition: four calls that never end. Full
/// stepping ticks every host every millisecond to the 300 s horizon; the
/// skip jumps there once nothing can happen (the same trace).
const HANG: &str = "net-partition-during-attempt";

fn hang(c: &mut Criterion) {
    let Some(Ok(scenario)) = builtin::get(HANG) else {
        panic!("built-in scenario {HANG} parses")
    };
    let mut group = c.benchmark_group("network_hang");
    group.sample_size(10);
    for (name, stepping) in [
        ("turmoil_stepping", Stepping::Full),
        ("skip_quiet", Stepping::SkipQuiet),
    ] {
        group.bench_function(format!("{name}/{HANG}/bare"), |b| {
            b.iter(|| run_stepping(&Bare, black_box(&scenario), 0, stepping).expect("runs"))
        });
    }
    group.finish();
}

fn conformance(c: &mut Criterion) {
    let mut group = c.benchmark_group("conform");
    group.sample_size(10);
    group.sampling_mode(criterion::SamplingMode::Flat);
    group.bench_function("every_subject_both_worlds", |b| {
        b.iter(|| {
            let reports = conform::suites(&SubjectName::ALL, &conform::Options::default(), &|| {});
            black_box(reports.expect("worlds run"))
        })
    });
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
    targets = worlds, hang, sweep, conformance
}
criterion_main!(simulator);
