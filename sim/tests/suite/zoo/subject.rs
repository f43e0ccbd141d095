//! Each planted variant as a `Subject`: claiming provider-retry's
//! semantics ([`Zoo`]), or what the variant truly does ([`Truthful`]).

use super::defect::Defect;
use super::planted::Planted;
use provider_retry_sim::check::Claim;
use provider_retry_sim::check::claim::JitterShape;
use provider_retry_sim::scenario::PolicySpec;
use provider_retry_sim::subject::{Probe, Subject};

/// The zoo variant with `0` planted.
#[derive(Debug, Clone, Copy)]
pub struct Zoo(pub Defect);

/// Wrap `inner` as `defect`'s variant, reporting what it does into the trace.
fn wrap(defect: Defect, inner: Probe, policy: &PolicySpec, seed: u64) -> Planted<Probe> {
    let reporter = inner.reporter();
    Planted::new(inner, policy.clone(), defect, seed, Some(reporter))
}

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
        wrap(self.0, inner, policy, seed)
    }
}

/// The same variant, claiming what it truly does: a schedule that is not
/// provider-retry's is no defect when the claim says so.
#[derive(Debug, Clone, Copy)]
pub struct Truthful(pub Defect);

/// What `defect`'s variant truly does under `policy`.
pub fn truthful_claim(defect: Defect, policy: &PolicySpec) -> Claim {
    let mut claim = Claim::provider_retry(policy);
    match defect {
        // OpenAI's SDKs: b * U[0.75, 1], whatever the policy's jitter.
        Defect::OpenAiStyle => claim.backoff.jitter = JitterShape::Scale { lo: 0.75, hi: 1.0 },
        Defect::FactorOneAndAHalf => claim.backoff.factor = 1.5,
        _ => {}
    }
    claim
}

impl Subject for Truthful {
    type Wrapped = Planted<Probe>;

    fn name(&self) -> String {
        format!("zoo-truthful:{}", self.0.name())
    }

    fn claim(&self, policy: &PolicySpec) -> Claim {
        truthful_claim(self.0, policy)
    }

    fn wrap(&self, inner: Probe, policy: &PolicySpec, seed: u64) -> Planted<Probe> {
        wrap(self.0, inner, policy, seed)
    }
}
