//! The delay distribution, judged across runs.
//!
//! Every claimed jitter shape draws uniformly inside its envelope, so each
//! backoff's place `u = (delay - lo) / (hi - lo)` in its envelope is
//! Uniform[0, 1]. [`samples`] collects those places from a trace and
//! [`test`] compares them with the uniform law by a Kolmogorov–Smirnov test.
//!
//! Only waits whose envelope is at least [`MIN_WIDTH_NS`] wide count: a
//! wait measured from outside may end up to a tick late, and on a 20 ms
//! envelope that shifts `u` by at most 5%. Where the wrapper reported its
//! delays they are used instead (exact). Retry-After waits and envelopes a
//! cap clipped (values pile up at the cap) are left out.

use super::claim::Claim;
use super::model::{Call, envelopes};
use crate::trace::{Reported, Trace};

/// The narrowest envelope sampled: 20 timer ticks.
pub const MIN_WIDTH_NS: u64 = 20_000_000;

/// The false-alarm rate: a correct wrapper fails once in a million tests,
/// so a conformance suite of thousands of runs stays quiet.
pub const ALPHA: f64 = 1e-6;

/// Fewer samples than this say too little to test.
pub const MIN_SAMPLES: usize = 50;

/// Places of backoff delays inside their envelopes, each in `[0, 1]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub places: Vec<f64>,
}

impl Samples {
    /// Add another run's samples.
    pub fn extend(&mut self, other: Samples) {
        self.places.extend(other.places);
    }

    pub fn len(&self) -> usize {
        self.places.len()
    }

    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }
}

/// The places of every uncensored backoff wider than [`MIN_WIDTH_NS`] in `trace`.
pub fn samples(trace: &Trace, claim: &Claim) -> Samples {
    let mut out = Samples::default();
    for records in trace.calls().values() {
        let call = Call::of(records);
        let reported = |after: u32| {
            call.reported.iter().find_map(|(_, e)| match *e {
                Reported::Delay {
                    attempt, delay_ns, ..
                } if attempt == after => Some(delay_ns),
                _ => None,
            })
        };
        let exact = |w: &super::model::Wait| reported(w.after);
        for (w, e) in envelopes(&call.waits(claim), claim, exact) {
            let Some(e) = e else { continue };
            let width = e.hi.saturating_sub(e.lo);
            if e.censored || width < MIN_WIDTH_NS {
                continue;
            }
            let delay = reported(w.after).unwrap_or(w.gap_ns);
            let u = (delay.saturating_sub(e.lo)) as f64 / width as f64;
            out.places.push(u.clamp(0.0, 1.0));
        }
    }
    out
}

/// The KS critical value for `n` samples at [`ALPHA`]:
/// `sqrt(-ln(alpha / 2) / 2) / sqrt(n)` (the asymptotic two-sided bound).
pub fn critical(n: usize) -> f64 {
    (-(ALPHA / 2.0).ln() / 2.0).sqrt() / (n as f64).sqrt()
}

/// The KS statistic of `places` against Uniform[0, 1].
pub fn statistic(places: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = places.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &u)| ((i + 1) as f64 / n - u).max(u - i as f64 / n))
        .fold(0.0, f64::max)
}

/// `None` when the delays are consistent with the claim's uniform draw (or
/// there are fewer than [`MIN_SAMPLES`]); else what was found.
pub fn test(samples: &Samples, claim: &Claim) -> Option<String> {
    let n = samples.len();
    if n < MIN_SAMPLES {
        return None;
    }
    let d = statistic(&samples.places);
    let c = critical(n);
    (d > c).then(|| {
        format!(
            "backoff delays are not drawn as {:?} claims: KS D = {d:.4} over n = {n}, critical {c:.4} at alpha {ALPHA:e}",
            claim.backoff.jitter
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::{stream, unit};

    fn claim() -> Claim {
        crate::check::fixture::claim()
    }

    /// 200 seeds of 2000 uniform draws each: at alpha 1e-6 the chance any
    /// fails is about 2e-4, so a failure here means the test is wrong.
    #[test]
    fn uniform_samples_pass_over_many_seeds() {
        for seed in 0..200 {
            let mut rng = stream(seed, "ks", 0);
            let places = (0..2000).map(|_| unit(&mut rng)).collect();
            let verdict = test(&Samples { places }, &claim());
            assert_eq!(verdict, None, "seed {seed}");
        }
    }

    /// Equal jitter's [0.5, 1] places judged as full jitter's [0, 1]: D is about 0.5.
    #[test]
    fn half_range_samples_labelled_full_fail() {
        let mut rng = stream(7, "ks", 0);
        let places = (0..2000).map(|_| 0.5 + unit(&mut rng) / 2.0).collect();
        let verdict = test(&Samples { places }, &claim()).expect("must fail");
        assert!(verdict.contains("n = 2000"), "{verdict}");
    }

    #[test]
    fn too_few_samples_are_not_tested() {
        let places = vec![1.0; MIN_SAMPLES - 1];
        assert_eq!(test(&Samples { places }, &claim()), None);
    }
}
