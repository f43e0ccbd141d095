//! The adaptive send rate's arithmetic: the CUBIC curve and the token bucket.
//!
//! Pure functions of rates (attempts per second) and of instants given as
//! durations since the throttle's origin; the throttle supplies the clock.
//! Every result is finite and every conversion to a [`Duration`] saturates,
//! so no input panics.

use std::time::Duration;

/// The rate kept after a throttling response: 70 % of the rate that drew
/// it (CUBIC's and the AWS SDKs' multiplicative decrease, β = 0.7).
pub const BETA: f64 = 0.7;
/// How fast the curve climbs back (CUBIC's and the AWS SDKs' C = 0.4):
/// the rate regains the level that drew the cut `cbrt(w_max * 0.3 / 0.4)`
/// seconds after it.
pub const SCALE: f64 = 0.4;

/// A rate as a usable number: NaN and anything below `floor` (a positive
/// rate) become `floor`, infinity the largest finite rate.
pub(crate) fn sane(rate: f64, floor: f64) -> f64 {
    // `f64::max` returns the other operand when one is NaN.
    rate.max(floor).min(f64::MAX)
}

/// CUBIC's window growth, as a send rate: after a cut at rate `w_max`, the
/// rate `t` seconds later is `SCALE * (t - k)^3 + w_max`, where
/// `k = cbrt(w_max * (1 - BETA) / SCALE)` puts the curve at `BETA * w_max`
/// at `t = 0`. It rises fast at first, flattens around `w_max` (the rate
/// the provider last refused), then probes above it ever faster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Cubic {
    w_max: f64,
    k: f64,
}

impl Cubic {
    /// The curve after a throttling response that arrived at send rate `w_max`.
    pub(crate) fn after_cut(w_max: f64) -> Self {
        let w_max = sane(w_max, f64::MIN_POSITIVE);
        Self {
            w_max,
            k: (w_max * (1.0 - BETA) / SCALE).cbrt(),
        }
    }

    /// The rate the cut drew.
    pub(crate) fn w_max(&self) -> f64 {
        self.w_max
    }

    /// The curve's rate `since` the cut, never below `floor`.
    pub(crate) fn rate_at(&self, since: Duration, floor: f64) -> f64 {
        let dt = since.as_secs_f64() - self.k;
        sane(SCALE * dt * dt * dt + self.w_max, floor)
    }
}

/// A token bucket that lends ahead: a token taken from an empty bucket puts
/// it in debt, and the taker waits until the debt is refilled. Concurrent
/// takers thereby queue in the order they arrive, each `1 / rate` after the
/// one before, with no list of waiters and nothing to wake them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    /// Tokens now; negative while tokens are lent.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Duration,
}

impl Bucket {
    /// An empty bucket at `now`: the first token after a cut costs a full `1 / rate`.
    pub(crate) fn empty(now: Duration) -> Self {
        Self {
            tokens: 0.0,
            at: now,
        }
    }

    /// Tokens at `now`, refilled at `rate` up to a capacity of one second
    /// of that rate (at least one token): a burst after a quiet spell is
    /// at most what the rate allows in a second.
    pub(crate) fn tokens_at(&self, now: Duration, rate: f64) -> f64 {
        let elapsed = now.saturating_sub(self.at).as_secs_f64();
        let capacity = rate.max(1.0);
        (self.tokens + elapsed * rate).min(capacity)
    }

    /// How long a taker arriving at `now` would wait for its token.
    pub(crate) fn wait_at(&self, now: Duration, rate: f64) -> Duration {
        let after = self.tokens_at(now, rate) - 1.0;
        if after >= 0.0 {
            Duration::ZERO
        } else {
            seconds(-after / rate)
        }
    }

    /// Take one token at `now`; the taker waits [`wait_at`](Self::wait_at).
    pub(crate) fn take(&mut self, now: Duration, rate: f64) {
        let now = now.max(self.at);
        self.tokens = self.tokens_at(now, rate) - 1.0;
        self.at = now;
    }

    /// Bring the tokens up to `now` at the `rate` that held until now, so
    /// that a new rate applies only from `now` on. (A lower rate's smaller
    /// capacity applies at the next read: [`tokens_at`](Self::tokens_at)
    /// caps what it returns.)
    pub(crate) fn settle(&mut self, now: Duration, rate: f64) {
        let now = now.max(self.at);
        self.tokens = self.tokens_at(now, rate);
        self.at = now;
    }
}

/// Attempts per second measured as `count` attempts over `elapsed`, with
/// elapsed times under a second counted as one second: a burst within one
/// instant is a rate of that many per second, not an infinite one.
pub(crate) fn measured(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1.0)
}

/// `secs` seconds as a duration, saturating: never negative, never a panic.
pub(crate) fn seconds(secs: f64) -> Duration {
    Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    #[test]
    fn the_curve_starts_at_beta_regains_w_max_at_k_then_probes_above() {
        let c = Cubic::after_cut(10.0);
        assert!((c.rate_at(Duration::ZERO, 0.5) - 7.0).abs() < 1e-9);
        let k = (10.0_f64 * 0.3 / 0.4).cbrt();
        assert!((c.rate_at(s(k), 0.5) - 10.0).abs() < 1e-9);
        assert!(c.rate_at(s(k + 3.0), 0.5) > 10.0 + 0.4 * 26.0);
        assert_eq!(c.w_max(), 10.0);
    }

    #[test]
    fn the_curve_never_falls_below_the_floor() {
        let c = Cubic::after_cut(0.0);
        assert_eq!(c.rate_at(Duration::ZERO, 0.5), 0.5);
        let nan = Cubic::after_cut(f64::NAN);
        assert!(nan.rate_at(s(1.0), 0.5).is_finite());
    }

    #[test]
    fn an_empty_bucket_spaces_takers_one_over_rate_apart() {
        let mut b = Bucket::empty(Duration::ZERO);
        let waits: Vec<Duration> = (0..4)
            .map(|_| {
                let w = b.wait_at(Duration::ZERO, 4.0);
                b.take(Duration::ZERO, 4.0);
                w
            })
            .collect();
        assert_eq!(waits, [s(0.25), s(0.5), s(0.75), s(1.0)]);
    }

    #[test]
    fn a_quiet_bucket_holds_one_second_of_rate() {
        let b = Bucket::empty(Duration::ZERO);
        assert_eq!(b.tokens_at(s(100.0), 5.0), 5.0);
        assert_eq!(b.tokens_at(s(100.0), 0.5), 1.0, "at least one token");
        assert_eq!(b.wait_at(s(100.0), 5.0), Duration::ZERO);
    }

    #[test]
    fn settling_refills_at_the_old_rate_and_a_lower_rate_caps_on_read() {
        let mut owed = Bucket::empty(Duration::ZERO);
        owed.take(Duration::ZERO, 1.0);
        owed.take(Duration::ZERO, 1.0);
        owed.settle(s(1.0), 1.0);
        assert_eq!(owed.tokens_at(s(1.0), 5.0), -1.0, "1 s at 1/s repaid one");
        assert_eq!(owed.tokens_at(s(2.0), 5.0), 4.0, "then 5/s");
        let mut full = Bucket::empty(Duration::ZERO);
        full.settle(s(10.0), 10.0);
        assert_eq!(full.tokens_at(s(10.0), 10.0), 10.0);
        assert_eq!(
            full.tokens_at(s(10.0), 2.0),
            2.0,
            "the lower rate's capacity"
        );
    }

    #[test]
    fn a_rate_is_never_nan_below_the_floor_or_infinite() {
        assert_eq!(sane(-1.0, 0.5), 0.5);
        assert_eq!(sane(f64::NAN, 0.5), 0.5);
        assert_eq!(sane(f64::INFINITY, 0.5), f64::MAX);
        assert_eq!(sane(3.0, 0.5), 3.0);
    }

    #[test]
    fn a_measured_rate_counts_short_spans_as_one_second() {
        assert_eq!(measured(10, Duration::ZERO), 10.0);
        assert_eq!(measured(10, s(4.0)), 2.5);
    }

    #[test]
    fn seconds_saturate() {
        assert_eq!(seconds(-1.0), Duration::ZERO);
        assert_eq!(seconds(f64::NAN), Duration::ZERO);
        assert_eq!(seconds(f64::INFINITY), Duration::MAX);
        assert_eq!(seconds(1.5), s(1.5));
    }

    proptest! {
        /// However takers arrive, the bucket never lets more go by time `t`
        /// than one second's burst plus `rate * t`.
        #[test]
        fn takers_never_outrun_the_rate(
            rate in 0.5f64..200.0,
            arrivals in prop::collection::vec(0u64..5_000, 1..200),
        ) {
            let mut arrivals = arrivals;
            arrivals.sort_unstable();
            let mut b = Bucket::empty(Duration::ZERO);
            let mut goes: Vec<f64> = Vec::new();
            for at in arrivals {
                let now = Duration::from_millis(at);
                let wait = b.wait_at(now, rate);
                b.take(now, rate);
                goes.push((now + wait).as_secs_f64());
            }
            goes.sort_by(f64::total_cmp);
            for (i, t) in goes.iter().enumerate() {
                // Taker i goes at t: i + 1 tokens by t, none held at the start.
                prop_assert!((i + 1) as f64 <= rate * t + 1e-6 * (i + 1) as f64, "{i} at {t}");
            }
        }

        /// The curve is monotone in time and always at least the floor.
        #[test]
        fn the_curve_rises_and_respects_the_floor(w in 0.0f64..1e6, a in 0u64..100_000, b in 0u64..100_000) {
            let c = Cubic::after_cut(w);
            let (lo, hi) = (a.min(b), a.max(b));
            let (r_lo, r_hi) = (c.rate_at(Duration::from_millis(lo), 0.5), c.rate_at(Duration::from_millis(hi), 0.5));
            prop_assert!(r_lo <= r_hi);
            prop_assert!(r_lo >= 0.5 && r_hi.is_finite());
        }
    }
}
