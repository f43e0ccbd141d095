//! The delay distribution, judged across runs.
//!
//! Every claimed jitter shape draws uniformly inside its envelope, so each
//! backoff's place `u = (delay - lo) / (hi - lo)` in its envelope is
//! Uniform[0, 1]. [`samples`] collects those places from a trace and
//! [`test()`] compares them with the uniform law by a Kolmogorov–Smirnov test.
//!
//! Only the draws a wrapper could have shown are compared: a wrapper gives
//! up rather than begin a wait past its deadline, and a run cut off at its
//! horizon shows no wait that would end after it, so a wait is tested
//! against its envelope truncated where it would no longer have been seen
//! ([`place`]); against the whole envelope the long draws are missing and
//! a correct wrapper looks biased short.
//!
//! Only waits whose (truncated) envelope is at least [`MIN_WIDTH_NS`] wide
//! count: a wait measured from outside may end up to a tick late, and on a
//! 20 ms envelope that shifts `u` by at most 5%. Where the wrapper reported
//! its delays they are used instead (exact). Retry-After waits and
//! envelopes a cap clipped (values pile up at the cap) are left out.

use super::claim::Claim;
use super::model::{self, Call, Observed, TICK_NS, observed_of};
use crate::trace::Trace;

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
    /// Each delay's place in its envelope: 0 at the low end, 1 at the high end.
    pub places: Vec<f64>,
    /// The most any place may sit right of its drawn value (a tick over
    /// the envelope's width, for waits measured from outside).
    pub late: f64,
}

impl Samples {
    /// Add another run's samples.
    pub fn extend(&mut self, other: Samples) {
        self.places.extend(other.places);
        self.late = self.late.max(other.late);
    }

    /// How many places were gathered.
    pub fn len(&self) -> usize {
        self.places.len()
    }

    /// Whether no place was gathered (nothing to test).
    pub fn is_empty(&self) -> bool {
        self.places.is_empty()
    }
}

/// The places of every uncensored backoff wider than [`MIN_WIDTH_NS`] in
/// `trace`, each inside the part of its envelope that could have been
/// seen ([`place`]).
pub fn samples(trace: &Trace, claim: &Claim) -> Samples {
    samples_in(trace, &model::calls(trace), claim)
}

/// [`samples`] over `calls`, the [`model::calls`] of `trace`, built once.
///
/// A call its caller walked away from, or was to ([`Trace::walk_aways`]),
/// gives no sample: the drop cut short, at a time no draw chose, the wait
/// it came in, so that wait shows only if its draw was short, and which
/// wait that was (the one after the drop's point) the trace does not say.
/// Leaving out every call the workload meant to drop, whether it did or
/// ended first, decides by the plan alone, never by a draw. (From the
/// wire, where the plan is unknown, only the calls dropped are left out.)
pub fn samples_in(trace: &Trace, calls: &[Call], claim: &Claim) -> Samples {
    let walks_away =
        |c: &Call| c.dropped.is_some() || trace.walk_aways.contains(&(c.client, c.call));
    let mut out = Samples::default();
    for o in observed_of(trace, calls, claim, |c| !walks_away(c)) {
        if let Some((u, late)) = place(&o) {
            out.places.push(u);
            out.late = out.late.max(late);
        }
    }
    out
}

/// Where `o`'s delay sits in the envelope it was drawn from, given that it
/// was seen, and how far right of its draw a measured place may sit; `None`
/// when it says nothing about the draw.
///
/// A wait shows only if its draw was at most [`Observed::observable`]
/// (the deadline, the run's cut-off), and a uniform draw on `[lo, hi]`
/// that is at most `t` is uniform on `[lo, min(hi, t)]`: the waits a
/// correct wrapper was free to take are tested against that truncated
/// envelope, not the whole one, which their long draws never reach.
/// Left out: a Retry-After wait, an envelope a cap clipped (values pile
/// up at the cap), and one narrower than [`MIN_WIDTH_NS`] once truncated.
/// The delay is the one the subject reported, where it did (exact), else
/// the measured gap, up to a tick late.
pub fn place(o: &Observed) -> Option<(f64, f64)> {
    let e = o.envelope?;
    let top = e.hi.min(o.observable);
    let width = top.saturating_sub(e.lo);
    if e.censored || width < MIN_WIDTH_NS {
        return None;
    }
    let (delay, late) = match o.reported {
        Some(exact) => (exact, 0.0),
        None => (o.wait.gap_ns, TICK_NS as f64 / width as f64),
    };
    let u = delay.saturating_sub(e.lo) as f64 / width as f64;
    Some((u.clamp(0.0, 1.0), late))
}

/// The KS critical value for `n` samples at [`ALPHA`]:
/// `sqrt(-ln(alpha / 2) / 2) / sqrt(n)` (the asymptotic two-sided bound).
pub fn critical(n: usize) -> f64 {
    (-(ALPHA / 2.0).ln() / 2.0).sqrt() / (n as f64).sqrt()
}

/// The KS statistic of `places` against Uniform[0, 1].
pub fn statistic(places: &[f64]) -> f64 {
    statistic_late(places, 0.0)
}

/// The KS statistic when every place may sit up to `late` right of its
/// true value: the empirical CDF falling short of the uniform one by up to
/// `late` is forgiven, running ahead of it is not.
pub fn statistic_late(places: &[f64], late: f64) -> f64 {
    let mut sorted: Vec<f64> = places.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &u)| {
            let ahead = (i + 1) as f64 / n - u;
            let behind = u - i as f64 / n - late;
            ahead.max(behind)
        })
        .fold(0.0, f64::max)
}

/// `None` when the delays are consistent with the claim's uniform draw (or
/// there are fewer than [`MIN_SAMPLES`]); else what was found.
pub fn test(samples: &Samples, claim: &Claim) -> Option<String> {
    let n = samples.len();
    if n < MIN_SAMPLES {
        return None;
    }
    let d = statistic_late(&samples.places, samples.late);
    let c = critical(n);
    (d > c).then(|| {
        format!(
            "backoff delays are not drawn as the claim says ({}): KS D = {d:.4} over n = {n}, critical {c:.4} at alpha {ALPHA:e}",
            claim.backoff.jitter
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seeds::{stream, unit};
    use crate::trace::Reported;

    /// A million uniform places each pushed a full 5% late (the worst a
    /// tick does to a 20 ms envelope) pass once the lateness is allowed,
    /// and fail without it: the allowance is what keeps a correct wrapper
    /// measured from outside from failing as samples grow.
    #[test]
    fn a_tick_late_is_forgiven_and_nothing_else() {
        let mut rng = stream(3, "late", 0);
        let late: Vec<f64> = (0..1_000_000)
            .map(|_| (unit(&mut rng) + 0.05).min(1.0))
            .collect();
        assert!(
            test(
                &Samples {
                    places: late.clone(),
                    late: 0.05
                },
                &claim()
            )
            .is_none()
        );
        assert!(
            test(
                &Samples {
                    places: late,
                    late: 0.0
                },
                &claim()
            )
            .is_some()
        );
        // Early draws (equal jitter read as full) are never forgiven.
        let equal: Vec<f64> = (0..1_000).map(|_| 0.5 + unit(&mut rng) / 2.0).collect();
        assert!(
            test(
                &Samples {
                    places: equal,
                    late: 0.05
                },
                &claim()
            )
            .is_some()
        );
    }

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
            let verdict = test(&Samples { places, late: 0.0 }, &claim());
            assert_eq!(verdict, None, "seed {seed}");
        }
    }

    /// Equal jitter's [0.5, 1] places judged as full jitter's [0, 1]: D is about 0.5.
    #[test]
    fn half_range_samples_labelled_full_fail() {
        let mut rng = stream(7, "ks", 0);
        let places = (0..2000).map(|_| 0.5 + unit(&mut rng) / 2.0).collect();
        let verdict = test(&Samples { places, late: 0.0 }, &claim()).expect("must fail");
        assert!(verdict.contains("n = 2000"), "{verdict}");
    }

    #[test]
    fn too_few_samples_are_not_tested() {
        let places = vec![1.0; MIN_SAMPLES - 1];
        assert_eq!(test(&Samples { places, late: 0.0 }, &claim()), None);
    }

    /// 500 chat calls, each one 503 then a wait drawn with equal jitter
    /// around 100 ms (measured, so ending on the next whole millisecond),
    /// then success.
    fn equal_jitter_run(seed: u64, report: bool) -> Trace {
        use crate::check::fixture::*;
        use crate::method::Method;
        use crate::trace::{CallOutcome, Record};
        let mut rng = stream(seed, "equal", 0);
        let mut records = Vec::new();
        for call in 0..500u64 {
            let t0 = call * 1_000;
            let drawn = 50 * MS + (unit(&mut rng) * (50 * MS) as f64) as u64;
            let resumed = (t0 + 10) * MS + drawn.div_ceil(MS) * MS;
            let mut push = |t: u64, kind| {
                records.push(Record {
                    t,
                    call,
                    ..rec(0, kind)
                })
            };
            push(t0 * MS, started(Method::Chat));
            push(t0 * MS, attempt(0));
            push((t0 + 10) * MS, failed(0, 503, None));
            if report {
                push(
                    (t0 + 10) * MS,
                    crate::trace::Kind::Reported {
                        event: Reported::Delay {
                            attempt: 0,
                            delay_ns: drawn,
                            retry_after: false,
                        },
                    },
                );
            }
            push(resumed, attempt(1));
            push(resumed, ok(1));
            let chunk = crate::trace::ChunkId {
                client: 0,
                call,
                stream: call,
                index: 0,
            };
            push(
                resumed,
                crate::trace::Kind::ChunkReceived { chunk: Some(chunk) },
            );
            push(resumed, ended(CallOutcome::Ok));
        }
        Trace::new(records)
    }

    fn jittered(lo: f64) -> Claim {
        let mut c = claim();
        c.backoff.jitter = crate::check::claim::JitterShape::Scale { lo, hi: 1.0 };
        c
    }

    #[test]
    fn equal_jitter_passes_as_equal_and_is_caught_labelled_full() {
        for report in [false, true] {
            let t = equal_jitter_run(3, report);
            let as_equal = samples(&t, &jittered(0.5));
            assert_eq!(as_equal.len(), 500);
            assert_eq!(test(&as_equal, &jittered(0.5)), None, "report {report}");
            let as_full = samples(&t, &jittered(0.0));
            let verdict = test(&as_full, &jittered(0.0)).expect("equal labelled full");
            assert!(verdict.contains("n = 500"), "{verdict}");
        }
    }

    #[test]
    fn check_runs_the_distribution_test_on_one_trace() {
        let t = equal_jitter_run(4, false);
        let context = crate::check::Context::default();
        assert_eq!(crate::check::check(&t, &jittered(0.5), &context), []);
        let v = crate::check::check(&t, &jittered(0.0), &context);
        let names: Vec<&str> = v.iter().map(|v| v.oracle).collect();
        assert_eq!(names, [crate::check::DELAY_DISTRIBUTION]);
    }

    #[test]
    fn runs_combine_their_samples() {
        let mut all = Samples::default();
        for seed in 0..3 {
            all.extend(samples(&equal_jitter_run(seed, false), &jittered(0.5)));
        }
        assert_eq!(all.len(), 1500);
        assert_eq!(test(&all, &jittered(0.5)), None);
    }

    #[test]
    fn narrow_envelopes_are_not_sampled() {
        // No jitter: every envelope has width 0.
        assert!(samples(&equal_jitter_run(0, false), &claim()).is_empty());
    }

    #[test]
    fn an_envelope_exactly_the_narrowest_width_is_sampled() {
        use crate::check::claim::JitterShape;
        let run = equal_jitter_run(0, false);
        let mut c = claim();
        c.backoff.jitter = JitterShape::Add {
            lo_ns: 0,
            hi_ns: MIN_WIDTH_NS,
        };
        assert_eq!(samples(&run, &c).len(), 500);
        c.backoff.jitter = JitterShape::Add {
            lo_ns: 0,
            hi_ns: MIN_WIDTH_NS - 1,
        };
        assert!(samples(&run, &c).is_empty());
        assert!(!samples(&run, &jittered(0.5)).is_empty());
    }

    #[test]
    fn the_statistic_is_the_largest_gap_between_the_two_laws() {
        // Evenly spread: a quarter either side of each step.
        assert_eq!(statistic(&[0.25, 0.75]), 0.25);
        // Bunched low: the empirical law reaches 1 at 0.2, the uniform at 1.
        assert!((statistic(&[0.2, 0.1]) - 0.8).abs() < 1e-12);
        // Bunched high: the uniform law runs ahead, by 0.9 at 0.9.
        assert!((statistic(&[0.9, 0.95]) - 0.9).abs() < 1e-12);
        // The widest gap below the empirical law, at the second step.
        assert!((statistic(&[0.3, 0.95]) - 0.45).abs() < 1e-12);
        // Lateness forgives the empirical law falling behind, not ahead.
        assert!((statistic_late(&[0.9, 0.95], 0.5) - 0.4).abs() < 1e-12);
        assert!((statistic_late(&[0.2, 0.1], 0.5) - 0.8).abs() < 1e-12);
    }

    #[test]
    fn the_critical_value_is_the_asymptotic_two_sided_bound() {
        // sqrt(-ln(5e-7) / 2) = 2.693386... over sqrt(n).
        assert!((critical(1) - 2.693_386).abs() < 1e-6, "{}", critical(1));
        assert!(
            (critical(100) - 0.269_338_6).abs() < 1e-7,
            "{}",
            critical(100)
        );
        assert!((critical(400) * 2.0 - critical(100)).abs() < 1e-12);
    }

    #[test]
    fn a_fallback_is_no_backoff_sample() {
        // Upstream 0 waits its one backoff; the step to upstream 1 is none.
        let t = Trace::new(crate::check::fixture::fell_back());
        let c = Claim {
            upstreams: 2,
            ..jittered(0.5)
        };
        assert_eq!(samples(&t, &c).places, [1.0]);
    }

    #[test]
    fn as_few_samples_as_the_least_tested_are_tested() {
        let places = vec![1.0; MIN_SAMPLES];
        assert!(test(&Samples { places, late: 0.0 }, &claim()).is_some());
    }

    #[test]
    fn reported_delays_are_sampled_exactly() {
        // Reported: the drawn delays themselves, nothing late.
        let exact = samples(&equal_jitter_run(5, true), &jittered(0.5));
        assert_eq!(exact.late, 0.0);
        // Measured: each may end up to a tick late.
        let measured = samples(&equal_jitter_run(5, false), &jittered(0.5));
        assert!(measured.late > 0.0);
        assert_eq!(exact.len(), measured.len());
        assert!(
            exact
                .places
                .iter()
                .zip(&measured.places)
                .all(|(e, m)| e <= m)
        );
        assert_ne!(exact.places, measured.places);
    }

    /// A wrapper drawing `b * U[lo, 1]` (backoff `n`'s base `b` = 100 ms
    /// doubling) that gives up rather than begin a wait whose end would
    /// pass a 700 ms deadline: 1000 calls, every attempt a 503 after
    /// 10 ms, at most 6 attempts; waits measured (ending on the next whole
    /// millisecond). Its long draws late in a call are never seen.
    fn giving_up_run(seed: u64, lo: f64) -> Trace {
        use crate::check::fixture::*;
        use crate::method::Method;
        const DEADLINE: u64 = 700 * MS;
        let mut rng = stream(seed, "deadline", 0);
        let mut records = Vec::new();
        for call in 0..1_000u64 {
            let t0 = call * 10_000 * MS;
            let mut push = |t: u64, kind| {
                records.push(Record {
                    t,
                    call,
                    ..rec(0, kind)
                })
            };
            push(t0, started(Method::Chat));
            let mut start = t0;
            for n in 0..6u32 {
                push(start, attempt(n));
                let end = start + 10 * MS;
                push(end, failed(n, 503, None));
                let b = (100 * MS) << n;
                let drawn = (b as f64 * (lo + (1.0 - lo) * unit(&mut rng))) as u64;
                if n == 5 || end - t0 + drawn > DEADLINE {
                    push(end, ended(fail_503()));
                    break;
                }
                start = end + drawn.div_ceil(MS) * MS;
            }
        }
        Trace::new(records)
    }

    fn full_with_deadline(lo: f64, deadline_ms: Option<u64>) -> Claim {
        Claim {
            max_attempts: 6,
            deadline_ns: deadline_ms.map(|d| d * MS),
            ..jittered(lo)
        }
    }

    use crate::check::fixture::MS;
    use crate::trace::Record;

    /// The censoring behind a false conviction: waits a correct wrapper
    /// takes under a deadline are biased short against the whole envelope,
    /// and uniform inside the envelope cut where the deadline would have
    /// stopped them.
    #[test]
    fn a_deadline_truncates_the_envelope_and_acquits_a_correct_wrapper() {
        let run = giving_up_run(1, 0.0);
        let truncated = samples(&run, &full_with_deadline(0.0, Some(700)));
        assert!(truncated.len() > 1_500, "{}", truncated.len());
        assert_eq!(test(&truncated, &jittered(0.0)), None);
        let whole = samples(&run, &full_with_deadline(0.0, None));
        // Uncut, the waits the deadline left under 20 ms count too.
        assert!(whole.len() >= truncated.len());
        let verdict = test(&whole, &jittered(0.0)).expect("biased short uncut");
        assert!(verdict.contains("KS D"), "{verdict}");
    }

    /// Over many seeds the truncated test stays quiet: at alpha 1e-6 the
    /// chance any of 50 fails is 5e-5, so a failure means the truncation
    /// is wrong, not unlucky.
    #[test]
    fn a_correct_wrapper_under_a_deadline_holds_over_many_seeds() {
        let claim = full_with_deadline(0.0, Some(700));
        for seed in 0..50 {
            let s = samples(&giving_up_run(seed, 0.0), &claim);
            assert_eq!(test(&s, &claim), None, "seed {seed}");
        }
    }

    /// Truncation forgives only the missing long draws: equal jitter
    /// claimed as full is caught under the same deadline.
    #[test]
    fn a_wrong_draw_is_still_caught_under_truncation() {
        let run = giving_up_run(2, 0.5);
        let claim = full_with_deadline(0.0, Some(700));
        let verdict = test(&samples(&run, &claim), &claim).expect("equal labelled full");
        assert!(verdict.contains("KS D"), "{verdict}");
        let honest = full_with_deadline(0.5, Some(700));
        assert_eq!(test(&samples(&run, &honest), &honest), None);
    }

    /// A wait cut by the deadline to under 20 ms says too little to sample.
    #[test]
    fn an_envelope_truncated_below_the_narrowest_width_is_not_sampled() {
        use crate::check::model::{Envelope, Wait};
        let wait = Wait {
            after: 2,
            gap_ns: 10 * MS,
            from_first_ns: 0,
            retry_after_ns: None,
            held: Default::default(),
        };
        let envelope = Envelope {
            lo: 0,
            hi: 400 * MS,
            censored: false,
        };
        let o = |observable| Observed {
            wait,
            envelope: Some(envelope),
            reported: None,
            observable,
        };
        assert_eq!(place(&o(MIN_WIDTH_NS - 1)), None);
        let (u, late) = place(&o(MIN_WIDTH_NS)).expect("exactly the narrowest");
        assert_eq!((u, late), (0.5, 0.05));
        assert_eq!(place(&o(u64::MAX)), Some((0.025, 0.0025)));
        // Reported: exact, nothing late.
        let exact = Observed {
            reported: Some(5 * MS),
            ..o(u64::MAX)
        };
        assert_eq!(place(&exact), Some((0.0125, 0.0)));
    }

    /// A run cut off at its horizon shows no wait that would end after it:
    /// a call still open at the end truncates every wait at the cut; a
    /// run whose calls all ended is not truncated by its end (that end
    /// came from the draws).
    #[test]
    fn a_run_cut_off_truncates_at_its_end_and_a_finished_one_does_not() {
        use crate::check::fixture::*;
        use crate::check::model::observed;
        use crate::method::Method;
        let records = vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(10, failed(0, 503, None)),
            rec(60, attempt(1)),
            rec(70, failed(1, 503, None)),
        ];
        let open = Trace {
            end_ns: 1_000 * MS,
            ..Trace::new(records.clone())
        };
        let c = full_with_deadline(0.0, None);
        let cut: Vec<u64> = observed(&open, &c).iter().map(|o| o.observable).collect();
        assert_eq!(cut, [990 * MS]);
        let with_deadline = full_with_deadline(0.0, Some(500));
        let both: Vec<u64> = observed(&open, &with_deadline)
            .iter()
            .map(|o| o.observable)
            .collect();
        assert_eq!(both, [490 * MS], "the deadline is the nearer bound");
        let mut done = records;
        done.push(rec(70, ended(fail_503())));
        let finished = Trace {
            end_ns: 1_000 * MS,
            ..Trace::new(done)
        };
        let free: Vec<u64> = observed(&finished, &c)
            .iter()
            .map(|o| o.observable)
            .collect();
        assert_eq!(free, [u64::MAX]);
    }
}
