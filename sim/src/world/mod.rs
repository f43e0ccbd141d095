//! Worlds: where a subject's calls travel, on a virtual clock.
//!
//! | module | role |
//! |---|---|
//! | [`clients`] | the one client driver and recorder both worlds use |
//! | [`drops`] | a caller that drops its call at the point the workload names |
//! | [`in_process`] | clients call the backend directly on a paused clock |
//! | [`net`] | clients call an HTTP server over turmoil's simulated network |
//!
//! Both worlds take any [`Subject`] and yield the same [`Trace`]: what the
//! provider saw (through the subject's [`Probe`](crate::subject::Probe),
//! above the world's [`Link`](crate::link::Link)),
//! what the caller received, and what the subject reported of itself.

pub mod clients;
pub mod drops;
pub mod in_process;
pub mod net;

use crate::scenario::{Scenario, WorldKind};
use crate::subject::Subject;
use crate::trace::Trace;

/// Run `scenario` under `seed` against `subject` in the world it names.
///
/// # Errors
///
/// Only if a runtime cannot be built, or turmoil fails for a reason other
/// than reaching the horizon.
pub fn run<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    // A subject's panics are caught and recorded as findings: keep the
    // default hook from printing them while this thread runs the world.
    clients::quiet_caught_panics();
    let _quiet = clients::InRun::enter();
    match scenario.world {
        WorldKind::InProcess => in_process::run(subject, scenario, seed),
        WorldKind::Network => net::world::run(subject, scenario, seed),
    }
}
