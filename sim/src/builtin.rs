//! The built-in scenarios, compiled in from `sim/scenarios/`.

use crate::scenario::{Scenario, ScenarioError};
use std::path::Path;

macro_rules! scenarios {
    ($($name:literal),* $(,)?) => {
        /// Name and text of every built-in scenario, in report order.
        pub const BUILTIN: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../scenarios/", $name, ".toml")))),*
        ];
    };
}

scenarios![
    "success",
    "transient-then-ok",
    "permanent-outage",
    "long-outage",
    "non-transient",
    "hang-and-timeouts",
    "rate-limit-below-cap",
    "rate-limit-above-cap",
    "retry-deadline",
    "stream-open-retry",
    "mid-stream-error",
    "stalled-stream",
    "silent-reasoning",
    "stall-after-first-chunk",
    "brownout",
    "flapping",
    "thundering-herd",
    "open-loop-heal",
    "every-method",
    "caller-drops",
    "net-partition-during-attempt",
    "net-crash-mid-stream",
    "net-lossy-link",
    "net-bounce-during-backoff",
    "net-retry-after-http-date",
    "net-one-way-and-hold",
    "net-every-method",
    "net-silent-reasoning-keepalive",
    "net-caller-drops",
    "net-mixed-until-heal",
];

/// A built-in scenario by name.
///
/// # Errors
///
/// A built-in file that does not parse (a bug the tests catch).
pub fn get(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(n, text)| Scenario::parse(Path::new(&format!("sim/scenarios/{n}.toml")), text))
}

/// Every built-in scenario, parsed.
///
/// # Errors
///
/// The first built-in file that does not parse.
pub fn all() -> Result<Vec<(&'static str, Scenario)>, ScenarioError> {
    BUILTIN
        .iter()
        .map(|(n, text)| {
            Ok((
                *n,
                Scenario::parse(Path::new(&format!("sim/scenarios/{n}.toml")), text)?,
            ))
        })
        .collect()
}
