//! No vacuous verdict: a run counts which fault kinds fired, a sweep fails
//! a scenario whose named faults fired on none of its seeds, and the
//! generated scenarios must fire every kind the generator draws. Each
//! check is shown catching a broken harness planted through a seam: a
//! backend that plays only the first step of its script, a network that
//! strips Retry-After, a parser that reads a duration in the wrong unit,
//! and a generator that never draws a hang. Every planted harness still
//! passes the oracles (the subject is correct): only the vacuity checks
//! can tell.

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use provider_retry_sim::builtin::{self, BUILTIN};
use provider_retry_sim::check::judgement;
use provider_retry_sim::faults::{FaultPlan, Step};
use provider_retry_sim::fired::{Fault, Fired};
use provider_retry_sim::generate;
use provider_retry_sim::run::fired::fired;
use provider_retry_sim::run::sweep::{RunLine, Shard, report, sweep};
use provider_retry_sim::run::{context, evaluate};
use provider_retry_sim::scenario::Scenario;
use provider_retry_sim::subject::{Ours, Subject};
use provider_retry_sim::world::net::server::Server;
use provider_retry_sim::world::net::world::{Stepping, run_serving};
use std::collections::BTreeMap;
use std::path::Path;

/// The sweep report of `scenario` (named `name`) over seeds `0..seeds`,
/// against our wrapper, and whether it passed.
fn swept(name: &str, scenario: &Scenario, seeds: u64) -> (String, bool) {
    let named = vec![(name.to_string(), scenario.clone())];
    let lines = sweep(&Ours, "ours", &named, 0..seeds, Shard::default(), &|| {}).unwrap();
    let by_name: BTreeMap<String, Scenario> = named.into_iter().collect();
    report(&lines, &by_name)
}

fn parse(name: &str, text: &str) -> Scenario {
    Scenario::parse(Path::new(name), text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn every_built_in_scenario_names_what_it_fires() {
    let all = builtin::all().unwrap();
    let mut named = Fired::default();
    for (name, scenario) in &all {
        let fires = scenario.expect.fires.as_ref();
        let fires = fires.unwrap_or_else(|| panic!("{name}: no [expect] fires"));
        for fault in fires {
            named.add(*fault, 1);
        }
    }
    // Every kind the simulator can inject is some built-in's business.
    for fault in [
        Fault::RetryAfter,
        Fault::Network,
        Fault::Decode,
        Fault::Hang,
        Fault::Slow,
        Fault::StreamFail,
        Fault::StreamStall,
        Fault::Partition,
        Fault::Hold,
        Fault::Crash,
    ] {
        assert!(named.count(fault) > 0, "no built-in scenario fires {fault}");
    }
}

/// `wire/transient` scripts a 503, a success, a network error and a 500.
/// A backend that plays only the first step answers every later attempt
/// from the plan, which has no faults: exactly what running the scenario
/// with its script cut to its first step does.
#[test]
fn a_backend_that_plays_only_the_first_script_step_is_caught() {
    let text = include_str!("../../scenarios/wire/transient.toml");
    let scenario = parse("wire/transient.toml", text);
    let (honest, passed) = swept("wire-transient", &scenario, 3);
    assert!(passed, "{honest}");
    let mut planted = scenario.clone();
    planted.faults.script.truncate(1);
    let (text, passed) = swept("wire-transient", &planted, 3);
    assert!(!passed, "{text}");
    for fault in ["network", "status-500"] {
        let line =
            format!("wire-transient: fault {fault} named by scenario never fired across 3 seeds");
        assert!(text.contains(&line), "{text}");
    }
}

/// Over a network that strips Retry-After, the subject sees plain 429s:
/// `retry_after_honoured` has nothing to judge, and would read as held
/// without the vacuity check, which names the missing fault.
#[test]
fn a_network_that_strips_retry_after_is_caught() {
    let name = "net-retry-after-http-date";
    let scenario = builtin::get(name).unwrap().unwrap();
    let claim = Ours.claim(&scenario.policy);
    let mut lines = Vec::new();
    for seed in 0..2 {
        let strip = |server: Server| server.stripping(&["retry-after", "retry-after-ms"]);
        let honest = run_serving(&Ours, &scenario, seed, Stepping::SkipQuiet, |s| s).unwrap();
        let planted = run_serving(&Ours, &scenario, seed, Stepping::SkipQuiet, strip).unwrap();
        assert!(fired(&honest, &scenario.network).count(Fault::RetryAfter) > 0);
        let struck = fired(&planted, &scenario.network);
        assert_eq!(struck.count(Fault::Status(429)), 2, "{struck}");
        let judged = judgement(&planted, &claim, &context(&scenario));
        assert!(judged.violations.is_empty(), "{:?}", judged.violations);
        assert!(!judged.tally("retry_after_honoured").judged());
        lines.push(RunLine {
            scenario: name.into(),
            seed,
            subject: "ours".into(),
            calls: 2,
            ok: 2,
            attempts: 6,
            p99_ns: 0,
            failures: Vec::new(),
            fired: struck,
        });
    }
    let by_name = BTreeMap::from([(name.to_string(), scenario)]);
    let (text, passed) = report(&lines, &by_name);
    assert!(!passed, "{text}");
    let line = format!("{name}: fault retry-after named by scenario never fired across 2 seeds");
    assert!(text.contains(&line), "{text}");
}

/// `brownout`'s 1000 ms timeout cuts answers slowed by the brownout; a
/// parser that read `timeout_ms` in seconds would wait them all out.
#[test]
fn a_parser_reading_milliseconds_as_seconds_is_caught() {
    let (_, text) = BUILTIN.iter().find(|(n, _)| *n == "brownout").unwrap();
    let scenario = parse("brownout.toml", text);
    let (honest, passed) = swept("brownout", &scenario, 2);
    assert!(passed, "{honest}");
    let misread = text.replace("timeout_ms = 1000\n", "timeout_ms = 1000000\n");
    assert_ne!(&misread, text, "brownout.toml sets timeout_ms = 1000");
    let planted = parse("brownout.toml", &misread);
    let (report, passed) = swept("brownout", &planted, 2);
    assert!(!passed, "{report}");
    let line = "brownout: fault slow named by scenario never fired across 2 seeds";
    assert!(report.contains(line), "{report}");
}

/// What fired over `cases` scenarios drawn from `strategy`, each run once
/// under its case number as the seed.
fn generated_fired(strategy: impl Strategy<Value = Scenario>, cases: u64) -> Fired {
    let mut runner = TestRunner::deterministic();
    let mut all = Fired::default();
    for seed in 0..cases {
        let scenario = strategy.new_tree(&mut runner).unwrap().current();
        all.merge(&evaluate(&Ours, &scenario, seed, false).unwrap().fired);
    }
    all
}

/// A generator whose plans never hang (its hang probability and scripted
/// hangs dropped) leaves `hang` unfired across the generated scenarios,
/// which the conformance suite reports; the real one fires every kind.
#[test]
fn a_generator_that_never_draws_a_hang_is_caught() {
    const CASES: u64 = 128;
    let honest = generated_fired(generate::scenario(), CASES);
    assert_eq!(honest.missing(generate::DRAWN), [], "{honest}");
    let no_hang = |mut plan: FaultPlan| {
        plan.p_hang = 0.0;
        plan.script.retain(|step| *step != Step::Hang);
        plan
    };
    let planted = generate::scenario_with(generate::faults().prop_map(no_hang));
    let planted = generated_fired(planted, CASES);
    assert_eq!(planted.missing(generate::DRAWN), [Fault::Hang], "{planted}");
}

/// A world that ended with its last caller would never see what a wrapper
/// leaves running for the last call a caller walked away from: here a
/// retry loop spawned in a task of its own, for the only call of the run,
/// dropped during its second attempt. Only the world's linger after its
/// callers are done lets `no_attempt_after_drop` see the retries that
/// follow.
#[test]
fn work_left_running_after_the_last_call_is_seen() {
    use super::zoo::cases::{Case, assert_caught};
    use super::zoo::defect::Defect;
    const ONE_CALL: Case = Case {
        name: "vacuity-last-call-dropped",
        seeds: 0..1,
        toml: r#"
name = "vacuity-last-call-dropped"
[policy]
max_retries = 3
jitter = "none"
initial_backoff = "100ms"
timeout = "1s"
[faults]
p_transient = 1.0
latency = { kind = "uniform", min_ms = 200, max_ms = 200 }
[workload]
kind = "closed"
clients = 1
calls = 1
drops = [{ client = 0, during = "attempt", attempt = 1, after_ms = 50 }]
"#,
    };
    assert_caught(
        Defect::RetriesAfterCallerLeft,
        &ONE_CALL,
        "no_attempt_after_drop",
    );
}

/// A run is cut off only at its horizon, a day of virtual time: a call
/// whose backoffs add up to two hours ends, and every oracle judges it.
/// A horizon cut nearer would report a correct wrapper's call as never
/// ending.
#[test]
fn a_call_that_waits_for_hours_ends_before_the_horizon() {
    let scenario = parse(
        "vacuity-hours",
        r#"
name = "vacuity-hours"
[policy]
max_retries = 2
jitter = "none"
initial_backoff = "40m"
max_backoff = "2h"
[faults]
p_transient = 1.0
[workload]
kind = "closed"
clients = 1
calls = 1
"#,
    );
    let e = evaluate(&Ours, &scenario, 0, false).expect("the world starts");
    assert!(e.violations.is_empty(), "{:?}", e.violations);
    let ended = e
        .trace
        .records
        .iter()
        .filter(|r| matches!(r.kind, provider_retry_sim::trace::Kind::CallEnded { .. }))
        .map(|r| r.t)
        .max()
        .expect("the call ended");
    assert!(ended >= 2 * 3600 * 1_000_000_000, "ended at {ended} ns");
}

/// The network world ends a run that has been quiet for longer than twice
/// any timer the world or the claim can hold. A Retry-After is such a
/// timer: here it outlasts every other (a 1 s timeout, a backoff capped at
/// 1 s), and the call that waits it out must still be seen to succeed,
/// not cut off as if nothing more could happen.
#[test]
fn a_retry_after_longer_than_every_other_timer_is_waited_out_over_the_network() {
    let scenario = parse(
        "vacuity-long-retry-after",
        r#"
name = "vacuity-long-retry-after"
world = "network"
[policy]
max_retries = 2
timeout = "1s"
max_backoff = "1s"
[faults]
script = ["429:ra=10000"]
latency = { kind = "uniform", min_ms = 5, max_ms = 5 }
[workload]
kind = "closed"
clients = 1
calls = 1
"#,
    );
    let e = evaluate(&Ours, &scenario, 0, false).expect("the world starts");
    assert!(e.violations.is_empty(), "{:?}", e.violations);
    let ended: Vec<u64> = e
        .trace
        .records
        .iter()
        .filter(|r| matches!(r.kind, provider_retry_sim::trace::Kind::CallEnded { .. }))
        .map(|r| r.t)
        .collect();
    assert_eq!(ended.len(), 1, "the call ended once");
    assert!(ended[0] >= 10_000_000_000, "ended at {} ns", ended[0]);
}
