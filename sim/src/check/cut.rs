//! An oracle on attempts cut short: `attempt_within_timeout` bounds an
//! attempt from above; this bounds the wrapper's own abandonment of one
//! from below.
//!
//! A wrapper that starts its attempt timer once per call instead of once
//! per attempt leaves each retry only what the first attempts left over,
//! and cuts it before its timeout; the calls it loses show only as a lower
//! success rate, which no scenario's expectation pins that finely. Timers
//! never fire early, so no tolerance is given below the bound (from the
//! wire, the lag by which a real client's timer starts before the server
//! sees its request).
//!
//! Not every attempt that ends `dropped` early was cut by its wrapper, and
//! none of these is judged:
//! - one the caller's drop of the call ended (see [`super::abandon`]);
//! - one a gateway left to fall back to its next upstream (a deployment is
//!   left whole: see [`Call::parts`](super::model::Call::parts));
//! - one of a method the claim does not time, or under a claim with no
//!   timeout: no bound applies to it;
//! - one the call neither went on from nor ended with a timeout for (cut
//!   off with the run, or dropped as a panic unwound).
//!
//! A retry deadline never cuts an attempt short: provider-retry's
//! deadline bounds only the waits (rule 6, "no wait begins whose end would
//! pass `retry_deadline`"), crabllm's gateway's too, and no [`Claim`]
//! field says otherwise. A wrapper whose deadline cuts attempts breaks its
//! claim's per-attempt timeout.

use super::claim::Claim;
use super::model::Call;
use super::oracles::lag;
use super::{Context, Verdict};
use crate::duration::human;
use crate::trace::{AttemptOutcome, CallOutcome, Failure};

/// No attempt of a timed method is abandoned by its wrapper before the
/// timeout: an attempt that ends `dropped` while the call goes on (another
/// attempt follows), or just before the call fails with a timeout, lasted
/// at least the timeout. Judges a call with such an attempt.
pub fn attempt_not_cut_early(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let (Some(timeout), Some(method)) = (claim.timeout_ns, c.method()) else {
        return Verdict::NotJudged;
    };
    if !claim.timed.contains(&method) {
        return Verdict::NotJudged;
    }
    let timed_out = matches!(c.ended, Some((_, CallOutcome::Failed(Failure::Timeout))));
    // Every attempt its wrapper abandoned: `(number, how long it took)`.
    let abandoned: Vec<(u32, u64)> = c
        .attempts
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            let Some((end, AttemptOutcome::Dropped)) = &a.end else {
                return None;
            };
            let next = c.attempts.get(i + 1);
            let by_caller = c.dropped.is_some_and(|d| *end >= d.at);
            let fell_back = next.is_some_and(|n| n.upstream != a.upstream);
            let went_on = next.is_some() || timed_out;
            (went_on && !by_caller && !fell_back).then(|| (a.number, end.saturating_sub(a.start)))
        })
        .collect();
    if abandoned.is_empty() {
        return Verdict::NotJudged;
    }
    Verdict::judged(
        abandoned
            .into_iter()
            .find(|&(_, took)| took.saturating_add(lag(context)) < timeout)
            .map(|(number, took)| {
                format!(
                    "attempt {number} was abandoned after {}, before its timeout of {}",
                    human(took),
                    human(timeout)
                )
            }),
    )
}
