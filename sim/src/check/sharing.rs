//! What one wrapper shared by many concurrent callers must not do: make
//! one call wait on another's, or hand every call the same jitter.
//!
//! A gateway sends every request through one wrapper per provider. Two
//! defects show only there: a lock held across a backoff (callers queue
//! behind each other's waits) and one random stream restarted per call
//! (every call draws the same delays, and the callers retry in lock-step,
//! the herd jitter exists to break up).
//!
//! - [`first_attempt_at_once`]: a call's first attempt starts when the call
//!   does. No claim lets a wrapper wait before its first attempt, so a
//!   call held up there was held up by another (each later wait is
//!   `delay_within_envelope`'s to judge).
//! - [`independence`]: the backoff places of concurrent calls are
//!   independent, by Kendall's rank correlation across pairs of calls.

use super::claim::Claim;
use super::distribution::{ALPHA, MIN_WIDTH_NS};
use super::model::{self, Call, TICK_NS, envelopes};
use super::{Context, Verdict};
use crate::duration::human;
use crate::trace::Trace;

/// The cross-call oracle's name: [`independence`] over one run's, or many
/// runs', pairs of concurrent calls.
pub const DELAYS_INDEPENDENT: &str = "delays_independent";

/// Fewer points than this say too little to test.
pub const MIN_POINTS: usize = 50;

/// The two-sided normal quantile at [`ALPHA`]: `Φ⁻¹(1 - 1e-6 / 2)`. A
/// correct wrapper is convicted once in a million tests, as by the
/// distribution test.
pub const Z_CRITICAL: f64 = 4.891_638;

/// A call's first attempt starts when the call does (within the context's
/// tolerance): nothing a claim allows waits before a first attempt, so a
/// later start means the call waited on something else, such as a lock
/// another call holds across its backoff. The one exception is a claimed
/// shared throttle's pause: the first attempt then starts at the pause's
/// wake-up ([`woke`](super::throttle::woke)), within the deadline from the
/// call's start.
pub fn first_attempt_at_once(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let (Some((started, ..)), Some(first)) = (c.started, c.first_start()) else {
        return Verdict::NotJudged;
    };
    let late = first.saturating_sub(started);
    // A claimed shared throttle's pause may hold it, to the pause's wake-up.
    // A pause wait that would pass the deadline (from the call's start)
    // is refused, never waited.
    let by_deadline = claim
        .deadline_ns
        .is_none_or(|d| late <= d.saturating_add(context.tolerance_ns));
    // An answered hold's Retry-After is never longer than what set the
    // pause: the wake-up comes no later than that after the start.
    let woke = by_deadline
        && super::throttle::woke(c, claim, context, started, first)
        && super::throttle::within_ask(c, claim, context, started, first);
    Verdict::judged((late > context.tolerance_ns.max(TICK_NS) && !woke).then(|| {
        format!(
            "its first attempt started {} after the call did: nothing may wait before a first attempt (another call's wait?)",
            human(late)
        )
    }))
}

/// Points `(u, v)`: the places of two concurrent calls' backoffs after the
/// same attempt, each in its envelope (`(delay - lo) / (hi - lo)`, in
/// `[0, 1]`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pairs {
    /// One `(earlier, later)` pair of places per pair of concurrent waits.
    pub points: Vec<(f64, f64)>,
}

impl Pairs {
    /// Add another run's points.
    pub fn extend(&mut self, other: Pairs) {
        self.points.extend(other.points);
    }
}

/// One call's judged backoff places, by the attempt each followed.
struct Places {
    start: u64,
    id: (u32, u64),
    by_attempt: Vec<(u32, f64)>,
}

/// The places of `call`'s backoffs: those with an envelope at least
/// [`MIN_WIDTH_NS`] wide and not clipped by a cap (a wait with no jitter
/// has no width, a Retry-After no envelope: neither says anything about a
/// draw). A reported delay is used where there is one (exact).
fn places(call: &Call, claim: &Claim) -> Vec<(u32, f64)> {
    let reported = |w: &super::model::Wait| call.reported_delay(w.after);
    envelopes(&call.waits(claim), claim, reported)
        .into_iter()
        .filter_map(|(w, e)| {
            let e = e?;
            // As for the distribution: a wait a shared pause touched is left out.
            let from = call.first_start()?.saturating_add(w.from_first_ns);
            let to = from.saturating_add(e.hi).saturating_add(TICK_NS);
            if super::throttle::paused_between(call, claim, from, to) {
                return None;
            }
            let width = e.hi.saturating_sub(e.lo);
            if e.censored || width < MIN_WIDTH_NS {
                return None;
            }
            let delay = reported(&w).unwrap_or(w.gap_ns);
            let u = delay.saturating_sub(e.lo) as f64 / width as f64;
            Some((w.after, u.clamp(0.0, 1.0)))
        })
        .collect()
}

/// The points of `trace`: its calls (each upstream's part on its own)
/// with a judged backoff, in the order they started, paired first with
/// second, third with fourth, and so on (each call in one pair only, so
/// the points of different pairs are independent); each pair gives a point
/// for every attempt both followed with a judged backoff.
pub fn pairs(trace: &Trace, claim: &Claim) -> Pairs {
    pairs_in(&model::calls(trace), claim)
}

/// [`pairs`] over `calls`, a trace's [`model::calls`], built once.
pub fn pairs_in(calls: &[Call], claim: &Claim) -> Pairs {
    let mut calls: Vec<Places> = calls
        .iter()
        .flat_map(|c| c.parts_for(claim))
        .filter_map(|part| {
            let by_attempt = places(&part, claim);
            let start = part.first_start()?;
            (!by_attempt.is_empty()).then_some(Places {
                start,
                id: (part.client, part.call),
                by_attempt,
            })
        })
        .collect();
    calls.sort_by_key(|c| (c.start, c.id));
    let mut out = Pairs::default();
    for pair in calls.chunks_exact(2) {
        for &(after, u) in &pair[0].by_attempt {
            let other = pair[1].by_attempt.iter().find(|(a, _)| *a == after);
            if let Some(&(_, v)) = other {
                out.points.push((u, v));
            }
        }
    }
    out
}

/// What the independence test found.
#[derive(Debug, Clone, PartialEq)]
pub enum Independence {
    /// Fewer than [`MIN_POINTS`] points (no jitter, no concurrent retries):
    /// nothing was judged.
    NotJudged {
        /// How many pairs there were.
        points: usize,
    },
    /// Consistent with independent draws.
    Held {
        /// The test statistic: Kendall's S over its standard deviation under independence.
        z: f64,
        /// How many pairs were judged.
        points: usize,
    },
    /// The places of concurrent calls move together (or against each other).
    Violated {
        /// Kendall's rank correlation of the pairs' places.
        tau: f64,
        /// The test statistic: Kendall's S over its standard deviation under independence.
        z: f64,
        /// How many pairs were judged.
        points: usize,
    },
}

/// Kendall's rank correlation of the points' two places, tested against
/// independence. Under independence Kendall's `S` (concordant minus
/// discordant pairs of points) has mean 0 and variance
/// `n (n - 1) (2n + 5) / 18` whatever the places' law, and is near normal;
/// its exact tails are lighter than the normal's, and ties (which only
/// lower its variance) count as neither, so the test errs towards
/// acquittal. Lock-step jitter puts every point on the diagonal: `tau`
/// near 1.
pub fn independence(pairs: &Pairs) -> Independence {
    let points = &pairs.points;
    let n = points.len();
    if n < MIN_POINTS {
        return Independence::NotJudged { points: n };
    }
    let mut s: i64 = 0;
    for (i, &(x1, y1)) in points.iter().enumerate() {
        for &(x2, y2) in &points[i + 1..] {
            let sign = ((x1 - x2) * (y1 - y2)).signum();
            if (x1 - x2) != 0.0 && (y1 - y2) != 0.0 {
                s += sign as i64;
            }
        }
    }
    let nf = n as f64;
    let variance = nf * (nf - 1.0) * (2.0 * nf + 5.0) / 18.0;
    let z = s as f64 / variance.sqrt();
    let tau = 2.0 * s as f64 / (nf * (nf - 1.0));
    match z.abs() > Z_CRITICAL {
        true => Independence::Violated { tau, z, points: n },
        false => Independence::Held { z, points: n },
    }
}

/// `None` unless the points show the delays of concurrent calls are not
/// independent; then what was found.
pub fn test(pairs: &Pairs) -> Option<String> {
    match independence(pairs) {
        Independence::Violated { tau, z, points } => Some(format!(
            "the backoffs of concurrent calls are not drawn independently: Kendall's tau = {tau:.3} over {points} pairs of backoffs (z = {z:.1}, critical {Z_CRITICAL:.2} at alpha {ALPHA:e}); every call drawing the same jitter retries in lock-step"
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fixture::*;
    use crate::method::Method;
    use crate::seeds::{stream, unit};
    use crate::trace::{CallOutcome, Record};

    fn full() -> Claim {
        let mut c = claim();
        c.backoff.jitter = crate::check::claim::JitterShape::Scale { lo: 0.0, hi: 1.0 };
        c
    }

    /// `calls` concurrent calls, each failing at once four times and
    /// waiting the places `place(call, retry)` of full jitter's envelopes
    /// (100, 200, 400 ms doubling), then failing for good.
    fn concurrent(calls: u64, place: impl Fn(u64, u32) -> f64) -> Vec<Record> {
        let mut out = Vec::new();
        for call in 0..calls {
            let mut t = 0;
            let mut records = vec![rec(0, started(Method::Chat)), rec(0, attempt(0))];
            for retry in 0..3u32 {
                records.push(rec(t, failed(retry, 503, None)));
                let base = 100u64 << retry;
                t += (place(call, retry) * base as f64) as u64;
                records.push(rec(t, attempt(retry + 1)));
            }
            records.push(rec(t, failed(3, 503, None)));
            records.push(rec(t, ended(fail_503())));
            for r in &mut records {
                r.client = call as u32;
            }
            out.extend(records);
        }
        out
    }

    #[test]
    fn lock_step_jitter_is_caught_and_independent_draws_are_not() {
        let lock_step = concurrent(60, |_, retry| [0.31, 0.77, 0.12][retry as usize]);
        let found = test(&pairs(&trace(lock_step), &full()));
        let found = found.expect("lock-step must be caught");
        // Ties (two pairs at one retry) count as neither: tau is 2/3.
        assert!(found.contains("tau = 0.674 over 90 pairs"), "{found}");
        for seed in 0..50 {
            let mut rng = stream(seed, "independent", 0);
            let draws: Vec<f64> = (0..60 * 3).map(|_| unit(&mut rng)).collect();
            let independent = concurrent(60, |call, retry| {
                draws[(call * 3) as usize + retry as usize]
            });
            let verdict = independence(&pairs(&trace(independent), &full()));
            assert!(
                matches!(verdict, Independence::Held { points: 90, .. }),
                "seed {seed}: {verdict:?}"
            );
        }
    }

    #[test]
    fn without_jitter_or_enough_pairs_nothing_is_judged() {
        // No jitter: every envelope has no width.
        let exact = concurrent(60, |_, _| 1.0);
        let verdict = independence(&pairs(&trace(exact), &claim()));
        assert_eq!(verdict, Independence::NotJudged { points: 0 });
        // Lock-step, but 16 pairs of calls: 48 points are too few.
        let few = concurrent(33, |_, retry| [0.31, 0.77, 0.12][retry as usize]);
        let verdict = independence(&pairs(&trace(few), &full()));
        assert_eq!(verdict, Independence::NotJudged { points: 48 });
    }

    #[test]
    fn a_first_attempt_held_up_is_caught_and_one_at_once_is_not() {
        assert_eq!(names(good(), &claim()), NONE);
        let mut held = good();
        shift(&mut held[1..], 700 * MS);
        assert_eq!(names(held, &claim()), ["first_attempt_at_once"]);
        // One tick of lateness is the simulator's noise.
        let mut tick = good();
        shift(&mut tick[1..], MS);
        assert_eq!(names(tick, &claim()), NONE);
        // A call with no attempt (a panic) is not judged.
        let none = vec![
            rec(0, started(Method::Chat)),
            rec(
                0,
                ended(CallOutcome::Panicked {
                    message: "x".into(),
                }),
            ),
        ];
        assert!(!names(none, &claim()).contains(&"first_attempt_at_once"));
    }
}
