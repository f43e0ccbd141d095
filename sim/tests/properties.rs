//! Random policies x random fault plans: every oracle holds, and runs repeat exactly.
//!
//! A failure shrinks to a small scenario; proptest prints it and stores the
//! case in `proptest-regressions/`, so `cargo test -p provider-retry-sim --test properties`
//! replays it.

use proptest::prelude::*;
use provider_retry_sim::generate::scenario;
use provider_retry_sim::{claims, oracles, trace, world};

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
