//! Each planted variant as a `Subject`, claiming provider-retry's semantics.

use super::defect::Defect;
use super::planted::Planted;
use provider_retry_sim::check::Claim;
use provider_retry_sim::scenario::PolicySpec;
use provider_retry_sim::subject::{Probe, Subject};

/// The zoo variant with `0` planted.
#[derive(Debug, Clone, Copy)]
pub struct Zoo(pub Defect);

impl Subject for Zoo {
    type Wrapped = Planted<Probe>;

    fn name(&self) -> String {
        format!("zoo:{}", self.0.name())
    }

    /// The documented claim: the planted defect is a lie against it.
    fn claim(&self, policy: &PolicySpec) -> Claim {
        Claim::provider_retry(policy)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Planted<Probe> {
        Planted::new(inner, policy.clone(), self.0, seed)
    }
}
