//! What is under test: the one interface every retry wrapper is driven through.
//!
//! | module | role |
//! |---|---|
//! | [`probe`] | the provider a subject wraps: records every attempt it sees |
//! | [`builtin`] | provider-retry (its policy's jitter, or each kind), `crabllm_core::Retrying` 0.0.25, the bare provider; every subject by name |
//! | [`peers`] | the Rust retry ecosystem: backon, tokio-retry2, tower; a reference loop for other jitter shapes |
//!
//! A [`Subject`] wraps the [`Probe`] it is handed (in either world) and
//! states what it claims for a scenario's policy. Nothing about a subject
//! is taken from its own reports: the judge reads what the probe saw and
//! what the caller received. A subject with an observer hook may report
//! what it did ([`Probe::reporter`]); the judge checks that the report
//! agrees with the facts.

pub mod builtin;
pub mod peers;
pub mod probe;

pub use builtin::{
    Bare, Crabllm, Ours, OursJitter, OursThrottle, OursThrottleAnswered, SubjectName, Visit, visit,
};
pub use peers::{Backon, BackonAdjust, Reference, TokioRetry2, Tower};
pub use probe::{Probe, Reporter};

use crate::check::Claim;
use crate::scenario::PolicySpec;
use crabllm_core::Provider;

/// A retry wrapper under test.
pub trait Subject: Sync {
    /// The wrapped provider the clients call.
    type Wrapped: Provider + 'static;

    /// A short name for tables and reports.
    fn name(&self) -> String;

    /// What this wrapper documents it does under `policy` (the parts of the
    /// policy it cannot be configured for are its own fixed behaviour).
    fn claim(&self, policy: &PolicySpec) -> Claim;

    /// Whether `wrap`'s seed fixes every random choice the wrapper makes. A
    /// wrapper that is not seedable is judged over repeated runs and its
    /// findings say how many of them violated.
    fn seedable(&self) -> bool {
        true
    }

    /// Wrap `inner`, configured for `policy` as closely as the wrapper
    /// allows, drawing any randomness from `seed`.
    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Self::Wrapped;
}
