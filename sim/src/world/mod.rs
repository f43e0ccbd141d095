//! Worlds: where a subject's calls travel, on a virtual clock.
//!
//! | module | role |
//! |---|---|
//! | [`clients`] | the one client driver and recorder both worlds use |
//! | [`in_process`] | clients call the backend directly on a paused clock |
//! | [`net`] | clients call an HTTP server over turmoil's simulated network |
//!
//! Both worlds take any [`Subject`] and yield the same [`Trace`]: what the
//! provider saw (through the subject's [`Probe`](crate::subject::Probe)),
//! what the caller received, and what the subject reported of itself.

pub mod clients;
pub mod in_process;
pub mod net;

use crate::scenario::{Scenario, WorldKind};
use crate::subject::Subject;
use crate::trace::Trace;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Which call of its client a provider view is serving: set by the client
/// driver, read below the subject (by the probe, and sent to the server).
#[derive(Debug, Clone, Default)]
pub struct Cursor(Arc<AtomicU64>);

impl Cursor {
    /// Mark the start of call `call`.
    pub fn set(&self, call: u64) {
        self.0.store(call, Ordering::Relaxed);
    }

    /// The call being served.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The provider below the probe: the backend in process, or HTTP.
#[derive(Debug, Clone)]
pub enum Link {
    Local(in_process::SimProvider),
    Http(net::http::HttpProvider),
}

/// Run `scenario` under `seed` against `subject` in the world it names.
///
/// # Errors
///
/// Only if a runtime cannot be built, or turmoil fails for a reason other
/// than reaching the horizon.
pub fn run<S: Subject>(subject: &S, scenario: &Scenario, seed: u64) -> std::io::Result<Trace> {
    match scenario.world {
        WorldKind::InProcess => in_process::run(subject, scenario, seed),
        WorldKind::Network => net::world::run(subject, scenario, seed),
    }
}
