//! A claim's upstreams as one group: any deployment may serve any attempt,
//! and an upstream that answered 429 cools down.
//!
//! Under [`UpstreamOrder::Any`] a call is judged whole
//! ([`Call::parts_for`]): its attempts, waits and deadline count across the
//! group, whichever upstream served each. Under a claimed
//! cooldown `C` ([`Claim::cooldown_ns`]), a 429 that upstream `u` answered
//! at `t`, to any call of the run, cools `u` until `t + C`. The claim then
//! promises exactly two things:
//!
//! - no attempt reaches a cooling upstream while another upstream of the
//!   group is not cooling ([`cooldown_kept`]);
//! - a call whose retries are not spent may end with its last failure when
//!   every upstream of the group is cooling, either at once or after the
//!   wait that would have preceded its next attempt ([`gave_up_cooling`]:
//!   the client found no deployment left).
//!
//! An attempt at a cooling upstream when every one is cooling is allowed
//! (none other is left). A Retry-After cools the upstream that sent it:
//! a retry sent to another upstream, not cooling, need not wait it out
//! ([`left_at_once`]); what that upstream asked of every caller is
//! `retry_after_shared`'s to judge. Cooldowns are counted from the server's answer;
//! a client starts its own when it reads that answer, a little later, so
//! every test of "cooling" here allows the context's tolerance past `C`.

use super::Context;
use super::claim::{Claim, UpstreamOrder};
use super::model::{self, Call, Wait};
use super::verdict::Verdict;
use crate::duration::human;
use crate::trace::CallOutcome;

/// The oracle's name: [`cooldown_kept`].
pub const COOLDOWN_KEPT: &str = "cooldown_kept";

/// The 429 that has `upstream` cooling at `at` (answered before `at`, or
/// at it when `at_too`; cooling until its answer plus the cooldown plus
/// `slack`), the latest if several.
fn cooled_by<'a>(
    c: &'a Call,
    claim: &Claim,
    upstream: u32,
    at: u64,
    at_too: bool,
    slack: u64,
) -> Option<&'a model::Answered> {
    let cooldown = claim.cooldown_ns?;
    c.run_retry_afters
        .iter()
        .filter(|a| a.status == 429 && a.upstream == upstream)
        .filter(|a| a.at < at || (at_too && a.at == at))
        .filter(|a| at < a.at.saturating_add(cooldown).saturating_add(slack))
        .max_by_key(|a| a.at)
}

/// Whether every upstream of the group is cooling at `at` (answers at `at`
/// included), allowing `slack` past each cooldown.
fn all_cooling(c: &Call, claim: &Claim, at: u64, slack: u64) -> bool {
    claim.cooldown_ns.is_some()
        && (0..claim.upstreams.max(1)).all(|u| cooled_by(c, claim, u, at, true, slack).is_some())
}

/// Whether the retry after `w` went to an upstream other than the one
/// that answered the attempt before it, and not cooling when it started,
/// under a group with a cooldown: the 429 cooled its own upstream, and a
/// healthy one is left, so the call may move on at once (LiteLLM's Router:
/// no sleep while another deployment is healthy).
pub fn left_at_once(c: &Call, claim: &Claim, w: &Wait) -> bool {
    if claim.upstream_order != UpstreamOrder::Any || claim.cooldown_ns.is_none() {
        return false;
    }
    let at = |n: u32| c.attempts.iter().find(|a| a.number == n);
    let (Some(before), Some(next)) = (at(w.after), at(w.after.saturating_add(1))) else {
        return false;
    };
    // Strict: a cooldown the model has still running is not free.
    next.upstream != before.upstream
        && cooled_by(c, claim, next.upstream, next.start, false, 0).is_none()
}

/// Whether every upstream was cooling when the failed call `c` ended, or
/// when its last attempt did: its group had no deployment left.
pub fn all_cooling_at_end(c: &Call, claim: &Claim, context: &Context) -> bool {
    let Some((ended, CallOutcome::Failed(_))) = &c.ended else {
        return false;
    };
    let last_end = c.attempts.last().and_then(|a| a.end.as_ref()).map(|e| e.0);
    let slack = context.tolerance_ns;
    all_cooling(c, claim, *ended, slack)
        || last_end.is_some_and(|t| all_cooling(c, claim, t, slack))
}

/// A failed call that gave up with retries left because every upstream of
/// its group was cooling, at its end, no later than the longest wait that
/// would have preceded its next attempt.
pub fn gave_up_cooling(c: &Call, claim: &Claim, context: &Context) -> bool {
    let Some((ended, CallOutcome::Failed(_))) = &c.ended else {
        return false;
    };
    let Some((last_end, outcome)) = c.attempts.last().and_then(|a| a.end.as_ref()) else {
        return false;
    };
    if c.streamed() || !model::transient(outcome, claim) {
        return false;
    }
    if !all_cooling(c, claim, *ended, context.tolerance_ns) {
        return false;
    }
    let ra = model::waited_retry_after(outcome, claim);
    let (_, most) = model::next_wait_bounds(c, claim, ra);
    ended.saturating_sub(*last_end) <= most.saturating_add(context.tolerance_ns)
}

/// No attempt reaches an upstream while a 429 it answered (to any call)
/// has it cooling, unless every upstream of the group is cooling then.
///
/// Judges every call, under a claim with a cooldown, with an attempt at an
/// upstream that had answered a 429 before it started: a run without a
/// 429 is not exercised, never held.
pub fn cooldown_kept(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let Some(cooldown) = claim.cooldown_ns else {
        return Verdict::NotJudged;
    };
    let mut judged = false;
    for a in &c.attempts {
        let answered_before = c
            .run_retry_afters
            .iter()
            .any(|r| r.status == 429 && r.upstream == a.upstream && r.at < a.start);
        if !answered_before {
            continue;
        }
        judged = true;
        // Strict here: a client's own cooldown ends later than the model's.
        let Some(by) = cooled_by(c, claim, a.upstream, a.start, false, 0) else {
            continue;
        };
        if all_cooling(c, claim, a.start, context.tolerance_ns) {
            continue;
        }
        let free: Vec<String> = (0..claim.upstreams.max(1))
            .filter(|&u| cooled_by(c, claim, u, a.start, true, context.tolerance_ns).is_none())
            .map(|u| u.to_string())
            .collect();
        return Verdict::Violated(format!(
            "attempt {} went to upstream {} at {}, cooling down for {} since its 429 to c{}#{} at {}, while upstream {} was not",
            a.number,
            a.upstream,
            human(a.start),
            human(cooldown),
            by.call.0,
            by.call.1,
            human(by.at),
            free.join(", ")
        ));
    }
    match judged {
        true => Verdict::Held,
        false => Verdict::NotJudged,
    }
}
