//! The backoff schedule: a pure iterator of delays.
//!
//! All arithmetic is in saturating `u64` nanoseconds. With `b_n =
//! min(cap, initial * 2^n)` for retry `n` (0-based):
//!
//! | [`Jitter`] | delay `n` |
//! |---|---|
//! | `None` | `b_n` |
//! | `Equal` | uniform in `[b_n / 2, b_n]` |
//! | `Full` | uniform in `[0, b_n]` |
//! | `Decorrelated` | `min(cap, uniform in [initial, 3 * previous])`, previous starting at `initial` |
//!
//! Every delay is at most `cap`: the cap is applied to the base before jitter
//! (and jitter only shrinks it) or, for decorrelated jitter, after the draw.

use crate::rng::{call_rng, uniform_inclusive};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// How a backoff delay is randomised around its exponential base.
///
/// Jitter spreads the retries of many clients that failed together, so they
/// do not come back together. Which to pick (AWS, "Exponential Backoff And
/// Jitter", 2015): `Full` does the least work under contention,
/// `Decorrelated` finishes slightly sooner at moderate load, `Equal` is the
/// weakest of the jittered kinds, and `None` is the clear loser; use it only
/// where a single client retries alone, or for exact tests.
///
/// # Default
///
/// [`Jitter::Equal`], the seed wrapper's `[b/2, b]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Jitter {
    /// Exactly the exponential base `b`.
    None,
    /// Uniform in `[b/2, b]`: at least half the base, so never a fast retry.
    Equal,
    /// Uniform in `[0, b]`.
    Full,
    /// `min(cap, uniform[initial, 3 x previous delay])`: grows from the last
    /// delay drawn instead of the retry count.
    Decorrelated,
}

/// `min(cap, initial * 2^n)` in nanoseconds, saturating instead of wrapping.
pub(crate) const fn exponential(initial: u64, n: u32, cap: u64) -> u64 {
    let grown = if initial == 0 {
        0
    } else if n > initial.leading_zeros() {
        // Shifting by this much would push a set bit off the top.
        u64::MAX
    } else {
        initial << n
    };
    if grown < cap { grown } else { cap }
}

/// A duration in whole nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) const fn saturating_nanos(d: Duration) -> u64 {
    let nanos = d.as_nanos();
    if nanos > u64::MAX as u128 {
        u64::MAX
    } else {
        nanos as u64
    }
}

/// The delays before retries 0, 1, 2, ...: an endless iterator.
///
/// Built from plain values: the first backoff, the cap, the [`Jitter`] kind,
/// and a seed and call number that choose the generator behind the jitter.
/// `RetryPolicy::schedule` builds a wrapper's schedules from the policy's
/// knobs; this type knows nothing of policies, so any loop that wants the
/// same delays can build one. The same values always yield the same
/// delays. The generator is private: which one it is may change only with
/// the documented key layout and draw method, never through this type's
/// signature.
///
/// # Examples
///
/// ```
/// use provider_retry::{Jitter, Schedule};
/// use std::time::Duration;
///
/// let ms = Duration::from_millis;
/// let exact: Vec<Duration> = Schedule::new(ms(100), ms(500), Jitter::None, 0, 0).take(4).collect();
/// assert_eq!(exact, [ms(100), ms(200), ms(400), ms(500)]);
///
/// let full = |seed, call| Schedule::new(ms(100), ms(250), Jitter::Full, seed, call);
/// assert!(full(42, 0).take(10).all(|d| d <= ms(250)));
/// let once: Vec<Duration> = full(42, 0).take(5).collect();
/// assert_eq!(once, full(42, 0).take(5).collect::<Vec<_>>());
/// assert_ne!(once, full(42, 1).take(5).collect::<Vec<_>>());
/// ```
#[derive(Debug, Clone)]
pub struct Schedule {
    initial: u64,
    cap: u64,
    jitter: Jitter,
    retry: u32,
    previous: u64,
    rng: ChaCha8Rng,
}

impl Schedule {
    /// The schedule that starts at `initial_backoff`, doubles up to
    /// `max_backoff` and jitters each delay as `jitter` says, drawing from
    /// the generator for call number `call` under `seed`.
    ///
    /// Durations past `u64::MAX` nanoseconds count as `u64::MAX` ns (about
    /// 584 years); nothing here panics. A cap below `initial_backoff` caps
    /// every delay, the first included.
    pub fn new(
        initial_backoff: Duration,
        max_backoff: Duration,
        jitter: Jitter,
        seed: u64,
        call: u64,
    ) -> Self {
        let initial = saturating_nanos(initial_backoff);
        Self {
            initial,
            cap: saturating_nanos(max_backoff),
            jitter,
            retry: 0,
            previous: initial,
            rng: call_rng(seed, call),
        }
    }

    /// The next delay; the schedule never runs out.
    pub fn next_delay(&mut self) -> Duration {
        Duration::from_nanos(self.next_nanos())
    }

    fn next_nanos(&mut self) -> u64 {
        let base = exponential(self.initial, self.retry, self.cap);
        let delay = match self.jitter {
            Jitter::None => base,
            Jitter::Equal => uniform_inclusive(&mut self.rng, base / 2, base),
            Jitter::Full => uniform_inclusive(&mut self.rng, 0, base),
            Jitter::Decorrelated => {
                let hi = self.previous.saturating_mul(3).max(self.initial);
                uniform_inclusive(&mut self.rng, self.initial, hi).min(self.cap)
            }
        };
        self.retry = self.retry.saturating_add(1);
        self.previous = delay;
        delay
    }
}

impl Iterator for Schedule {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.next_delay())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    /// A schedule in whole nanoseconds, seeded `seed`, call 0.
    fn nanos(jitter: Jitter, initial: u64, cap: u64, seed: u64) -> Schedule {
        let ns = Duration::from_nanos;
        Schedule::new(ns(initial), ns(cap), jitter, seed, 0)
    }

    #[test]
    fn base_sequence_doubles_to_the_cap() {
        let s = Schedule::new(ms(100), ms(20_000), Jitter::None, 0, 0);
        let got: Vec<u128> = s.take(10).map(|d| d.as_millis()).collect();
        assert_eq!(
            got,
            [100, 200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000]
        );
    }

    #[test]
    fn first_delay_is_initial_not_cap() {
        let mut s = Schedule::new(ms(100), ms(10_000), Jitter::None, 0, 0);
        assert_eq!(s.next(), Some(ms(100)));
    }

    #[test]
    fn cap_below_initial_caps_every_kind() {
        for jitter in [
            Jitter::None,
            Jitter::Equal,
            Jitter::Full,
            Jitter::Decorrelated,
        ] {
            let s = Schedule::new(ms(100), ms(30), jitter, 1, 0);
            assert!(s.take(20).all(|d| d <= ms(30)), "{jitter:?}");
        }
    }

    #[test]
    fn saturation_at_the_end_of_u32_retries() {
        let mut s = nanos(Jitter::None, u64::MAX, u64::MAX, 0);
        s.retry = u32::MAX;
        assert_eq!(s.next(), Some(Duration::from_nanos(u64::MAX)));
        assert_eq!(s.next(), Some(Duration::from_nanos(u64::MAX)));
    }

    #[test]
    fn duration_max_saturates_to_u64_nanos() {
        assert_eq!(saturating_nanos(Duration::MAX), u64::MAX);
        assert_eq!(saturating_nanos(Duration::from_nanos(7)), 7);
        // Duration::MAX's nanoseconds happen to truncate to u64::MAX too;
        // one second past u64::MAX nanoseconds does not.
        let past = Duration::from_secs(u64::MAX / 1_000_000_000 + 1);
        assert_eq!(saturating_nanos(past), u64::MAX);
        let s = Schedule::new(Duration::MAX, Duration::MAX, Jitter::Decorrelated, 0, 0);
        assert!(s.take(5).all(|d| d.as_nanos() == u128::from(u64::MAX)));
    }

    #[test]
    fn exponential_doubles_then_caps() {
        assert_eq!(exponential(100, 3, u64::MAX), 800);
        assert_eq!(exponential(100, 3, 500), 500);
        assert_eq!(exponential(1, u32::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn exponential_shifts_exactly_up_to_the_top_bit() {
        assert_eq!(exponential(1, 63, u64::MAX), 1 << 63);
        assert_eq!(exponential(1, 64, u64::MAX), u64::MAX);
        assert_eq!(exponential(3, 62, u64::MAX), 3 << 62);
        assert_eq!(exponential(3, 63, u64::MAX), u64::MAX);
        assert_eq!(exponential(0, 1000, u64::MAX), 0);
    }

    #[test]
    fn decorrelated_grows_from_previous_draw() {
        // Without a cap, delay k+1 <= 3 * delay k and every delay >= initial.
        let d: Vec<Duration> = nanos(Jitter::Decorrelated, 1_000, u64::MAX, 9)
            .take(30)
            .collect();
        for w in d.windows(2) {
            assert!(w[1] <= w[0] * 3 && w[1] >= Duration::from_nanos(1_000));
        }
    }

    #[test]
    fn jittered_schedules_differ_by_seed_and_repeat_by_seed() {
        let full = |seed, call| Schedule::new(ms(100), ms(20_000), Jitter::Full, seed, call);
        let a: Vec<_> = full(1, 0).take(5).collect();
        assert_eq!(a, full(1, 0).take(5).collect::<Vec<_>>());
        assert_ne!(a, full(2, 0).take(5).collect::<Vec<_>>());
        assert_ne!(a, full(1, 1).take(5).collect::<Vec<_>>());
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Equal),
            Just(Jitter::Full),
            Just(Jitter::Decorrelated)
        ]
    }

    proptest! {
        #[test]
        fn each_delay_within_its_kinds_bounds(
            jitter in any_jitter(),
            initial in any::<u64>(),
            cap in any::<u64>(),
            seed in any::<u64>(),
            start in any::<u32>(),
        ) {
            let mut s = nanos(jitter, initial, cap, seed);
            s.retry = start;
            let mut previous = s.previous;
            for n in 0..8u32 {
                let base = exponential(initial, start.saturating_add(n), cap);
                let d = s.next_nanos();
                prop_assert!(d <= cap, "delay {d} above cap {cap}");
                match jitter {
                    Jitter::None => prop_assert_eq!(d, base),
                    Jitter::Equal => prop_assert!(d >= base / 2 && d <= base),
                    Jitter::Full => prop_assert!(d <= base),
                    Jitter::Decorrelated => {
                        let hi = previous.saturating_mul(3).max(initial);
                        prop_assert!(d == cap || (d >= initial && d <= hi));
                    }
                }
                previous = d;
            }
        }

        #[test]
        fn exponential_is_monotone_and_capped(initial: u64, cap: u64, n in 0u32..200) {
            let a = exponential(initial, n, cap);
            let b = exponential(initial, n + 1, cap);
            prop_assert!(a <= b && b <= cap);
        }
    }
}
