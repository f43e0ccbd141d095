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
//! A claim whose pause is `answered` ([`SharedPause::answered`]) has held
//! attempts answered at once instead of waiting: each answer counts as an
//! attempt the provider never saw. The trace does not show them, so the
//! judge bounds how many a call may have had ([`holds`]): at most one per
//! pause (set by another call) that ended inside a gap between the call's
//! visible steps, and at least those certain from when the call reached
//! its gate. A wait after a call's attempt `k` is then schedule item `k`
//! plus the held answers before it; a call gives up at its gate when a
//! held answer was its last attempt, passed its deadline or asked longer
//! than its longest Retry-After ([`refusal`]); and a held answer's
//! Retry-After is never longer than what set the pause ([`within_ask`]).
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
use crate::trace::{CallOutcome, Failure, GiveUpReason, Reported};
use std::sync::Arc;

/// The cross-call oracle on the pauses' wake-ups: [`pause_wakes_spread`].
pub const PAUSE_WAKES_SPREAD: &str = "pause_wakes_spread";

/// The pauses the claim's shared throttle takes on what the run was
/// answered: each answer with its pause's end. None without a shared pause.
fn pauses<'a>(c: &'a Call, claim: &'a Claim) -> impl Iterator<Item = (&'a Answered, u64)> + 'a {
    pauses_in(&c.run_retry_afters, claim)
}

/// [`pauses`] of the answers in `answered`.
fn pauses_in<'a>(
    answered: &'a [Answered],
    claim: &'a Claim,
) -> impl Iterator<Item = (&'a Answered, u64)> + 'a {
    let shared = claim.shared_pause;
    answered.iter().filter_map(move |a| {
        let SharedPause { max_pause_ns, .. } = shared?;
        let retry_after_ns = a.retry_after_ns?;
        // Only a retried method's calls go through the throttle's gate
        // (the others pass straight through): only their answers pause.
        let retried = a.method.is_some_and(|m| claim.retried.contains(&m));
        let transient = claim.retryable.statuses.contains(&a.status);
        (transient && retried).then(|| (a, a.at.saturating_add(retry_after_ns.min(max_pause_ns))))
    })
}

/// The claim's shared pause, if it answers held attempts.
pub fn answering(claim: &Claim) -> Option<SharedPause> {
    claim.shared_pause.filter(|s| s.answered)
}

/// The pauses other calls' answers set from `from` to `to` (both
/// included). A call's own pause never holds it: it waits its own
/// Retry-After to that pause's end, and a pause ending as an attempt
/// arrives has passed. Looked up by time (the run's answers are in time
/// order): a run of thousands of answers is judged call by call, gap by
/// gap.
fn set_between<'a>(
    c: &'a Call,
    claim: &'a Claim,
    from: u64,
    to: u64,
) -> impl Iterator<Item = (&'a Answered, u64)> + 'a {
    let me = (c.client, c.call);
    let all = c.run_retry_afters.as_slice();
    let lo = all.partition_point(|a| a.at < from);
    let hi = all.partition_point(|a| a.at <= to).max(lo);
    pauses_in(&all[lo..hi], claim).filter(move |(a, _)| a.call != me)
}

/// How many of a call's attempts an answering throttle may have answered
/// in the provider's stead, up to some point: at least `least` (each one
/// certain from the trace), at most `most`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    /// The held answers the trace makes certain.
    pub least: u32,
    /// The most held answers the trace allows.
    pub most: u32,
}

impl Held {
    fn plus(self, other: Held) -> Held {
        Held {
            least: self.least.saturating_add(other.least),
            most: self.most.saturating_add(other.most),
        }
    }
}

/// The held answers a call may have had, cumulated: `before[k]`, in the
/// gaps up to its attempt `k` (the first gap runs from the call's start);
/// `total`, those and any after its last attempt, up to a gate it ended
/// at. All zero unless the claim's pause is answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holds {
    /// Held answers before each attempt, by its index.
    pub before: Vec<Held>,
    /// Held answers in the whole call.
    pub total: Held,
}

/// One gap of a call's visible steps: when it may first have reached its
/// gate (`arrival`, if known to a window), the earliest any held answer
/// could have come (`from`), and the next attempt's start or, `ending`,
/// the call's end at its gate.
struct Gap {
    arrival: Option<(u64, u64)>,
    from: u64,
    to: u64,
    ending: bool,
}

/// The held answers `c` may have had under an answered claim (see
/// [`Holds`]): [`Call::holds`] where worked out, else worked out now.
pub fn holds(c: &Call, claim: &Claim, context: &Context) -> Arc<Holds> {
    match &c.holds {
        Some(holds) => holds.clone(),
        None => Arc::new(work_out_holds(c, claim, context)),
    }
}

/// [`holds`], from the trace.
fn work_out_holds(c: &Call, claim: &Claim, context: &Context) -> Holds {
    let mut out = Holds::default();
    let Some(shared) = answering(claim) else {
        out.before = vec![Held::default(); c.attempts.len()];
        return out;
    };
    let tol = context.tolerance_ns;
    // The gap before attempt `k` (`k` past the last: up to the call's end
    // at its gate, at `to`). The call reaches its gate first at its start,
    // or after the Retry-After it waited (known to the claim's jitter and
    // a tick); after a backoff, somewhere unknown here.
    let gap = |k: usize, to: u64, ending: bool| -> Option<Gap> {
        if k == 0 {
            let s = c.started?.0;
            let arrival = Some((s, s));
            return Some(Gap {
                arrival,
                from: s,
                to,
                ending,
            });
        }
        let (end, outcome) = c.attempts.get(k - 1)?.end.as_ref()?;
        let (from, arrival) = match model::waited_retry_after(outcome, claim) {
            Some(ra) => {
                let lo = end.saturating_add(ra);
                let hi = lo
                    .saturating_add(claim.retry_after_jitter_ns)
                    .saturating_add(tol);
                (lo, Some((lo, hi)))
            }
            None => (*end, None),
        };
        Some(Gap {
            arrival,
            from,
            to,
            ending,
        })
    };
    let mut sum = Held::default();
    for (k, a) in c.attempts.iter().enumerate() {
        let held = gap(k, a.start, false).map(|g| held_in(c, claim, shared, tol, &g));
        sum = sum.plus(held.unwrap_or_default());
        out.before.push(sum);
    }
    // A failed call may have ended at its gate, held there.
    if let Some((ended, CallOutcome::Failed(_))) = c.ended.as_ref() {
        let last = gap(c.attempts.len(), *ended, true).filter(|g| g.to >= g.from);
        if let Some(g) = last {
            sum = sum.plus(held_in(c, claim, shared, tol, &g));
        }
    }
    out.total = sum;
    out
}

/// Whether `c` may have ended at its gate, answered there in the
/// provider's stead after its last attempt (or before any): its last
/// attempt was then a held answer, which no provider saw. Only under an
/// answered claim.
pub fn ended_at_gate(c: &Call, claim: &Claim, context: &Context) -> bool {
    if answering(claim).is_none() {
        return false;
    }
    let holds = holds(c, claim, context);
    let before = holds.before.last().map_or(0, |h| h.most);
    holds.total.most > before
}

/// The held answers possible in one gap. At most: one per pause another
/// call set that ended inside it (each held answer wakes the call at its
/// pause's end or after, and the next is held by a later end), and one
/// more when the call ended at its gate with a pause pending. At least:
/// from a known arrival, each pause certainly pending over the whole
/// window the call could reach its gate in (set before it, ending after
/// it), the next window then from that pause's end to the latest end plus
/// the spread.
fn held_in(c: &Call, claim: &Claim, shared: SharedPause, tol: u64, g: &Gap) -> Held {
    // A pause ends at most `max_pause` after it was set: each search below
    // looks only at the answers that could pass its test.
    let reach = shared.max_pause_ns.saturating_add(tol);
    let to = g.to.saturating_add(tol);
    let mut ends: Vec<u64> = set_between(c, claim, g.from.saturating_sub(reach), to)
        .filter(|(a, end)| {
            a.at < g.to.saturating_add(tol)
                && end.saturating_add(tol) > g.from
                && *end <= g.to.saturating_add(tol)
        })
        .map(|(_, end)| end)
        .collect();
    ends.sort_unstable();
    ends.dedup();
    let pending_at_end = g.ending
        && set_between(c, claim, g.to.saturating_sub(reach), to)
            .any(|(a, end)| a.at < g.to.saturating_add(tol) && end > g.to);
    let most = u32::try_from(ends.len())
        .unwrap_or(u32::MAX)
        .saturating_add(u32::from(pending_at_end));
    let mut least = 0u32;
    let mut window = g.arrival;
    while let Some((lo, hi)) = window.filter(|(lo, _)| *lo <= g.to) {
        let cover = set_between(c, claim, hi.saturating_sub(reach), lo)
            .filter(|(a, end)| a.at.saturating_add(tol) < lo && *end > hi.saturating_add(tol))
            .map(|(_, end)| end)
            .max();
        let Some(cover) = cover else { break };
        least = least.saturating_add(1);
        if u64::from(least) >= claim.max_attempts || least >= most {
            break;
        }
        let latest = set_between(
            c,
            claim,
            cover.saturating_sub(reach),
            hi.saturating_add(tol),
        )
        .map(|(_, end)| end)
        .max()
        .unwrap_or(cover)
        .max(cover);
        let next_hi = latest.saturating_add(shared.spread_ns).saturating_add(tol);
        window = Some((cover, next_hi));
    }
    Held {
        least: least.min(most),
        most,
    }
}

/// The Retry-After (capped) that set the end of the pause ending at
/// `end`, answered before `at`: the longest such ask (the first answer to
/// set that end set the ask).
fn ask_of(c: &Call, claim: &Claim, end: u64, at: u64) -> u64 {
    pauses(c, claim)
        .filter(|(a, e)| *e == end && a.at <= at)
        .map(|(a, e)| e - a.at)
        .max()
        .unwrap_or(0)
}

/// Under an answered claim, a first attempt held at the call's start by
/// a pause woke no later than that pause's ask after the start (a held
/// answer's Retry-After is never longer than what set the pause), unless
/// a later pause held it again. True when there is nothing to hold it to.
pub fn within_ask(c: &Call, claim: &Claim, context: &Context, started: u64, first: u64) -> bool {
    let Some(shared) = answering(claim) else {
        return true;
    };
    let Some((end, _)) = pending_at(c, claim, started, false) else {
        return true;
    };
    let tol = context.tolerance_ns;
    let ask = ask_of(c, claim, end, started);
    if first <= started.saturating_add(ask).saturating_add(tol) {
        return true;
    }
    let late = shared.spread_ns.saturating_add(tol);
    pauses(c, claim)
        .any(|(a, e)| a.at < first && e > end && e <= first && first <= e.saturating_add(late))
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
/// neither stretched nor refused by it. Only other calls' pauses: the
/// call's own never holds it, and one its retry set falls inside the
/// envelope exactly when the draw was short, so counting it would leave
/// out the short draws.
pub fn paused_between(c: &Call, claim: &Claim, from: u64, to: u64) -> bool {
    set_between(c, claim, 0, to).any(|(a, end)| a.at < to && end > from)
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
    if shared.answered {
        let reasons = answered_refusal(c, claim, context, shared, at, end);
        return (!reasons.is_empty()).then_some((end, reasons));
    }
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

/// The reasons a call may give up at its gate at `at`, a held answer its
/// last attempt there, the pause pending then ending at `end`: its
/// attempts spent (with the held answers before it), the answer's
/// Retry-After longer than the longest waited, or its wait passing the
/// deadline. The answer's Retry-After is the pause's rest plus an offset
/// in the spread, never longer than what set the pause.
fn answered_refusal(
    c: &Call,
    claim: &Claim,
    context: &Context,
    shared: SharedPause,
    at: u64,
    end: u64,
) -> Vec<(GiveUpReason, May)> {
    let tolerance = context.tolerance_ns;
    let left = end - at;
    let ask = ask_of(c, claim, end, at).max(left);
    let longest = left.saturating_add(shared.spread_ns).min(ask);
    let held = holds(c, claim, context).total;
    let spent = |n: u32| (c.attempts.len() as u64).saturating_add(u64::from(n));
    if spent(held.least) >= claim.max_attempts {
        return vec![(GiveUpReason::Exhausted, May::Certain)];
    }
    let mut out = Vec::new();
    if spent(held.most) >= claim.max_attempts {
        out.push((GiveUpReason::Exhausted, May::Possible));
    }
    if let Some(max) = refused_above(claim) {
        if left > max.saturating_add(tolerance) && out.is_empty() {
            return vec![(GiveUpReason::RetryAfterTooLong, May::Certain)];
        }
        if longest.saturating_add(tolerance) > max {
            out.push((GiveUpReason::RetryAfterTooLong, May::Possible));
        }
    }
    let origin = deadline_origin(c, claim);
    if let (Some(deadline), Some(origin)) = (claim.deadline_ns, origin) {
        let latest = at.saturating_add(longest).saturating_add(tolerance);
        if latest > origin.saturating_add(deadline) {
            out.push((GiveUpReason::Deadline, May::Possible));
        }
    }
    out
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
    if c.streamed() || !model::transient(outcome, claim) {
        return None;
    }
    let least = model::next_wait_bounds(c, claim, model::waited_retry_after(outcome, claim)).0;
    // A wait that may be nothing reaches the gate in the failure's
    // instant; a longer one cannot end within the lag of it.
    let waited = ended.saturating_sub(*last_end);
    let lag = super::oracles::lag(context);
    if waited < least || (least > 0 && waited <= lag) {
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
    let mut top = left.saturating_add(shared.spread_ns);
    if shared.answered {
        // An answer's Retry-After is never longer than what set the pause.
        top = top.min(ask_of(c, claim, end, *ended).max(left));
    }
    let top = top.saturating_add(context.tolerance_ns);
    (*wait >= left.saturating_sub(context.tolerance_ns) && *wait <= top).then_some(reasons)
}

/// `c` as the oracles read it: under an answering throttle, its wrapper's
/// reports in the provider's numbers ([`renumbered`]), or, if they cannot
/// be, left as they are with what is wrong in
/// [`Call::misnumbered`](super::model::Call::misnumbered).
pub fn in_provider_numbers(c: Call, claim: &Claim, context: &Context) -> Call {
    let c = Call {
        holds: Some(holds(&c, claim, context)),
        ..c
    };
    match renumbered(&c, claim, context) {
        None => c,
        Some(Ok(call)) => call,
        Some(Err(fault)) => Call {
            misnumbered: Some(fault),
            ..c
        },
    }
}

/// Under an answering throttle, `c` with its wrapper's reports in the
/// provider's numbers: the wrapper numbers its held answers as attempts,
/// so its attempt `k` is the provider's `k` less the held answers before
/// it, and a give-up after answers held past the last attempt is read as
/// after that attempt (after attempt 0 with none, as a held-back call's).
/// `None` without an answering claim or reports (or when the reports
/// count other attempts than the provider saw: the reports' oracle says
/// so); what is wrong if the numbers skip other than held answers can.
pub fn renumbered(c: &Call, claim: &Claim, context: &Context) -> Option<Result<Call, String>> {
    answering(claim)?;
    let numbers: Vec<u32> = c.reported_attempts();
    if c.reported.is_empty() || numbers.len() != c.attempts.len() {
        return None;
    }
    let holds = holds(c, claim, context);
    for (k, (&number, held)) in numbers.iter().zip(&holds.before).enumerate() {
        let skipped = number.checked_sub(k as u32);
        if skipped.is_none_or(|s| s < held.least || s > held.most) {
            return Some(Err(format!(
                "reported attempt {number} where the provider saw attempt {k}: {} held attempts before it, where the trace allows {} to {}",
                i64::from(number) - k as i64,
                held.least,
                held.most
            )));
        }
    }
    let before = holds.before.last().copied().unwrap_or_default();
    let trailing = (
        holds.total.least.saturating_sub(before.least),
        holds.total.most.saturating_sub(before.most),
    );
    let last = c.attempts.last().map_or(0, |a| a.number);
    let provider = |n: u32| -> Option<u32> {
        let k = numbers.iter().position(|&r| r == n)?;
        c.attempts.get(k).map(|a| a.number)
    };
    let mut reported = Vec::with_capacity(c.reported.len());
    for (t, event) in &c.reported {
        let event = match *event {
            Reported::Attempt { attempt } => Reported::Attempt {
                attempt: provider(attempt).unwrap_or(attempt),
            },
            Reported::Delay {
                attempt,
                delay_ns,
                retry_after,
            } => {
                let Some(k) = provider(attempt) else {
                    return Some(Err(format!(
                        "reported a delay after attempt {attempt}, which the provider never saw"
                    )));
                };
                Reported::Delay {
                    attempt: k,
                    delay_ns,
                    retry_after,
                }
            }
            Reported::GaveUp { attempt, reason } => {
                let at = match (provider(attempt), numbers.last()) {
                    (Some(k), _) => k,
                    // After `h` held answers past the last attempt, or
                    // past the start with none.
                    (None, last_number) => {
                        let h = match last_number {
                            Some(&n) => attempt.checked_sub(n),
                            None => attempt.checked_add(1),
                        };
                        if h.is_none_or(|h| h < trailing.0.max(1) || h > trailing.1) {
                            return Some(Err(format!(
                                "reported giving up after attempt {attempt}, though the trace allows {} to {} held attempts after the last it reported",
                                trailing.0, trailing.1
                            )));
                        }
                        last
                    }
                };
                Reported::GaveUp {
                    attempt: at,
                    reason,
                }
            }
        };
        reported.push((*t, event));
    }
    Some(Ok(Call {
        reported,
        ..c.clone()
    }))
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
            let bounds = match k {
                0 => c.started.map(|s| (s.0, s.0)),
                _ => unpaused(c, claim, k),
            };
            let Some((earliest, latest)) = bounds else {
                continue;
            };
            // An answered hold's wake is clipped to what set the pause:
            // only one that reached its gate at least a spread after that
            // came back uniformly over the spread.
            let clipped = shared.answered
                && earliest < first_set(c, claim, end).saturating_add(shared.spread_ns);
            if latest.saturating_add(tolerance) < end && window.contains(&a.start) && !clipped {
                out.push(a.start - end);
            }
        }
    }
    out.sort_unstable();
    out
}

/// When the pause ending at `end` was first set: the earliest answer
/// whose pause ends there.
fn first_set(c: &Call, claim: &Claim, end: u64) -> u64 {
    pauses(c, claim)
        .filter(|(_, e)| *e == end)
        .map(|(a, _)| a.at)
        .min()
        .unwrap_or(end)
}

/// The earliest and latest retry `k` of `c` could have started with no
/// pause: its previous attempt's end plus that Retry-After, or the bottom
/// and top of the backoff envelope.
fn unpaused(c: &Call, claim: &Claim, k: usize) -> Option<(u64, u64)> {
    let before = c.attempts.get(k - 1)?;
    let (end, _) = before.end.as_ref()?;
    let waits = c.waits(claim);
    let envelopes = model::envelopes(&waits, claim, |_| None);
    let (w, envelope) = envelopes.iter().find(|(w, _)| w.after == before.number)?;
    let (least, top) = match (w.retry_after_ns, envelope) {
        (Some(ra), _) => (ra, ra.saturating_add(claim.retry_after_jitter_ns)),
        (None, Some(e)) => (e.lo, e.hi),
        (None, None) => return None,
    };
    Some((end.saturating_add(least), end.saturating_add(top)))
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
