//! The backoff delays a run drew, against what the subject claims: per
//! retry, the delays and the envelope the judge's own model
//! ([`crate::check::model`]) says they had to fall in; and their places
//! inside those envelopes, which the claim says are uniform.
//!
//! Nothing here knows the wrapper's schedule: envelopes come from the
//! claim, delays from the trace (the reported delay when the wrapper
//! reported one, else the gap the provider saw between attempts).

use super::charts::Span;
use super::histogram::{self, Histogram};
use crate::check::Claim;
use crate::check::distribution::{self, MIN_SAMPLES};
use crate::check::model::backoffs;
use crate::trace::Trace;
use std::collections::BTreeMap;

/// The delays before one retry, across the run's calls.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RetryDelays {
    /// The retry they preceded: 1 for the second attempt.
    pub retry: u32,
    /// Every wait before that retry, in nanoseconds.
    pub delays_ns: Vec<u64>,
    /// The widest claimed envelope over these waits.
    pub lo_ns: u64,
    /// The widest claimed envelope's upper end.
    pub hi_ns: u64,
    /// Waits on a Retry-After, which have no envelope and are not drawn.
    pub retry_after: usize,
}

/// Retries drawn at most: later ones are rare, and panels small.
pub const MAX_RETRIES_DRAWN: usize = 6;

/// Every backoff delay of `trace`, by retry.
pub fn per_retry(trace: &Trace, claim: &Claim) -> Vec<RetryDelays> {
    let mut by_retry: BTreeMap<u32, RetryDelays> = BTreeMap::new();
    for (w, e, reported) in backoffs(trace, claim) {
        let retry = w.after + 1;
        let entry = by_retry.entry(retry).or_insert_with(|| RetryDelays {
            retry,
            lo_ns: u64::MAX,
            ..RetryDelays::default()
        });
        match e {
            None => entry.retry_after += 1,
            Some(e) => {
                entry.delays_ns.push(reported.unwrap_or(w.gap_ns));
                entry.lo_ns = entry.lo_ns.min(e.lo);
                entry.hi_ns = entry.hi_ns.max(e.hi);
            }
        }
    }
    by_retry
        .into_values()
        .filter(|r| !r.delays_ns.is_empty())
        .collect()
}

/// One panel per retry: the delays drawn, the claimed envelope shaded.
pub fn retry_panels(retries: &[RetryDelays]) -> Vec<Histogram> {
    retries
        .iter()
        .take(MAX_RETRIES_DRAWN)
        .map(|r| {
            let ms = |ns: u64| ns as f64 / 1e6;
            let (least, most) = r
                .delays_ns
                .iter()
                .fold((u64::MAX, 0), |(l, m), &d| (l.min(d), m.max(d)));
            // An envelope without a cap ends far past any delay: draw it to twice the longest.
            let edge = r.hi_ns.min(most.saturating_mul(2).max(1));
            // Bins start at the envelope's low end, so none straddles it.
            let (from, to) = (
                ms(r.lo_ns.min(least)),
                ms(edge.max(most)).max(ms(r.lo_ns) + 1e-3),
            );
            Histogram {
                title: format!("retry {} ({} waits)", r.retry, r.delays_ns.len()),
                x_label: "delay, ms".into(),
                values: r.delays_ns.iter().map(|&d| ms(d)).collect(),
                range: (from, to),
                bins: 20,
                spans: vec![Span {
                    from: ms(r.lo_ns),
                    to: ms(edge),
                    label: String::new(),
                }],
                ..Histogram::default()
            }
        })
        .collect()
}

/// The places of the delays inside their envelopes, against the uniform
/// law the claim implies, and what the judge's test says of them.
pub fn places_panel(trace: &Trace, claim: &Claim) -> (Histogram, String) {
    let samples = distribution::samples(trace, claim);
    let bins = 10;
    let n = samples.len();
    let verdict = match n < MIN_SAMPLES {
        true => format!(
            "{n} place(s) in envelopes at least {} ms wide: the test needs {MIN_SAMPLES} (conform pools them across seeds)",
            distribution::MIN_WIDTH_NS / 1_000_000
        ),
        false => match distribution::test(&samples, claim) {
            None => {
                format!("{n} places: consistent with the claimed distribution (Kolmogorov-Smirnov)")
            }
            Some(detail) => format!("{n} places: NOT the claimed distribution: {detail}"),
        },
    };
    let h = Histogram {
        title: "place of each delay in its envelope".into(),
        x_label: "place: 0 = envelope's low end, 1 = high end".into(),
        values: samples.places,
        range: (0.0, 1.0),
        bins,
        expected: (n > 0).then(|| n as f64 / bins as f64),
        ..Histogram::default()
    };
    (h, verdict)
}

/// The delays' SVG: one panel per retry and the places panel.
pub fn svg(trace: &Trace, claim: &Claim) -> Option<(String, String)> {
    let retries = per_retry(trace, claim);
    if retries.is_empty() {
        return None;
    }
    let (places, verdict) = places_panel(trace, claim);
    let mut panels = retry_panels(&retries);
    panels.push(places);
    let svg = histogram::draw(
        "Backoff delays drawn, per retry, against the claimed envelopes",
        Some(
            "Shaded: the union of the claimed envelopes of each retry's waits (the judge's model of the claim). Retry-After waits left out.",
        ),
        &panels,
    );
    Some((svg, verdict))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::PolicySpec;

    #[test]
    fn no_waits_no_picture() {
        let claim = Claim::provider_retry(&PolicySpec::default());
        assert!(svg(&Trace::default(), &claim).is_none());
        assert!(per_retry(&Trace::default(), &claim).is_empty());
    }
}
