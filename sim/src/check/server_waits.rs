//! The server's side of Retry-After: what a server asked of every caller.
//!
//! A server that answers a Retry-After asks its caller, not one call, to
//! wait: a client that promises so ([`Claim::server_waits`], promised under
//! a shared throttle) sends nothing to that server until the wait has
//! passed, whichever call or deployment name the next attempt comes under.
//! A server is told apart by its address (the upstream a request reached,
//! [`crate::wire::address`]), not by a gateway's name for it, so two
//! deployments of one server share what it asked.
//!
//! Only what the claim can wait is asked: a Retry-After is counted up to
//! the shared throttle's longest pause when the claim has one, else up to
//! the longest Retry-After the claim waits ([`Claim::retry_after_max`]; a
//! claim that ignores Retry-After is asked nothing). As with the throttle,
//! only a transient failure of a method the claim retries asks.

use super::Context;
use super::claim::Claim;
use super::model::{Answered, Call};
use super::verdict::Verdict;
use crate::duration::human;

/// The oracle's name: [`retry_after_shared`].
pub const RETRY_AFTER_SHARED: &str = "retry_after_shared";

/// What each server asked: every answer of the run that carried a
/// Retry-After the claim makes every caller wait, with the end of that
/// wait. None unless the claim promises [`Claim::server_waits`].
pub fn asked<'a>(c: &'a Call, claim: &'a Claim) -> impl Iterator<Item = (&'a Answered, u64)> + 'a {
    let promised = claim.server_waits();
    let longest = claim
        .shared_pause
        .map_or_else(|| claim.retry_after_max(), |s| s.max_pause_ns);
    c.run_retry_afters.iter().filter_map(move |a| {
        let retry_after = a.retry_after_ns.filter(|_| promised)?;
        let retried = a.method.is_some_and(|m| claim.retried.contains(&m));
        let transient = claim.retryable.statuses.contains(&a.status);
        (retried && transient).then(|| (a, a.at.saturating_add(retry_after.min(longest))))
    })
}

/// No attempt reaches a server before a Retry-After that server sent (to
/// any call, under any deployment name) has passed.
///
/// Judges every call of a retried method, under a claim that promises
/// it, with an attempt that reached a server after that server had sent
/// such a Retry-After: a run in which no server asked anything is not
/// exercised, never held.
pub fn retry_after_shared(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    let retried = c.method().is_some_and(|m| claim.retried.contains(&m));
    if !claim.server_waits() || !retried {
        return Verdict::NotJudged;
    }
    let mut judged = false;
    for attempt in &c.attempts {
        // What this attempt's server had asked before it arrived.
        let before =
            asked(c, claim).filter(|(a, _)| a.upstream == attempt.upstream && a.at < attempt.start);
        let mut pending = None;
        for (a, end) in before {
            judged = true;
            if end > attempt.start && pending.is_none_or(|(e, _)| end > e) {
                pending = Some((end, a));
            }
        }
        if let Some((end, by)) = pending {
            return Verdict::Violated(format!(
                "attempt {} reached upstream {} at {}, before {}, when the {} with Retry-After {} it sent c{}#{} at {} had passed",
                attempt.number,
                attempt.upstream,
                human(attempt.start),
                human(end),
                by.status,
                human(by.retry_after_ns.unwrap_or(0)),
                by.call.0,
                by.call.1,
                human(by.at)
            ));
        }
    }
    match judged {
        true => Verdict::Held,
        false => Verdict::NotJudged,
    }
}
