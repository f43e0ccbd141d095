//! Random scenarios for property tests and the conformance suite.
//!
//! They span the whole domain a policy allows, not a comfortable corner:
//! zero wherever zero is allowed, durations from nanoseconds to near
//! `u64::MAX`, and now and then hundreds of retries. Fault plans are drawn
//! the way swarm testing draws them: each fault kind is switched on or off
//! per scenario, so every mix of kinds appears, including none. Workloads
//! call a random set of `Provider` methods; now and then a caller walks
//! away from a call, and now and then the faults heal and the calls after
//! the heal must succeed.
//!
//! Every generated scenario can end for a correct wrapper before the
//! simulation's horizon: a zero (disabled) timeout is drawn only when no
//! attempt can hang, a zero stream idle bound only when no stream can
//! stall, and long schedules only with a short cap.

use crate::faults::FaultPlan;
use crate::fired::Fault;
use crate::method::Method;
use crate::scenario::drops::{CallDrop, DropPoint};
use crate::scenario::{
    Expect, JitterSpec, NetworkSpec, PolicySpec, Scenario, ScenarioSpec, Shape, Workload, WorldKind,
};
use proptest::prelude::*;
use std::time::Duration;

/// A duration at one of three scales: nanoseconds, milliseconds, or near `u64::MAX` nanoseconds.
fn any_scale(ms_max: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0u64..=ms_max).prop_map(Duration::from_millis),
        1 => (0u64..2_000).prop_map(Duration::from_nanos),
        1 => Just(Duration::ZERO),
        1 => (0u64..1_000).prop_map(|k| Duration::from_nanos(u64::MAX - k)),
    ]
}

/// A duration that stays short (a wait a run can afford to sit through).
fn short(ms_max: u64) -> impl Strategy<Value = Duration> {
    prop_oneof![
        3 => (0u64..=ms_max).prop_map(Duration::from_millis),
        1 => (0u64..2_000).prop_map(Duration::from_nanos),
        1 => Just(Duration::ZERO),
    ]
}

fn jitter() -> impl Strategy<Value = JitterSpec> {
    prop_oneof![
        Just(JitterSpec::None),
        Just(JitterSpec::Equal),
        Just(JitterSpec::Full),
        Just(JitterSpec::Decorrelated)
    ]
}

/// A policy. One in six is a long schedule: up to 300 retries with a cap
/// of at most 50 ms.
pub fn policy() -> impl Strategy<Value = PolicySpec> {
    let common = (
        short(3_000),
        jitter(),
        any_scale(3_000),
        short(2_000),
        proptest::option::of(any_scale(5_000)),
    );
    let few = (0u32..6, short(500), any_scale(5_000));
    let many = (60u32..=300, short(20), short(50));
    let counts = prop_oneof![5 => few, 1 => many];
    (counts, common).prop_map(
        |(
            (max_retries, initial_backoff, max_backoff),
            (timeout, jitter, max_retry_after, stream_idle, retry_deadline),
        )| PolicySpec {
            max_retries,
            timeout,
            initial_backoff,
            max_backoff,
            jitter,
            max_retry_after,
            // Drawn as one with the idle bound, so the generated domain
            // (and its seeds) stay what they were; the built-ins
            // silent-reasoning and stall-after-first-chunk set them apart.
            first_chunk: stream_idle,
            stream_idle,
            retry_deadline,
        },
    )
}

/// A probability that is zero when the kind is switched off (half the time).
fn switched(max: f64) -> impl Strategy<Value = f64> {
    prop_oneof![Just(0.0), (0.0f64..max)]
}

/// A fault plan mixing the kinds a swarm draw switched on.
pub fn faults() -> impl Strategy<Value = FaultPlan> {
    let step = prop_oneof![
        Just("ok"),
        Just("503"),
        Just("429:ra=0"),
        Just("503:ra=1"),
        Just("400"),
        Just("network"),
        Just("decode"),
        Just("hang"),
        Just("stream-fail"),
        Just("stream-stall"),
    ];
    let script = proptest::collection::vec(step, 0..4);
    (
        (
            switched(0.9),
            switched(0.3),
            switched(0.3),
            switched(0.3),
            switched(0.2),
        ),
        (switched(0.5), switched(0.5)),
        proptest::option::of(0u64..4000),
        1u32..6,
        0u64..20,
        (script, any::<bool>()),
    )
        .prop_map(
            |(
                (p_transient, p_non_transient, p_decode, p_network, p_hang),
                (p_stream_fail, p_stream_stall),
                retry_after_ms,
                chunks,
                chunk_gap_ms,
                (script, script_repeat),
            )| FaultPlan {
                p_transient,
                p_non_transient,
                p_decode,
                p_network,
                p_hang,
                p_stream_fail,
                p_stream_stall,
                retry_after_ms,
                chunks,
                chunk_gap_ms,
                script: script.into_iter().filter_map(|s| s.parse().ok()).collect(),
                script_repeat,
                transient_statuses: vec![429, 500, 502, 503, 504],
                ..FaultPlan::default()
            },
        )
}

/// One to four methods, drawn from every family.
pub fn methods() -> impl Strategy<Value = Vec<Method>> {
    proptest::collection::vec(proptest::sample::select(Method::ALL.to_vec()), 1..=4)
}

/// Whether an attempt under `faults` can hang, and a stream stall.
fn can_hang(faults: &FaultPlan) -> (bool, bool) {
    let scripted = |step: &str| {
        faults
            .script
            .iter()
            .any(|s| String::from(s.clone()) == step)
    };
    (
        faults.p_hang > 0.0 || scripted("hang"),
        faults.p_stream_stall > 0.0 || scripted("stream-stall"),
    )
}

/// Keep what a correct wrapper needs to end every call: a timeout when
/// attempts can hang, an idle bound when streams can stall, and a timeout
/// short enough that a hang costs what a run can afford.
fn endable(mut policy: PolicySpec, faults: &FaultPlan) -> PolicySpec {
    let (hangs, stalls) = can_hang(faults);
    let long = Duration::from_secs(3);
    if hangs && (policy.timeout.is_zero() || policy.timeout > long) {
        policy.timeout = long;
    }
    if stalls && (policy.stream_idle.is_zero() || policy.stream_idle > long) {
        policy.stream_idle = long;
    }
    if stalls && (policy.first_chunk.is_zero() || policy.first_chunk > long) {
        policy.first_chunk = long;
    }
    policy
}

/// The fault kinds [`faults`] draws, each of which the generated
/// scenarios of a conformance suite must fire somewhere: a generator that
/// stopped drawing one would leave every oracle that judges it untested
/// on generated scenarios, and every verdict there vacuous for it.
pub const DRAWN: &[Fault] = &[
    Fault::Status(400),
    Fault::Status(429),
    Fault::Status(500),
    Fault::Status(502),
    Fault::Status(503),
    Fault::Status(504),
    Fault::RetryAfter,
    Fault::Network,
    Fault::Decode,
    Fault::Hang,
    Fault::Slow,
    Fault::StreamFail,
    Fault::StreamStall,
];

/// A closed workload of 1 to 3 clients x 1 to 3 calls, in process.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    scenario_with(faults())
}

/// [`scenario`], its fault plans drawn from `faults` (the seam a test
/// plants a generator through that misses a fault kind).
pub fn scenario_with(faults: impl Strategy<Value = FaultPlan>) -> impl Strategy<Value = Scenario> {
    shaped(policy(), faults, 1..4)
}

/// Scenarios that retry a lot, for pooling the delays of many seeds: three
/// to four clients at once, most attempts failing, and jitter wider than
/// the distribution test's narrowest envelope. One [`scenario`] holds too
/// few backoffs to test their distribution, and a pool of them too few
/// pairs of concurrent waits to test their independence.
pub fn retry_heavy() -> impl Strategy<Value = Scenario> {
    let jitter = prop_oneof![
        Just(JitterSpec::Equal),
        Just(JitterSpec::Full),
        Just(JitterSpec::Decorrelated)
    ];
    let busy = (policy(), jitter, 3u32..7, 20u64..300, 1u64..5).prop_map(
        |(mut p, jitter, retries, initial_ms, cap_s)| {
            p.max_retries = retries;
            p.jitter = jitter;
            p.initial_backoff = Duration::from_millis(initial_ms);
            p.max_backoff = Duration::from_secs(cap_s).max(p.initial_backoff * 4);
            p.retry_deadline = None;
            p
        },
    );
    let failing = faults().prop_map(|mut f| {
        f.p_transient = f.p_transient.max(0.6);
        f
    });
    shaped(busy, failing, 3..5)
}

/// A drawn heal: when the faults heal, the grace after which calls must
/// succeed, and how long each client thinks between calls.
type HealDraw = (u64, u64, u64);

/// Now and then a heal: from `heal_ms` on no fault fires, and calls that
/// start `grace_ms` after it must succeed (`liveness_after_heal_ms`). The
/// clients then think between calls, so that later calls start after the
/// heal and the promise is judged.
fn heal() -> impl Strategy<Value = Option<HealDraw>> {
    proptest::option::weighted(0.25, (0u64..300, 0u64..200, 50u64..500))
}

/// A drawn drop: the kind of point (attempt, backoff, stream item), its
/// number, and how long after it the caller walks away.
type DropDraw = (u8, u32, u64);

/// Callers that walk away: each call of the largest workload, in order, is
/// dropped one time in four, mostly at the very point (an attempt in
/// flight there is then in flight at the drop).
fn drops() -> impl Strategy<Value = Vec<Option<DropDraw>>> {
    let draw = (
        0u8..3,
        0u32..3,
        prop_oneof![3 => Just(0u64), 1 => 0u64..100],
    );
    proptest::collection::vec(proptest::option::weighted(0.25, draw), 9)
}

/// The drawn drops of the calls `workload` has: draw `i` is client `i / 3`'s
/// call `i % 3`; a stream point on a call that streams nothing is put at
/// its attempt instead.
fn dropped(draws: &[Option<DropDraw>], workload: &Workload) -> Vec<CallDrop> {
    let Shape::Closed { clients, calls, .. } = workload.shape else {
        return Vec::new();
    };
    let at = |i: usize| (i as u32 / 3, u64::from(i as u32 % 3));
    draws
        .iter()
        .enumerate()
        .filter_map(|(i, draw)| Some((at(i), (*draw)?)))
        .filter(|((client, call), _)| *client < clients && *call < u64::from(calls))
        .map(|((client, call), (kind, n, after_ms))| {
            let streams = workload.method(client, call).is_stream();
            let point = match kind {
                0 => DropPoint::Attempt(n),
                1 => DropPoint::Backoff(n),
                _ if streams => DropPoint::Item(n),
                _ => DropPoint::Attempt(n),
            };
            CallDrop {
                client,
                call,
                point,
                after: Duration::from_millis(after_ms),
            }
        })
        .collect()
}

/// Keep what a healed provider needs to answer a correct wrapper's call:
/// once healed it answers in 10 ms and streams chunks at most 20 ms apart,
/// so a timeout or stream bound under 100 ms would fail healthy attempts,
/// and liveness promises nothing for them.
fn livable(mut policy: PolicySpec) -> PolicySpec {
    let floor = Duration::from_millis(100);
    for bound in [
        &mut policy.timeout,
        &mut policy.stream_idle,
        &mut policy.first_chunk,
    ] {
        if !bound.is_zero() && *bound < floor {
            *bound = floor;
        }
    }
    policy
}

/// A closed in-process scenario of `clients` x 1 to 3 calls from `policy`
/// and `faults`, with the heals and dropped calls drawn beside them.
fn shaped(
    policy: impl Strategy<Value = PolicySpec>,
    faults: impl Strategy<Value = FaultPlan>,
    clients: std::ops::Range<u32>,
) -> impl Strategy<Value = Scenario> {
    (
        policy,
        faults,
        clients,
        1u32..4,
        methods(),
        (heal(), drops()),
    )
        .prop_map(
            |(policy, mut faults, clients, calls, methods, (heal, drops))| {
                let mut policy = endable(policy, &faults);
                let mut expect = Expect::default();
                let mut think_ms = 0;
                // A script plays before the heal and after it: a call after
                // the heal could still meet one of its failures, so a healing
                // plan has none.
                if let Some((heal_ms, grace_ms, think)) = heal {
                    faults.script.clear();
                    faults.heal_ms = Some(heal_ms);
                    expect.liveness_after_heal_ms = Some(grace_ms);
                    policy = livable(policy);
                    think_ms = think;
                }
                let mut workload = Workload {
                    shape: Shape::Closed {
                        clients,
                        calls,
                        think_ms,
                    },
                    methods,
                    // The default: one wrapper every client shares.
                    wrapper: Default::default(),
                    drops: Vec::new(),
                };
                workload.drops = dropped(&drops, &workload);
                Scenario {
                    name: "generated".into(),
                    description: String::new(),
                    policy,
                    faults,
                    fallback: Vec::new(),
                    workload,
                    expect,
                    world: WorldKind::InProcess,
                    network: NetworkSpec::default(),
                }
            },
        )
        // Through the same validation as a file: what is generated is what a
        // scenario file could say.
        .prop_filter_map("a valid scenario", |s| {
            Scenario::try_from(ScenarioSpec::from(s)).ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// Draws from the strategy reach every corner the module promises.
    #[test]
    fn generated_scenarios_span_the_domain() {
        let mut runner = TestRunner::deterministic();
        let strategy = scenario();
        let (mut many, mut ns, mut huge, mut zero, mut none_on, mut methods) = (
            false,
            false,
            false,
            false,
            false,
            std::collections::BTreeSet::new(),
        );
        let (mut healed, mut points) = (0, std::collections::HashSet::new());
        for _ in 0..2_000 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            let p = &s.policy;
            many |= p.max_retries >= 60;
            ns |= p.initial_backoff.as_nanos() > 0 && p.initial_backoff < Duration::from_micros(2);
            huge |= p.max_retry_after > Duration::from_secs(1 << 33);
            zero |= p.max_backoff.is_zero() && p.initial_backoff.is_zero();
            none_on |=
                s.faults.p_transient == 0.0 && s.faults.p_hang == 0.0 && s.faults.p_network == 0.0;
            methods.extend(s.workload.methods.iter().copied());
            let (hangs, stalls) = can_hang(&s.faults);
            assert!(!hangs || !p.timeout.is_zero(), "{s:?}");
            assert!(!stalls || !p.stream_idle.is_zero(), "{s:?}");
            assert!(p.max_retries < 60 || p.max_backoff <= Duration::from_millis(50));
            if let Some(grace) = s.expect.liveness_after_heal_ms {
                healed += 1;
                assert!(s.faults.heal_ms.is_some() && s.faults.script.is_empty());
                assert!(grace < 200, "{s:?}");
                for bound in [p.timeout, p.stream_idle, p.first_chunk] {
                    assert!(bound.is_zero() || bound >= Duration::from_millis(100));
                }
            }
            for d in &s.workload.drops {
                points.insert(std::mem::discriminant(&d.point));
                let streams = s.workload.method(d.client, d.call).is_stream();
                assert!(streams || !matches!(d.point, DropPoint::Item(_)));
            }
        }
        assert!(many && ns && huge && zero && none_on);
        // A quarter of the draws heal.
        assert!((400..600).contains(&healed), "{healed} healed");
        assert_eq!(points.len(), 3, "every kind of drop point");
        assert_eq!(methods.len(), Method::ALL.len());
    }

    /// Pooled scenarios retry with jitter wide enough to test.
    #[test]
    fn retry_heavy_scenarios_have_backoffs_to_pool() {
        let mut runner = TestRunner::deterministic();
        let strategy = retry_heavy();
        for _ in 0..500 {
            let s = strategy.new_tree(&mut runner).unwrap().current();
            let p = &s.policy;
            assert!(p.max_retries >= 3 && p.jitter != JitterSpec::None, "{p:?}");
            assert!(p.initial_backoff >= Duration::from_millis(20));
            assert!(p.max_backoff >= p.initial_backoff * 4);
            assert!(s.faults.p_transient >= 0.6);
            assert!(matches!(
                s.workload.shape,
                Shape::Closed { clients: 3..=4, .. }
            ));
        }
    }

    /// Every knob of the fault plan varies: each kind is switched both off
    /// and on (the swarm draw), and the shape of answers and scripts moves.
    #[test]
    fn generated_fault_plans_switch_every_kind_on_and_off() {
        let mut runner = TestRunner::deterministic();
        let strategy = faults();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..2_000 {
            let f = strategy.new_tree(&mut runner).unwrap().current();
            let switches = [
                ("transient", f.p_transient),
                ("non_transient", f.p_non_transient),
                ("decode", f.p_decode),
                ("network", f.p_network),
                ("hang", f.p_hang),
                ("stream_fail", f.p_stream_fail),
                ("stream_stall", f.p_stream_stall),
            ];
            for (kind, p) in switches {
                seen.insert(format!("{kind} {}", if p > 0.0 { "on" } else { "off" }));
            }
            seen.insert(format!("retry_after {}", f.retry_after_ms.is_some()));
            seen.insert(format!("chunks {}", f.chunks));
            seen.insert(format!("chunk_gap {}", f.chunk_gap_ms > 0));
            seen.insert(format!("script {}", f.script.is_empty()));
            seen.insert(format!("script_repeat {}", f.script_repeat));
        }
        for kind in [
            "transient",
            "non_transient",
            "decode",
            "network",
            "hang",
            "stream_fail",
            "stream_stall",
        ] {
            for state in ["on", "off"] {
                assert!(
                    seen.contains(&format!("{kind} {state}")),
                    "{kind} never {state}"
                );
            }
        }
        for knob in ["retry_after", "chunk_gap", "script", "script_repeat"] {
            for state in [true, false] {
                assert!(
                    seen.contains(&format!("{knob} {state}")),
                    "{knob} never {state}"
                );
            }
        }
        for chunks in 1..6 {
            assert!(
                seen.contains(&format!("chunks {chunks}")),
                "never {chunks} chunks"
            );
        }
    }

    fn plan(script: &[&str], p_hang: f64, p_stream_stall: f64) -> FaultPlan {
        FaultPlan {
            script: script.iter().map(|s| s.parse().unwrap()).collect(),
            p_hang,
            p_stream_stall,
            ..FaultPlan::default()
        }
    }

    /// A hang or a stall is possible if the plan can roll one or its
    /// script holds one, and not otherwise.
    #[test]
    fn a_plan_can_hang_or_stall_by_its_dice_or_its_script() {
        assert_eq!(can_hang(&plan(&[], 0.0, 0.0)), (false, false));
        assert_eq!(can_hang(&plan(&["ok", "503"], 0.0, 0.0)), (false, false));
        assert_eq!(can_hang(&plan(&[], 0.1, 0.0)), (true, false));
        assert_eq!(can_hang(&plan(&[], 0.0, 0.1)), (false, true));
        assert_eq!(can_hang(&plan(&["ok", "hang"], 0.0, 0.0)), (true, false));
        assert_eq!(
            can_hang(&plan(&["stream-stall", "ok"], 0.0, 0.0)),
            (false, true)
        );
    }

    /// A timeout is forced (to 3 s) only where an attempt can hang, an
    /// idle bound and a first-chunk bound only where a stream can stall;
    /// a bound already 3 s or shorter is kept, and so is every bound where
    /// nothing can hang.
    #[test]
    fn only_what_can_hang_gets_a_bound_and_only_if_it_has_none_short_enough() {
        let ms = Duration::from_millis;
        let long = Duration::from_secs(3);
        let with = |bound: Duration| PolicySpec {
            timeout: bound,
            stream_idle: bound,
            first_chunk: bound,
            ..PolicySpec::default()
        };
        let bounds = |p: PolicySpec| (p.timeout, p.stream_idle, p.first_chunk);
        for bound in [Duration::ZERO, ms(1_000), ms(10_000)] {
            let quiet = endable(with(bound), &plan(&[], 0.0, 0.0));
            assert_eq!(bounds(quiet), (bound, bound, bound));
        }
        let hangs = plan(&["hang"], 0.0, 0.0);
        let stalls = plan(&[], 0.0, 0.5);
        for (bound, want) in [
            (Duration::ZERO, long),
            (ms(1_000), ms(1_000)),
            (ms(10_000), long),
        ] {
            assert_eq!(bounds(endable(with(bound), &hangs)), (want, bound, bound));
            assert_eq!(bounds(endable(with(bound), &stalls)), (bound, want, want));
        }
    }
}
