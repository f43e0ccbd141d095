//! Snapshots of each built-in scenario's trace under the default seed.
//!
//! Review changes with `cargo insta review`: a diff here is a change in what
//! the wrapper or the simulator does, event by event.

use provider_retry_sim::subject::Ours;
use provider_retry_sim::{DEFAULT_SEED, builtin, world};

#[test]
fn builtin_scenario_traces() {
    for (name, scenario) in builtin::all().unwrap() {
        let trace = world::run(&Ours, &scenario, DEFAULT_SEED).unwrap();
        insta::with_settings!({ snapshot_path => "../../../snapshots", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(format!("trace_{name}"), trace.to_text());
        });
    }
}
