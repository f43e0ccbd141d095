//! A throttle every call of a run shares: what its pauses permit, and the
//! two oracles that hold it to them.
//!
//! Written from provider-retry's documented `Throttle` semantics (its
//! pauses; the adaptive send rate is not claimed), never from its code. A
//! transient failure with a Retry-After of `r`, answered to any call at
//! `t`, pauses every call until `t + min(r, max_pause)`; a pause is only
//! extended. So, under a claim with a [`SharedPause`]:
//!
//! - no attempt starts while a pause is pending (the provider's side, that
//!   it asked every caller to wait, is [`super::server_waits`]'s oracle);
//! - an attempt the pause held starts within `[end, end + spread]` of the
//!   pause's end ([`woke`]): that wait is excused where a first attempt
//!   must start at once, a backoff fall in its envelope, or a Retry-After
//!   be waited exactly;
//! - the wake-ups are spread, not one herd ([`pause_wakes_spread`]);
//! - a wait the pause imposes is refused when it would pass the deadline
//!   (counted from the call's start) or its rest is longer than the
//!   longest Retry-After waited ([`refusal`]): a retry's ends the call with
//!   the last attempt's failure after its backoff ([`refused_retry`]); a
//!   first attempt's, with a 429 carrying the refused wait, the provider
//!   never reached ([`held_back`]).
//!
//! Every subject whose claim has no shared pause is judged as before: each
//! function here excuses nothing then, and [`pause_wakes_spread`] judges
//! nothing.

use super::Context;
use super::claim::{Claim, SharedPause};
use super::distribution::ALPHA;
use super::model::{self, Answered, Call, May, TICK_NS, refused_above};
use super::verdict::Verdict;
use crate::duration::human;
use crate::trace::{CallOutcome, Failure, GiveUpReason};

/// The cross-call oracle on the pauses' wake-ups: [`pause_wakes_spread`].
pub const PAUSE_WAKES_SPREAD: &str = "pause_wakes_spread";

/// The pauses the claim's shared throttle takes on what the run was
/// answered: each answer with its pause's end. None without a shared pause.
fn pauses<'a>(c: &'a Call, claim: &'a Claim) -> impl Iterator<Item = (&'a Answered, u64)> + 'a {
    let shared = claim.shared_pause;
    c.run_retry_afters.iter().filter_map(move |a| {
        let SharedPause { max_pause_ns, .. } = shared?;
        let retry_after_ns = a.retry_after_ns?;
        // Only a retried method's calls go through the throttle's gate
        // (the others pass straight through): only their answers pause.
        let retried = a.method.is_some_and(|m| claim.retried.contains(&m));
        let transient = claim.retryable.statuses.contains(&a.status);
        (transient && retried).then(|| (a, a.at.saturating_add(retry_after_ns.min(max_pause_ns))))
    })
}

/// The latest end of a pause still pending at `at`, set by an answer
/// before `at` (or at it, when `at_too`), with that answer.
fn pending_at<'a>(
    c: &'a Call,
    claim: &'a Claim,
    at: u64,
    at_too: bool,
) -> Option<(u64, &'a Answered)> {
    pauses(c, claim)
        .filter(|(a, end)| (a.at < at || (at_too && a.at == at)) && *end > at)
        .max_by_key(|(a, end)| (*end, a.at))
        .map(|(a, end)| (end, a))
}

/// An attempt that could have gone no earlier than `earliest` started at
/// `start` because a pause held it: some pause ended after `earliest`, at
/// or before `start`, and `start` is within the claimed spread (and the
/// context's tolerance) of that end.
pub fn woke(c: &Call, claim: &Claim, context: &Context, earliest: u64, start: u64) -> bool {
    let Some(shared) = claim.shared_pause else {
        return false;
    };
    let late = shared.spread_ns.saturating_add(context.tolerance_ns);
    pauses(c, claim).any(|(a, end)| {
        a.at < start && end > earliest && end <= start && start <= end.saturating_add(late)
    })
}

/// Whether a pause overlapped `[from, to]`: answered before `to`, ending
/// after `from`. A wait whose whole envelope a pause did not touch was
/// neither stretched nor refused by it.
pub fn paused_between(c: &Call, claim: &Claim, from: u64, to: u64) -> bool {
    pauses(c, claim).any(|(a, end)| a.at < to && end > from)
}

/// Whether a pause may still hold an attempt of `c` at `at`: one answered
/// before `at` whose end plus the spread (and the tolerance) is not before
/// it. A call cut off then may be waiting on it.
pub fn held_at(c: &Call, claim: &Claim, context: &Context, at: u64) -> bool {
    let Some(shared) = claim.shared_pause else {
        return false;
    };
    let late = shared.spread_ns.saturating_add(context.tolerance_ns);
    pauses(c, claim).any(|(a, end)| a.at < at && end.saturating_add(late) >= at)
}

/// Where a call's deadline is counted from: the call's start under a
/// shared pause (a paused first attempt starts later; provider-retry counts
/// its deadline from the call's start), else its first attempt's start.
pub fn deadline_origin(c: &Call, claim: &Claim) -> Option<u64> {
    match (claim.shared_pause, c.started) {
        (Some(_), Some((started, ..))) => Some(started),
        _ => c.first_start(),
    }
}

/// The reasons a wait a pause imposes at `at` may be refused for: a
/// pause pending then whose rest is over the longest Retry-After waited
/// (certain, checked first), or whose end plus the spread would pass the
/// deadline from the call's start. With the pause's end.
pub fn refusal(
    c: &Call,
    claim: &Claim,
    context: &Context,
    at: u64,
) -> Option<(u64, Vec<(GiveUpReason, May)>)> {
    let shared = claim.shared_pause?;
    let (end, _) = pending_at(c, claim, at, true)?;
    let left = end - at;
    let tolerance = context.tolerance_ns;
    let mut out = Vec::new();
    if let Some(max) = refused_above(claim) {
        if left > max.saturating_add(tolerance) {
            return Some((end, vec![(GiveUpReason::RetryAfterTooLong, May::Certain)]));
        }
        if left.saturating_add(tolerance) > max {
            out.push((GiveUpReason::RetryAfterTooLong, May::Possible));
        }
    }
    let origin = deadline_origin(c, claim);
    if let (Some(deadline), Some(origin)) = (claim.deadline_ns, origin) {
        let latest = end
            .saturating_add(shared.spread_ns)
            .saturating_add(tolerance);
        if latest > origin.saturating_add(deadline) {
            out.push((GiveUpReason::Deadline, May::Possible));
        }
    }
    (!out.is_empty()).then_some((end, out))
}

/// A failed call that went to its gate for a retry (it ended later than
/// its last attempt, no earlier than the next wait's least) and was
/// refused there: the give-up reasons the refusal permits. `None` if the
/// call was not refused so, or the claim has no shared pause.
pub fn refused_retry(
    c: &Call,
    claim: &Claim,
    context: &Context,
) -> Option<Vec<(GiveUpReason, May)>> {
    claim.shared_pause?;
    let (ended, CallOutcome::Failed(_)) = c.ended.as_ref()? else {
        return None;
    };
    let last = c.attempts.last()?;
    let (last_end, outcome) = last.end.as_ref()?;
    if *ended <= last_end.saturating_add(super::oracles::lag(context)) || c.streamed() {
        return None;
    }
    if !model::transient(outcome, claim) {
        return None;
    }
    let least = model::next_wait_bounds(c, claim, model::waited_retry_after(outcome, claim)).0;
    if ended.saturating_sub(*last_end) < least {
        return None;
    }
    refusal(c, claim, context, *ended).map(|(_, reasons)| reasons)
}

/// A call held back before its first attempt: it reached no provider and
/// failed with a 429 whose Retry-After is the refused wait, the rest of a
/// pause pending when it ended plus an offset in the spread. The reasons
/// the refusal permits, if so.
pub fn held_back(c: &Call, claim: &Claim, context: &Context) -> Option<Vec<(GiveUpReason, May)>> {
    let shared = claim.shared_pause?;
    let Some((
        ended,
        CallOutcome::Failed(Failure::Status {
            status: 429,
            retry_after_ns: Some(wait),
            ..
        }),
    )) = c.ended.as_ref()
    else {
        return None;
    };
    if !c.attempts.is_empty() {
        return None;
    }
    let (end, reasons) = refusal(c, claim, context, *ended)?;
    let left = end - ended;
    let top = left
        .saturating_add(shared.spread_ns)
        .saturating_add(context.tolerance_ns);
    (*wait >= left.saturating_sub(context.tolerance_ns) && *wait <= top).then_some(reasons)
}

/// The wake-ups of the attempts one pause held: starts within
/// `[end, end + spread]` of attempts that could not have started before
/// the pause ended.
fn wakes(calls: &[Call], claim: &Claim, tolerance: u64, end: u64) -> Vec<u64> {
    let Some(shared) = claim.shared_pause else {
        return Vec::new();
    };
    let window = end..=end
        .saturating_add(shared.spread_ns)
        .saturating_add(tolerance);
    let mut out = Vec::new();
    for c in calls {
        for (k, a) in c.attempts.iter().enumerate() {
            // The latest the attempt could have started without a pause:
            // at the call's start for the first, its Retry-After or the top
            // of its backoff's envelope after the previous one.
            let latest = match k {
                0 => c.started.map(|s| s.0),
                _ => latest_unpaused(c, claim, k),
            };
            let Some(latest) = latest else { continue };
            if latest.saturating_add(tolerance) < end && window.contains(&a.start) {
                out.push(a.start - end);
            }
        }
    }
    out.sort_unstable();
    out
}

/// The latest retry `k` of `c` could have started with no pause: its
/// previous attempt's end plus that Retry-After, or the top of the backoff
/// envelope.
fn latest_unpaused(c: &Call, claim: &Claim, k: usize) -> Option<u64> {
    let before = c.attempts.get(k - 1)?;
    let (end, _) = before.end.as_ref()?;
    let waits = c.waits(claim);
    let envelopes = model::envelopes(&waits, claim, |_| None);
    let (w, envelope) = envelopes.iter().find(|(w, _)| w.after == before.number)?;
    let top = match (w.retry_after_ns, envelope) {
        (Some(ra), _) => ra.saturating_add(claim.retry_after_jitter_ns),
        (None, Some(e)) => e.hi,
        (None, None) => return None,
    };
    Some(end.saturating_add(top))
}

/// The paused attempts of one pause wake spread over the spread, not in
/// one herd: with `n` wake-ups uniform over the spread `s`, `k` of them
/// within one tick (two, once each is rounded up to its tick) happens with
/// probability at most `n C(n-1, k-1) (2 tick / s)^(k-1)`; below
/// [`ALPHA`], the wake-ups were not drawn apart.
///
/// Judges a run under a claim with a shared pause whose spread is over two
/// ticks, with a pause that held at least two attempts.
pub fn pause_wakes_spread(calls: &[Call], claim: &Claim, context: &Context) -> Verdict {
    let Some(shared) = claim.shared_pause else {
        return Verdict::NotJudged;
    };
    let width = 2 * TICK_NS;
    if shared.spread_ns <= width {
        return Verdict::NotJudged;
    }
    let Some(first) = calls.first() else {
        return Verdict::NotJudged;
    };
    let mut ends: Vec<u64> = pauses(first, claim).map(|(_, end)| end).collect();
    ends.sort_unstable();
    ends.dedup();
    let mut judged = false;
    for end in ends {
        let wakes = wakes(calls, claim, context.tolerance_ns, end);
        if wakes.len() < 2 {
            continue;
        }
        judged = true;
        let k = herd(&wakes, TICK_NS);
        let p = herd_probability(wakes.len(), k, width as f64 / shared.spread_ns as f64);
        if p < ALPHA {
            return Verdict::Violated(format!(
                "{k} of the {} attempts the pause ending at {} held woke within {} of each other (chance {p:.1e} if spread over {})",
                wakes.len(),
                human(end),
                human(TICK_NS),
                human(shared.spread_ns)
            ));
        }
    }
    match judged {
        true => Verdict::Held,
        false => Verdict::NotJudged,
    }
}

/// The most of the sorted `points` within `width` of each other.
fn herd(points: &[u64], width: u64) -> usize {
    let mut most = 0;
    let mut from = 0;
    for (to, &p) in points.iter().enumerate() {
        while p - points[from] > width {
            from += 1;
        }
        most = most.max(to + 1 - from);
    }
    most
}

/// A bound on the chance that `k` of `n` uniform points fall within a
/// window that is `share` of their range: `n C(n-1, k-1) share^(k-1)`,
/// computed in logarithms so that no count overflows.
pub fn herd_probability(n: usize, k: usize, share: f64) -> f64 {
    if k < 2 || n < k {
        return 1.0;
    }
    let ln_choose: f64 = (1..k).map(|i| ((n - i) as f64 / i as f64).ln()).sum();
    let ln = (n as f64).ln() + ln_choose + (k - 1) as f64 * share.ln();
    ln.exp().min(1.0)
}
