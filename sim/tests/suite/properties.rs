//! Random policies x random fault plans: every oracle holds for our
//! wrapper, and runs repeat exactly.
//!
//! A failure shrinks to a small scenario; proptest prints it and stores the
//! case in `properties.proptest-regressions` beside this file, so
//! `cargo test -p provider-retry-sim --test suite properties::` replays it.

use proptest::prelude::*;
use provider_retry_sim::generate::scenario;
use provider_retry_sim::run::evaluate;
use provider_retry_sim::subject::Ours;

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_oracle_holds_for_any_policy_and_fault_plan(s in scenario(), seed in any::<u64>()) {
        let e = evaluate(&Ours, &s, seed, true).unwrap();
        prop_assert!(
            e.violations.is_empty(),
            "seed {seed}: {:?}\nscenario:\n{}\nreplay: cargo test -p provider-retry-sim --test suite properties:: (properties.proptest-regressions keeps the case)",
            e.violations,
            toml::to_string(&s).unwrap_or_default()
        );
        prop_assert!(e.divergence.is_none(), "{:?}", e.divergence);
    }
}
