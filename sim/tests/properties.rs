//! Random policies x random fault plans: every oracle holds, and runs repeat exactly.
//!
//! A failure shrinks to a small scenario; proptest prints it and stores the
//! case in `proptest-regressions/`, so `cargo test -p provider-retry-sim --test properties`
//! replays it.

use proptest::prelude::*;
use provider_retry_sim::faults::FaultPlan;
use provider_retry_sim::scenario::{
    Expect, JitterSpec, Method, PolicySpec, Scenario, WorkloadKind, WorkloadSpec,
};
use provider_retry_sim::{claims, oracles, trace, world};

fn policy() -> impl Strategy<Value = PolicySpec> {
    let jitter = prop_oneof![
        Just(JitterSpec::None),
        Just(JitterSpec::Equal),
        Just(JitterSpec::Full),
        Just(JitterSpec::Decorrelated)
    ];
    (
        0u32..6,
        1u64..3000,
        0u64..500,
        0u64..5000,
        jitter,
        0u64..3000,
        0u64..2000,
        proptest::option::of(0u64..5000),
    )
        .prop_map(
            |(
                max_retries,
                timeout_ms,
                initial_backoff_ms,
                max_backoff_ms,
                jitter,
                max_retry_after_ms,
                stream_idle_ms,
                retry_deadline_ms,
            )| PolicySpec {
                max_retries,
                timeout_ms,
                initial_backoff_ms,
                max_backoff_ms,
                jitter,
                max_retry_after_ms,
                stream_idle_ms,
                retry_deadline_ms,
            },
        )
}

fn faults() -> impl Strategy<Value = FaultPlan> {
    let p = || 0.0f64..0.5;
    (
        p(),
        p(),
        p(),
        p(),
        0.0f64..0.2,
        p(),
        p(),
        proptest::option::of(0u64..4000),
        1u32..6,
    )
        .prop_map(
            |(
                p_transient,
                p_non_transient,
                p_decode,
                p_network,
                p_hang,
                p_stream_fail,
                p_stream_stall,
                retry_after_ms,
                chunks,
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
                transient_statuses: vec![429, 500, 502, 503, 504],
                ..FaultPlan::default()
            },
        )
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        policy(),
        faults(),
        1u32..4,
        1u32..4,
        prop_oneof![Just(Method::Chat), Just(Method::Stream)],
    )
        .prop_map(|(policy, faults, clients, calls, method)| Scenario {
            name: "property".into(),
            description: String::new(),
            policy,
            faults,
            workload: WorkloadSpec {
                kind: WorkloadKind::Closed,
                clients: Some(clients),
                calls: Some(calls),
                think_ms: 0,
                rate_per_s: None,
                duration_ms: None,
                method,
            },
            expect: Expect::default(),
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    // The timeout is never zero here: with hangs in the plan, a zero timeout
    // legitimately never ends (the `calls_end` oracle would rightly object).
    fn every_oracle_holds_for_any_policy_and_fault_plan(s in scenario(), seed in any::<u64>()) {
        let first = world::run(&s, seed).unwrap();
        let violations = oracles::check(&first, &claims(&s));
        prop_assert!(
            violations.is_empty(),
            "seed {seed}: {violations:?}\nscenario: {s:?}\nreplay: cargo test -p provider-retry-sim --test properties (proptest-regressions/ keeps the case)"
        );
        let second = world::run(&s, seed).unwrap();
        prop_assert_eq!(trace::first_divergence(&first, &second), None);
    }
}
