//! The shared pause's arithmetic: how a `Retry-After` extends it, and when
//! a paused attempt wakes.
//!
//! Instants are durations since the throttle's origin; the throttle
//! supplies the clock and the random offset.

use std::time::Duration;

/// The pause after a `Retry-After` of `asked` seen at `now`, when the pause
/// so far ends at `until`: it ends `asked` from now (at most `max_pause`),
/// or later if it already did. A pause is only ever extended: a shorter
/// `Retry-After` from one call never lets the others out early.
pub(crate) fn extend(
    until: Option<Duration>,
    now: Duration,
    asked: Duration,
    max_pause: Duration,
) -> Duration {
    let end = now.saturating_add(asked.min(max_pause));
    until.map_or(end, |until| until.max(end))
}

/// How long of the pause ending at `until` is left at `now`: `None` once it
/// has passed (a pause ending exactly now has passed, so the call whose
/// own `Retry-After` set it goes on without a second wait).
pub(crate) fn remaining(until: Option<Duration>, now: Duration) -> Option<Duration> {
    until
        .and_then(|until| until.checked_sub(now))
        .filter(|left| !left.is_zero())
}

/// The wait of an attempt held by a pause with `left` to run: the rest of
/// the pause, then `offset` more, the offset drawn uniformly from
/// `0..=spread` per waiting attempt, so the paused attempts come back
/// spread over `spread` instead of in one instant.
pub(crate) fn wake_after(left: Duration, offset: Duration) -> Duration {
    left.saturating_add(offset)
}

/// The `Retry-After` of an attempt held by a pause with `left` to run
/// and answered in the provider's stead: like [`wake_after`], but never
/// longer than `asked`, the `Retry-After` that set the pause. The provider
/// would have answered the attempt with at most that, and a call that
/// spends an attempt on the answer should not wait longer than the answer
/// a sent attempt would have had: the offset then spreads only the calls
/// held late in the pause, and those held as it began wake as it ends.
pub(crate) fn answered(left: Duration, offset: Duration, asked: Duration) -> Duration {
    wake_after(left, offset).min(asked.max(left))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: u64) -> Duration {
        Duration::from_secs(v)
    }

    #[test]
    fn a_pause_starts_at_the_retry_after_and_is_capped() {
        assert_eq!(extend(None, s(10), s(2), s(60)), s(12));
        assert_eq!(extend(None, s(10), s(600), s(60)), s(70));
    }

    #[test]
    fn a_shorter_retry_after_never_ends_a_pause_early() {
        assert_eq!(extend(Some(s(20)), s(10), s(2), s(60)), s(20));
        assert_eq!(extend(Some(s(20)), s(10), s(15), s(60)), s(25));
    }

    #[test]
    fn a_pause_ending_now_has_passed() {
        assert_eq!(remaining(Some(s(12)), s(12)), None);
        assert_eq!(remaining(Some(s(12)), s(13)), None);
        assert_eq!(remaining(None, s(1)), None);
        assert_eq!(remaining(Some(s(12)), s(10)), Some(s(2)));
    }

    #[test]
    fn the_wake_is_the_rest_of_the_pause_plus_the_offset() {
        assert_eq!(
            wake_after(s(2), Duration::from_millis(300)),
            Duration::from_millis(2_300)
        );
        assert_eq!(wake_after(Duration::MAX, s(1)), Duration::MAX);
    }

    #[test]
    fn an_answered_hold_waits_at_most_what_set_the_pause() {
        let ms = Duration::from_millis;
        // Held as the pause began: the offset would overshoot the 1 s asked.
        assert_eq!(answered(s(1), ms(300), s(1)), s(1));
        // Held late in the pause: the offset fits and spreads the wake.
        assert_eq!(answered(ms(200), ms(300), s(1)), ms(500));
        // Never shorter than the rest of the pause.
        assert_eq!(answered(s(2), ms(300), s(1)), s(2));
    }

    proptest! {
        /// Whatever order Retry-Afters arrive in, the pause ends at the
        /// latest (capped) end any of them asked for.
        #[test]
        fn the_pause_is_the_latest_end_asked(asks in prop::collection::vec((0u64..1_000, 0u64..1_000), 1..20), cap in 0u64..2_000) {
            let ms = Duration::from_millis;
            let mut until = None;
            for &(now, asked) in &asks {
                until = Some(extend(until, ms(now), ms(asked), ms(cap)));
            }
            let latest = asks.iter().map(|&(now, asked)| now + asked.min(cap)).max();
            prop_assert_eq!(until, latest.map(ms));
        }
    }
}
