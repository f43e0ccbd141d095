//! The judge: what correct behaviour is, and the oracles that check it.
//!
//! Everything here is written from provider-retry's documented semantics
//! (and other wrappers' documentation, as [`Claim`]s); nothing is imported
//! from the wrapper crate, so a defect in the wrapper's schedule,
//! classification or deadline code cannot be judged correct by itself.
//!
//! | module | role |
//! |---|---|
//! | [`claim`] | what a wrapper promises: envelopes, distributions, rules |

pub mod claim;

pub use claim::Claim;

use crate::trace::Trace;
use std::fmt;
use std::time::Duration;

/// A property that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The oracle's name.
    pub oracle: &'static str,
    pub client: u32,
    pub call: u64,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] c{}#{}: {}",
            self.oracle, self.client, self.call, self.detail
        )
    }
}

/// What a run is judged against besides the claim.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context {
    /// Calls starting at or after this virtual time must succeed.
    pub live_from: Option<Duration>,
}

/// Every oracle's name, in the order reports list them.
pub const ORACLES: &[&str] = &[];

/// Check every per-run oracle on `trace` against `claim`.
pub fn check(trace: &Trace, claim: &Claim, context: &Context) -> Vec<Violation> {
    let _ = (trace, claim, context);
    Vec::new()
}
