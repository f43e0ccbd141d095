//! Random scenarios for property tests and the conformance suite: bounded
//! policies, fault plans mixing every fault kind, small closed workloads.
//!
//! The timeout is never zero here: with hangs in the plan, a zero timeout
//! legitimately never ends (the `calls_end` oracle would rightly object).

use crate::faults::FaultPlan;
use crate::method::Method;
use crate::scenario::{
    Expect, JitterSpec, NetworkSpec, PolicySpec, Scenario, Shape, Workload, WorldKind,
};
use proptest::prelude::*;
use std::time::Duration;

/// A policy with every knob drawn from a bounded range.
pub fn policy() -> impl Strategy<Value = PolicySpec> {
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
            )| {
                let ms = Duration::from_millis;
                PolicySpec {
                    max_retries,
                    timeout: ms(timeout_ms),
                    initial_backoff: ms(initial_backoff_ms),
                    max_backoff: ms(max_backoff_ms),
                    jitter,
                    max_retry_after: ms(max_retry_after_ms),
                    stream_idle: ms(stream_idle_ms),
                    retry_deadline: retry_deadline_ms.map(ms),
                }
            },
        )
}

/// A fault plan with every per-attempt fault kind at up to 50 %.
pub fn faults() -> impl Strategy<Value = FaultPlan> {
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

/// A closed workload of 1 to 3 clients x 1 to 3 calls, chat or stream.
pub fn scenario() -> impl Strategy<Value = Scenario> {
    (
        policy(),
        faults(),
        1u32..4,
        1u32..4,
        prop_oneof![Just(Method::Chat), Just(Method::ChatStream)],
    )
        .prop_map(|(policy, faults, clients, calls, method)| Scenario {
            name: "property".into(),
            description: String::new(),
            policy,
            faults,
            workload: Workload {
                shape: Shape::Closed {
                    clients,
                    calls,
                    think_ms: 0,
                },
                methods: vec![method],
            },
            expect: Expect::default(),
            world: WorldKind::InProcess,
            network: NetworkSpec::default(),
        })
}
