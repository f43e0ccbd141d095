//! Oracles on calls whose callers walked away: once the caller drops a
//! call, the wrapper's work for it stops at once (provider-retry's rule 9:
//! "dropping the call at any point stops all work; nothing is spawned").
//!
//! A wrapper that runs its retry loop in a task of its own (awaiting a
//! `JoinHandle`, which does not cancel the task when dropped) goes on
//! retrying for nobody; one that spawns each attempt keeps the attempt in
//! flight. Both spend the provider's capacity on answers nobody reads, and
//! no oracle of a call that ends can see it: only a call that is dropped
//! shows it.
//!
//! A dropped call is judged on its whole ([`WHOLE_CALL`](super::oracles::WHOLE_CALL)):
//! a drop stops the call whichever upstream it is at.

use super::claim::Claim;
use super::model::Call;
use super::{Context, Verdict};
use crate::duration::human;
use crate::trace::AttemptOutcome;

/// No attempt of a call starts after its caller dropped it (in trace
/// order, so an attempt the drop found just begun is no retry after it).
/// Judges every call its caller dropped.
pub fn no_attempt_after_drop(c: &Call, _: &Claim, _: &Context) -> Verdict {
    let Some(dropped) = c.dropped else {
        return Verdict::NotJudged;
    };
    let late = c.attempts.get(dropped.started..).and_then(|a| a.first());
    Verdict::judged(late.map(|late| {
        format!(
            "attempt {} started {} after the caller dropped the call (at {})",
            late.number,
            human(late.start.saturating_sub(dropped.at)),
            human(dropped.at),
        )
    }))
}

/// An attempt in flight when the caller dropped the call ends `dropped`
/// then: within the tolerance after the drop, and not answered later.
/// (An attempt that ended at the drop's very instant, whatever its
/// outcome, may have ended before the drop: it is not judged.) Judges a
/// dropped call with an attempt begun before the drop.
pub fn abandoned_on_drop(c: &Call, _: &Claim, context: &Context) -> Verdict {
    let Some(dropped) = c.dropped else {
        return Verdict::NotJudged;
    };
    let before = c.attempts.get(..dropped.started).unwrap_or_default();
    if before.is_empty() {
        return Verdict::NotJudged;
    }
    Verdict::judged(before.iter().find_map(|a| {
        let late = |t: u64| t.saturating_sub(dropped.at);
        match &a.end {
            Some((t, _)) if *t <= dropped.at => None,
            Some((t, AttemptOutcome::Dropped)) if late(*t) <= context.tolerance_ns => None,
            Some((t, outcome)) => Some(format!(
                "attempt {} was in flight when the caller dropped the call (at {}) and ended \
                 {} later ({})",
                a.number,
                human(dropped.at),
                human(late(*t)),
                ended_as(outcome),
            )),
            // Cut off with the trace: kept in flight for as long as the run
            // went on, which only a run that stopped at once excuses.
            None if late(context.trace_end_ns) <= context.tolerance_ns => None,
            None => Some(format!(
                "attempt {} was in flight when the caller dropped the call (at {}) and still \
                 was when the run stopped, {} later",
                a.number,
                human(dropped.at),
                human(late(context.trace_end_ns)),
            )),
        }
    }))
}

/// How an attempt ended, in words.
fn ended_as(outcome: &AttemptOutcome) -> String {
    match outcome {
        AttemptOutcome::Ok => "answered ok".into(),
        AttemptOutcome::Dropped => "dropped".into(),
        AttemptOutcome::Failed(f) => format!("failed: {f}"),
    }
}
