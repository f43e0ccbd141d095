//! Named per-call oracles: each reads one call's facts and the claim, and
//! says whether the call held anything it judges ([`Verdict::NotJudged`]
//! if not), and if so what is wrong, if anything.
//!
//! Waits are measured from outside (an attempt's end to the next one's
//! start), so they may end up to [`Context::tolerance_ns`] after the drawn
//! delay: one [`TICK_NS`] in the simulator, the scheduling noise of a real
//! client and socket when judged from the wire.

use super::Context;
use super::claim::{Claim, RetryAfterRule, UpstreamOrder, nanos};
use super::model::{self, Attempt, Call, May, TICK_NS, Wait, endings, envelopes, transient};
use super::throttle;
use super::verdict::Verdict;
use crate::duration::human;
use crate::trace::{AttemptOutcome, CallOutcome, Failure, Reported, compat_names};

/// One oracle: a call's facts, the claim and the context in; out, whether
/// the call holds anything it judges ([`Verdict::NotJudged`] if not), and
/// if it does, [`Verdict::Held`] or what is wrong.
pub type Oracle = fn(&Call, &Claim, &Context) -> Verdict;

/// Every oracle judging a call (or a gateway's deployment's part of one)
/// with its name, in the order reports list them.
pub const PER_CALL: [(&str, Oracle); 17] = [
    ("calls_end", calls_end),
    ("no_panic", no_panic),
    ("forwarding", forwarding),
    ("capabilities", capabilities),
    ("attempts_bounded", attempts_bounded),
    ("not_retried_once", not_retried_once),
    ("non_transient_once", non_transient_once),
    ("transient_retried", transient_retried),
    ("delay_within_envelope", delay_within_envelope),
    ("retry_after_honoured", retry_after_honoured),
    ("no_sleep_after_final", no_sleep_after_final),
    ("deadline_respected", deadline_respected),
    ("attempt_within_timeout", attempt_within_timeout),
    ("stream_integrity", stream_integrity),
    ("stream_idle_bounded", stream_idle_bounded),
    ("stream_cut_at_bound", stream_cut_at_bound),
    ("reported_agrees", reported_agrees),
];

/// Oracles on a whole call across its upstreams (see [`Call::parts`]: the
/// per-call oracles judge each part), in the order reports list them.
pub const WHOLE_CALL: [(&str, Oracle); 10] = [
    ("liveness_after_heal", liveness_after_heal),
    ("fallback_in_order", fallback_in_order),
    ("fallback_taken", fallback_taken),
    (
        super::upstreams::COOLDOWN_KEPT,
        super::upstreams::cooldown_kept,
    ),
    (
        "first_attempt_at_once",
        super::sharing::first_attempt_at_once,
    ),
    (
        super::request::REQUEST_UNCHANGED,
        super::request::request_unchanged,
    ),
    // Callers that walk away, and attempts cut short: their own files.
    (
        "no_attempt_after_drop",
        super::abandon::no_attempt_after_drop,
    ),
    ("abandoned_on_drop", super::abandon::abandoned_on_drop),
    ("attempt_not_cut_early", super::cut::attempt_not_cut_early),
    // The server's side of Retry-After: its own file.
    (
        super::server_waits::RETRY_AFTER_SHARED,
        super::server_waits::retry_after_shared,
    ),
];

/// A call tries upstreams in the claim's order: the first, then each next
/// one once, never going back, skipping none, and none past the claim's
/// count. That a deployment is left only when its claim lets the call end
/// there is its part's `transient_retried` (and `non_transient_once`,
/// `deadline_respected`); with its part's `attempts_bounded`, no call
/// makes more attempts than its upstreams allow together.
///
/// Judges every call with attempts, but one that stayed on the only
/// upstream of a claim of one (it has no order to keep).
///
/// Under a group tried in any order ([`UpstreamOrder::Any`]) there is no
/// order to keep: every attempt goes to one of the group's upstreams.
fn fallback_in_order(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    let beyond_first = c.attempts.iter().any(|a| a.upstream > 0);
    if c.attempts.is_empty() || (claim.upstreams == 1 && !beyond_first) {
        return Verdict::NotJudged;
    }
    if claim.upstream_order == UpstreamOrder::Any {
        let outside = c.attempts.iter().find(|a| a.upstream >= claim.upstreams);
        return Verdict::judged(outside.map(|a| {
            format!(
                "attempt {} went to upstream {}; the claim's group is upstreams 0 to {}",
                a.number,
                a.upstream,
                claim.upstreams.saturating_sub(1)
            )
        }));
    }
    let order: Vec<u32> = c
        .parts()
        .iter()
        .filter_map(|p| p.attempts.first())
        .map(|a| a.upstream)
        .collect();
    let in_order = order.iter().copied().eq(0..order.len() as u32);
    Verdict::judged(
        (!in_order || order.len() > claim.upstreams as usize).then(|| {
            format!(
                "tried upstreams in the order {}; the claim's order is 0 to {}, once each",
                list(&order),
                claim.upstreams.saturating_sub(1)
            )
        }),
    )
}

/// A call of a retried method whose deployment gave up after a transient
/// failure falls back to the next upstream while the claim has one left:
/// the gateway returns a transient failure only from its last deployment.
/// (A failure that is not transient, or a stream handed over, may be
/// returned from any; which deployment may give up when is its part's
/// `transient_retried`.)
///
/// Judges such a call under a claim of several upstreams in order (a
/// group tried in any order counts its retries together: when it may give
/// up is its `transient_retried`).
fn fallback_taken(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    if claim.upstream_order == UpstreamOrder::Any {
        return Verdict::NotJudged;
    }
    let Some((_, CallOutcome::Failed(_))) = &c.ended else {
        return Verdict::NotJudged;
    };
    let (Some(method), Some(last)) = (c.method(), c.attempts.last()) else {
        return Verdict::NotJudged;
    };
    let Some((_, outcome)) = last.end.as_ref() else {
        return Verdict::NotJudged;
    };
    if !claim.retried.contains(&method)
        || c.streamed()
        || !transient(outcome, claim)
        || claim.upstreams <= 1
    {
        return Verdict::NotJudged;
    }
    // Returned from the upstream last tried: whether the call got there in
    // order is `fallback_in_order`'s to judge.
    let at = last.upstream;
    Verdict::judged((at.saturating_add(1) < claim.upstreams).then(|| {
        format!(
            "failed transiently at upstream {at} of {} (its last attempt {outcome}), those after it untried",
            claim.upstreams
        )
    }))
}

/// A call that started never ended (cut off at the simulation horizon).
///
/// Unless the claim lets it wait forever: an attempt of a method the claim
/// does not time (or with no timeout at all) that never answered, or a
/// handed-over stream with no idle bound that went silent.
///
/// Judges every call that started; a call its caller dropped has ended
/// for the caller.
fn calls_end(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    if c.started.is_none() {
        return Verdict::NotJudged;
    }
    if c.ended.is_some() || c.dropped.is_some() {
        return Verdict::Held;
    }
    let method = c.started.map(|(_, m, _, _)| m);
    let untimed = claim.timeout_ns.is_none() || method.is_none_or(|m| !claim.timed.contains(&m));
    let open_attempt = c.attempts.last().is_some_and(|a| a.end.is_none());
    let handed_over = c
        .attempts
        .last()
        .is_some_and(|a| matches!(a.end, Some((_, crate::trace::AttemptOutcome::Ok))))
        && method.is_some_and(|m| m.is_stream());
    // Silent while waiting for its first item, or for a later one.
    let bound = match c.received_at.is_empty() {
        true => claim.first_chunk_ns,
        false => claim.stream_idle_ns,
    };
    let unbounded_stream =
        handed_over && (bound.is_none() || method.is_none_or(|m| !claim.timed.contains(&m)));
    // An open attempt still inside its timeout when the trace stopped.
    let within = c.attempts.last().is_some_and(|a| {
        let elapsed = context.trace_end_ns.saturating_sub(a.start);
        elapsed
            <= claim
                .timeout_ns
                .unwrap_or(u64::MAX)
                .saturating_add(context.tolerance_ns)
    });
    let may_wait =
        (open_attempt && (untimed || within)) || unbounded_stream || waiting(c, claim, context);
    Verdict::judged(
        (!may_wait).then(|| "the call never ended (cut off at the simulation horizon)".into()),
    )
}

/// The call was cut off during a wait the claim allows to last past the
/// end of the trace (a long schedule with no cap, or a long Retry-After).
fn waiting(c: &Call, claim: &Claim, context: &Context) -> bool {
    // Held by a claimed shared throttle's pause when the trace stopped.
    if throttle::held_at(c, claim, context, context.trace_end_ns) {
        return true;
    }
    let Some(Attempt {
        number,
        end: Some((ended, outcome)),
        ..
    }) = c.attempts.last()
    else {
        return false;
    };
    if !model::transient(outcome, claim) || c.attempts.len() as u64 >= claim.max_attempts {
        return false;
    }
    let ra = model::waited_retry_after(outcome, claim);
    if ra
        .zip(model::refused_above(claim))
        .is_some_and(|(ra, max)| ra > max)
    {
        // A Retry-After the claim refuses ends the call at once: no wait.
        return false;
    }
    let longest = match ra {
        Some(ra) => ra.saturating_add(claim.retry_after_jitter_ns),
        None => {
            let held = throttle::holds(c, claim, context).before.last().copied();
            let item = number.saturating_add(held.unwrap_or_default().most);
            model::envelope(&claim.backoff, item, None).hi
        }
    };
    context.trace_end_ns.saturating_sub(*ended) <= longest.saturating_add(context.tolerance_ns)
}

/// The wrapper panicked. Judges every call that ended.
fn no_panic(c: &Call, _: &Claim, _: &Context) -> Verdict {
    match &c.ended {
        Some((_, CallOutcome::Panicked { message })) => {
            Verdict::Violated(format!("panicked: {message}"))
        }
        Some(_) => Verdict::Held,
        None => Verdict::NotJudged,
    }
}

/// Every method is implemented by the provider below: the wrapper must
/// reach it and never answer `Unsupported` itself. Judges every call that
/// ended. Under a claimed shared throttle a call may end before reaching
/// the provider with exactly the held-back answer its claim describes
/// ([`throttle::held_back`]).
fn forwarding(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    // Held back by a claimed shared throttle: the one answer that never
    // reached the provider.
    if throttle::held_back(c, claim, context).is_some() {
        return Verdict::Held;
    }
    match &c.ended {
        Some((_, CallOutcome::Failed(Failure::Unsupported))) => Verdict::Violated(format!(
            "ended as unsupported after {} attempts, though the provider implements the method",
            c.attempts.len()
        )),
        Some((_, CallOutcome::Failed(f))) if c.attempts.is_empty() => {
            Verdict::Violated(format!("ended {f} without reaching the provider"))
        }
        Some(_) => Verdict::Held,
        None => Verdict::NotJudged,
    }
}

/// The wrapper answers the provider's `is_*_compat` flags. Judges every
/// call that started.
fn capabilities(c: &Call, _: &Claim, _: &Context) -> Verdict {
    let Some((_, _, compat, inner)) = c.started else {
        return Verdict::NotJudged;
    };
    Verdict::judged((compat != inner).then(|| {
        format!(
            "the wrapper answers compatible with {}, the provider with {}",
            compat_names(compat),
            compat_names(inner)
        )
    }))
}

/// No call makes more attempts than the claim allows. Judges every call
/// that made an attempt. Under an answering throttle, the held answers the
/// trace makes certain ([`throttle::holds`]) count as attempts too.
fn attempts_bounded(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let n = c.attempts.len() as u64;
    if n == 0 {
        return Verdict::NotJudged;
    }
    let held = u64::from(throttle::holds(c, claim, context).total.least);
    Verdict::judged((n.saturating_add(held) > claim.max_attempts).then(|| {
        let answered = match held {
            0 => String::new(),
            h => format!(" (and {h} held attempts its throttle answered)"),
        };
        format!(
            "{n} attempts{answered}, at most {} allowed",
            claim.max_attempts
        )
    }))
}

/// A method the claim does not retry is attempted exactly once. Judges
/// every call of such a method that made an attempt.
fn not_retried_once(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    let Some(method) = c.method() else {
        return Verdict::NotJudged;
    };
    let n = c.attempts.len();
    if claim.retried.contains(&method) || n == 0 {
        return Verdict::NotJudged;
    }
    Verdict::judged((n > 1).then(|| format!("{method} is not retried, yet had {n} attempts")))
}

/// No attempt follows one that failed for good. Judges every call with an
/// attempt that failed other than transiently: under a claim that honours
/// `x-should-retry`, an answer carrying `false` is such a failure whatever
/// its status ([`model::transient_failure`]); ignored, the header changes
/// nothing.
fn non_transient_once(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    let Some(at) = c.attempts.iter().position(|a| match &a.end {
        Some((_, o @ AttemptOutcome::Failed(_))) => !transient(o, claim),
        _ => false,
    }) else {
        return Verdict::NotJudged;
    };
    let Some(next) = c.attempts.get(at + 1) else {
        return Verdict::Held;
    };
    let failed = c.attempts[at].end.as_ref().map(|e| &e.1);
    Verdict::Violated(format!(
        "attempt {} followed attempt {}, which {} (not transient)",
        next.number,
        c.attempts[at].number,
        failed.map_or_else(|| "failed".to_string(), ToString::to_string)
    ))
}

/// A failed call whose last attempt failed transiently stopped only for a
/// reason the claim permits. Judges every such call (a handed-over
/// stream's failure is not a give-up): under a claim that honours
/// `x-should-retry`, an answer carrying `true` is transient whatever its
/// status, and `false` never is ([`model::transient_failure`]).
fn transient_retried(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    let Some((_, CallOutcome::Failed(_))) = &c.ended else {
        return Verdict::NotJudged;
    };
    let Some((_, outcome)) = c.attempts.last().and_then(|a| a.end.as_ref()) else {
        return Verdict::NotJudged;
    };
    if c.streamed() || !transient(outcome, claim) {
        return Verdict::NotJudged;
    }
    Verdict::judged(endings(c, claim).is_empty().then(|| {
        format!(
            "the call ended after attempt {} {outcome} (transient), with retries left",
            c.attempts.len() - 1
        )
    }))
}

/// Every backoff falls inside its envelope. Judges every call with a wait
/// the claim gives an envelope (a Retry-After wait has none). Under a
/// claimed shared throttle a wait may run past the envelope to a pause's
/// wake-up ([`throttle::woke`]).
fn delay_within_envelope(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let judged: Vec<_> = envelopes(&c.waits(claim), claim, |_| None)
        .into_iter()
        .filter_map(|(w, e)| Some((w, e?)))
        .collect();
    if judged.is_empty() {
        return Verdict::NotJudged;
    }
    Verdict::judged(judged.into_iter().find_map(|(w, e)| {
        let late = w.gap_ns > e.hi.saturating_add(context.tolerance_ns)
            && !woke_after(c, claim, context, &w, e.lo);
        (w.gap_ns < e.lo || late).then(|| {
            format!(
                "backoff after attempt {} was {}, {} its envelope [{}, {}]",
                w.after,
                human(w.gap_ns),
                off_by(w.gap_ns, e.lo, e.hi),
                human(e.lo),
                human(e.hi)
            )
        })
    }))
}

/// A transient failure's Retry-After is waited exactly when within the
/// claim's maximum; a longer one is never waited. Judges every call with
/// a wait after a Retry-After the claim honours. In a group with a
/// cooldown, a retry sent at once to another upstream, not cooling, has
/// not waited too little (`upstreams::left_at_once`).
fn retry_after_honoured(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let waits: Vec<_> = c
        .waits(claim)
        .into_iter()
        .filter_map(|w| Some((w, w.retry_after_ns?)))
        .collect();
    if claim.retry_after == RetryAfterRule::Ignored || waits.is_empty() {
        return Verdict::NotJudged;
    }
    Verdict::judged(retry_after_waited(c, &waits, claim, context))
}

/// Whether wait `w` of `c`, which could have ended no earlier than
/// `least` after its attempt, ended at a pause's wake-up.
fn woke_after(c: &Call, claim: &Claim, context: &Context, w: &Wait, least: u64) -> bool {
    let ended = c.attempts.iter().find(|a| a.number == w.after);
    let Some(end) = ended.and_then(|a| a.end.as_ref()).map(|e| e.0) else {
        return false;
    };
    let start = end.saturating_add(w.gap_ns);
    throttle::woke(c, claim, context, end.saturating_add(least), start)
}

/// What is wrong with `waits`, each after a Retry-After.
fn retry_after_waited(
    c: &Call,
    waits: &[(Wait, u64)],
    claim: &Claim,
    context: &Context,
) -> Option<String> {
    let refused = model::refused_above(claim);
    for &(w, ra) in waits {
        if let Some(max_ns) = refused.filter(|&max| ra > max) {
            return Some(format!(
                "Retry-After {} after attempt {} was waited, though over the maximum {}",
                human(ra),
                w.after,
                human(max_ns)
            ));
        }
        // A claimed jitter may lengthen it, never shorten it.
        let most = ra.saturating_add(claim.retry_after_jitter_ns);
        let late = w.gap_ns > most.saturating_add(context.tolerance_ns)
            && !woke_after(c, claim, context, &w, ra);
        let short = w.gap_ns < ra && !super::upstreams::left_at_once(c, claim, &w);
        if short || late {
            let (asked, allowed) = match claim.retry_after_jitter_ns {
                0 => (human(ra), "it".to_string()),
                j => (
                    format!("{} (plus up to {} of jitter)", human(ra), human(j)),
                    format!("[{}, {}]", human(ra), human(most)),
                ),
            };
            return Some(format!(
                "Retry-After {asked} after attempt {} was followed by a {} wait ({} {allowed})",
                w.after,
                human(w.gap_ns),
                off_by(w.gap_ns, ra, most)
            ));
        }
    }
    None
}

/// A failed call (not a failed handed-over stream) ends when its last
/// attempt does, and no delay is reported after it. Judges every failed
/// call that made an attempt. Under a claimed shared throttle, a call
/// whose retry a pause refused after its wait ([`throttle::refused_retry`])
/// ends then, having reported that wait.
fn no_sleep_after_final(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let (Some((ended, CallOutcome::Failed(_))), Some(last)) = (&c.ended, c.attempts.last()) else {
        return Verdict::NotJudged;
    };
    // Its claimed shared throttle refused the retry after the wait: the
    // wait was for a retry, not after the final attempt.
    if throttle::refused_retry(c, claim, context).is_some() {
        return Verdict::Held;
    }
    // Every upstream of its group cooling down when it decided, after the
    // wait, that no deployment was left.
    if super::upstreams::gave_up_cooling(c, claim, context) {
        return Verdict::Held;
    }
    // Its retry answered at the gate in the provider's stead: the wait
    // was before that answer, its final attempt, which no provider saw.
    if throttle::ended_at_gate(c, claim, context) {
        return Verdict::Held;
    }
    let reported = c
        .reported
        .iter()
        .find(|(_, e)| matches!(e, Reported::Delay { attempt, .. } if *attempt >= last.number));
    if let Some((_, e)) = reported {
        return Verdict::Violated(format!("reported a delay after the final attempt ({e})"));
    }
    let Some((last_end, _)) = last.end.as_ref() else {
        return Verdict::Held;
    };
    Verdict::judged(
        (!c.streamed() && ended.saturating_sub(*last_end) > lag(context)).then(|| {
            format!(
                "the call failed {} after its last attempt ended",
                human(ended - last_end)
            )
        }),
    )
}

/// How much later the caller may see what the provider saw: the part of
/// the tolerance beyond one timer tick (none in the simulator, where both
/// are stamped on one clock in one process; a real client's receive, parse
/// and report when judged from the wire).
pub(super) fn lag(context: &Context) -> u64 {
    context.tolerance_ns.saturating_sub(TICK_NS)
}

/// No wait ends later than the deadline after the first attempt began.
/// Judges every call with a wait under a claim with a deadline.
fn deadline_respected(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let waits = c.waits(claim);
    let Some(deadline) = claim.deadline_ns.filter(|_| !waits.is_empty()) else {
        return Verdict::NotJudged;
    };
    // Under a shared pause, counted from the call's start (a paused
    // first attempt began later).
    let first = c.first_start().unwrap_or(0);
    let early = first.saturating_sub(throttle::deadline_origin(c, claim).unwrap_or(first));
    let since = match early {
        0 => "the first attempt began",
        _ => "the call began",
    };
    Verdict::judged(waits.into_iter().find_map(|w| {
        let end = w
            .from_first_ns
            .saturating_add(w.gap_ns)
            .saturating_add(early);
        (end > deadline.saturating_add(context.tolerance_ns)).then(|| {
            format!(
                "the wait after attempt {} ended {} after {since}, past the deadline of {}",
                w.after,
                human(end),
                human(deadline)
            )
        })
    }))
}

/// An attempt of a timed method lasts at most the timeout (plus a tick).
/// Judges every call of a method the claim times with an attempt that
/// ended (one still open when the trace stopped is `calls_end`'s).
fn attempt_within_timeout(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let timed = c.method().is_some_and(|m| claim.timed.contains(&m));
    let ended = c.attempts.iter().any(|a| a.end.is_some());
    let Some(timeout) = claim.timeout_ns.filter(|_| timed && ended) else {
        return Verdict::NotJudged;
    };
    Verdict::judged(c.attempts.iter().find_map(|a| {
        let took = a.end.as_ref()?.0.saturating_sub(a.start);
        (took > timeout.saturating_add(context.tolerance_ns)).then(|| {
            format!(
                "attempt {} took {}, past its timeout of {}",
                a.number,
                human(took),
                human(timeout)
            )
        })
    }))
}

/// Every received item is this call's, from one stream it opened, in
/// order with nothing lost, duplicated or spliced; a successful stream
/// call received the whole stream.
///
/// Judges every call that received an item, a stream call whose provider
/// sent one, and a unary call that ended ok (it must have received its
/// one answer); never a call its caller did not report.
fn stream_integrity(c: &Call, _: &Claim, _: &Context) -> Verdict {
    // What a caller that never reported received is unknown, not whole.
    if !c.caller_reported() {
        return Verdict::NotJudged;
    }
    let stream = c.method().map(|m| m.is_stream());
    let ok = matches!(c.ended, Some((_, CallOutcome::Ok)));
    let judged = !c.received.is_empty()
        || (stream == Some(true) && !c.sent.is_empty())
        || (stream == Some(false) && ok);
    match judged {
        true => Verdict::judged(stream_fault(c)),
        false => Verdict::NotJudged,
    }
}

/// What is wrong with what `c` received, if anything.
fn stream_fault(c: &Call) -> Option<String> {
    let mut stream = None;
    for (k, chunk) in c.received.iter().enumerate() {
        let Some(id) = chunk else {
            return Some(format!("item {k} carries no payload"));
        };
        if (id.client, id.call) != (c.client, c.call) {
            return Some(format!("item {k} is {id}, another call's"));
        }
        if *stream.get_or_insert(id.stream) != id.stream {
            return Some(format!("item {k} is {id}, spliced from another stream"));
        }
        if u64::from(id.index) != k as u64 {
            return Some(format!("item {k} is {id}: expected index {k}"));
        }
    }
    let method = c.method()?;
    if !method.is_stream() {
        let ok = matches!(c.ended, Some((_, CallOutcome::Ok)));
        return (ok && c.received.len() != 1)
            .then(|| format!("a unary call received {} items", c.received.len()));
    }
    let opened = stream.or_else(|| c.sent.last().map(|s| s.0))?;
    let sent: Vec<u32> = c
        .sent
        .iter()
        .filter(|s| s.0 == opened)
        .map(|s| s.1)
        .collect();
    if stream.is_some() && sent.is_empty() {
        return Some(format!(
            "received stream {opened}, which this call never opened"
        ));
    }
    if sent
        .iter()
        .enumerate()
        .any(|(k, &i)| u64::from(i) != k as u64)
    {
        return Some(format!(
            "stream {opened} was sent out of order: items {}",
            list(&sent)
        ));
    }
    if c.received.len() > sent.len() {
        return Some(format!(
            "received {} items of stream {opened}, {} sent",
            c.received.len(),
            sent.len()
        ));
    }
    let ok = matches!(c.ended, Some((_, CallOutcome::Ok)));
    (ok && c.received.len() != sent.len()).then(|| {
        format!(
            "ended ok with {} of the {} items of stream {opened}",
            c.received.len(),
            sent.len()
        )
    })
}

/// A handed-over stream of a timed method is never silent longer than its
/// bound (plus a tick): the first-chunk bound from the hand-over to the
/// first item, the idle bound between later ones; an item arrives, or the
/// stream fails.
///
/// Judges every handed-over stream with a silence its claim bounds: the
/// first item's (or the failure's) under a first-chunk bound, a later
/// one's under an idle bound, of a call its caller reported.
fn stream_idle_bounded(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    // Silences are measured between the items the caller reported.
    let Some(handed) = handed_over(c, claim).filter(|_| c.caller_reported()) else {
        return Verdict::NotJudged;
    };
    let timed_out = match (c.stream_failed, &c.ended) {
        (Some(true), Some((t, _))) => Some(*t),
        _ => None,
    };
    let times: Vec<u64> = std::iter::once(handed)
        .chain(c.received_at.iter().copied())
        .chain(timed_out)
        .collect();
    let bound = |gap: usize| match gap {
        0 => ("first-chunk", claim.first_chunk_ns),
        _ => ("idle", claim.stream_idle_ns),
    };
    let gaps = times.len().saturating_sub(1);
    if (0..gaps).all(|gap| bound(gap).1.is_none()) {
        return Verdict::NotJudged;
    }
    Verdict::judged(times.windows(2).enumerate().find_map(|(gap, pair)| {
        let (name, bound) = bound(gap);
        let (previous, silent) = (pair[0], pair[1].saturating_sub(pair[0]));
        let bound = bound.filter(|b| silent > b.saturating_add(context.tolerance_ns))?;
        Some(format!(
            "the stream was silent for {} from {} into the run, past its {name} bound of {}",
            human(silent),
            human(previous),
            human(bound)
        ))
    }))
}

/// When a stream of a method the claim times was handed over, if it was.
fn handed_over(c: &Call, claim: &Claim) -> Option<u64> {
    let method = c.method()?;
    if !method.is_stream() || !claim.timed.contains(&method) {
        return None;
    }
    match c.attempts.last()?.end.as_ref()? {
        (handed, AttemptOutcome::Ok) => Some(*handed),
        _ => None,
    }
}

/// A handed-over stream that a timeout ended was silent for the whole of
/// its bound: the first-chunk bound when no item had come, the idle bound
/// after one. Cut sooner (a reasoning model's silent first minutes cut by
/// the idle bound, say), it is a defect. Timers never fire early, so no
/// tolerance below the bound.
///
/// Judges every handed-over stream a timeout ended under a claim that
/// bounds the silence it ended in.
fn stream_cut_at_bound(c: &Call, claim: &Claim, _: &Context) -> Verdict {
    let (Some(handed), Some(true), Some((cut, _))) =
        (handed_over(c, claim), c.stream_failed, &c.ended)
    else {
        return Verdict::NotJudged;
    };
    let (since, name, bound) = match c.received_at.last() {
        None => (handed, "first-chunk", claim.first_chunk_ns),
        Some(&t) => (t, "idle", claim.stream_idle_ns),
    };
    let Some(bound) = bound else {
        return Verdict::NotJudged;
    };
    let silent = cut.saturating_sub(since);
    Verdict::judged((silent < bound).then(|| {
        format!(
            "a timeout cut the stream after {} of silence from {} into the run, \
             before its {name} bound of {}",
            human(silent),
            human(since),
            human(bound)
        )
    }))
}

/// What the wrapper reported agrees with the facts.
///
/// Judges every call with a report, and every call its caller reported
/// with attempts of a method a claim that reports retries (it must have
/// reported).
fn reported_agrees(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let retried = c.method().is_some_and(|m| claim.retried.contains(&m));
    // Only a caller in the same process records what its wrapper reported.
    let must_report = claim.reports && retried && !c.attempts.is_empty() && c.caller_reported();
    match !c.reported.is_empty() || must_report {
        true => Verdict::judged(report_fault(c, claim, context)),
        false => Verdict::NotJudged,
    }
}

/// What is wrong with what `c`'s wrapper reported, if anything.
fn report_fault(c: &Call, claim: &Claim, context: &Context) -> Option<String> {
    // Under an answering throttle the wrapper numbers its held answers
    // too: the judge read its reports in the provider's numbers, unless
    // they skipped other than held answers can.
    if let Some(fault) = &c.misnumbered {
        return Some(fault.clone());
    }
    if c.reported.is_empty() {
        // A subject that claims to report must, for the calls it retries:
        // a silent observer is a fault.
        let retried = c.method().is_some_and(|m| claim.retried.contains(&m));
        return (claim.reports && retried && !c.attempts.is_empty()).then(|| {
            format!(
                "reported nothing, though it claims to report and made {} attempts",
                c.attempts.len()
            )
        });
    }
    let reported: Vec<u32> = c.reported_attempts();
    let seen: Vec<u32> = c.attempts.iter().map(|a| a.number).collect();
    if reported != seen {
        return Some(format!(
            "reported attempts {}, the provider saw {}",
            list(&reported),
            list(&seen)
        ));
    }
    let last = seen.last().copied();
    if let Some(fault) = held_back_report(c, claim, context) {
        return fault;
    }
    if let Some(gave_up) = c.reported.iter().find_map(|(_, e)| match e {
        Reported::GaveUp { attempt, .. } => Some(*attempt),
        _ => None,
    }) && Some(gave_up) != last
    {
        return Some(match last {
            Some(last) => format!(
                "reported giving up after attempt {gave_up}, but the last attempt was {last}"
            ),
            None => format!("reported giving up after attempt {gave_up}, but made no attempt"),
        });
    }
    let waits = c.waits(claim);
    for (_, event) in &c.reported {
        match *event {
            Reported::Delay {
                attempt,
                delay_ns,
                retry_after,
            } => {
                let Some(w) = waits.iter().find(|w| w.after == attempt) else {
                    // The caller dropped the call during that wait, or a
                    // claimed shared throttle refused the retry after it,
                    // or answered it in the provider's stead: no retry
                    // reached the provider.
                    let refused = throttle::refused_retry(c, claim, context).is_some()
                        || throttle::ended_at_gate(c, claim, context);
                    if (c.dropped.is_some() || refused) && Some(attempt) == last {
                        continue;
                    }
                    return Some(format!(
                        "reported a delay after attempt {attempt}, but no retry followed"
                    ));
                };
                let late = w.gap_ns > delay_ns.saturating_add(context.tolerance_ns)
                    && !woke_after(c, claim, context, w, delay_ns);
                if w.gap_ns < delay_ns || late {
                    return Some(format!(
                        "reported a {} delay after attempt {attempt}, measured {}",
                        human(delay_ns),
                        human(w.gap_ns)
                    ));
                }
                if retry_after != w.retry_after_ns.is_some() {
                    return Some(format!(
                        "the delay after attempt {attempt} was reported as {}, but it {}",
                        match retry_after {
                            true => "a Retry-After wait",
                            false => "a backoff",
                        },
                        match w.retry_after_ns {
                            Some(_) => "followed a Retry-After",
                            None => "followed no Retry-After",
                        }
                    ));
                }
            }
            Reported::GaveUp { attempt, reason } => {
                let allowed = endings(c, claim);
                let first_certain = allowed.iter().find(|(_, m)| *m == May::Certain);
                let ok = match first_certain {
                    Some((r, _)) => *r == reason,
                    None => allowed.iter().any(|(r, _)| *r == reason),
                };
                if !ok {
                    let names: Vec<&str> = allowed.iter().map(|(r, _)| r.name()).collect();
                    let allows = match names.is_empty() {
                        true => "no give-up here".to_string(),
                        false => names.join(" or "),
                    };
                    return Some(format!(
                        "gave up after attempt {attempt} for {}, the claim allows {allows}",
                        reason.name()
                    ));
                }
            }
            Reported::Attempt { .. } => {}
        }
    }
    None
}

/// What is wrong with the report of a call its claimed shared throttle
/// held back before any attempt: `Some(None)` if it reported one give-up
/// (after "attempt 0", the first) for a reason the refusal permits, and
/// nothing else; `None` if the call was not held back.
fn held_back_report(c: &Call, claim: &Claim, context: &Context) -> Option<Option<String>> {
    let allowed = throttle::held_back(c, claim, context)?;
    Some(c.reported.iter().find_map(|(_, e)| match *e {
        Reported::GaveUp {
            attempt: 0,
            reason,
        } if allowed.iter().any(|(r, _)| *r == reason) => None,
        ref e => Some(format!(
            "held back before any attempt, it reported {e}; the claim allows a give-up after attempt 0 for {}",
            allowed
                .iter()
                .map(|(r, _)| r.name())
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }))
}

/// Calls starting at or after the heal bound succeed. Judges every call
/// that started then, in a run with a heal bound, unless its caller
/// dropped it (it had no chance to succeed), or an answering shared pause
/// may have ended it at its gate (a pause set before the heal outlives it,
/// and its answer counts as an attempt).
fn liveness_after_heal(c: &Call, claim: &Claim, context: &Context) -> Verdict {
    let (Some(from), Some((start, ..))) = (context.live_from.map(nanos), c.started) else {
        return Verdict::NotJudged;
    };
    // A pause set before the heal may outlive it: a call its gate refused
    // or answered ended as the throttle's claim says, not the provider.
    let gate = throttle::ended_at_gate(c, claim, context)
        || throttle::held_back(c, claim, context).is_some()
        || throttle::refused_retry(c, claim, context).is_some();
    if start < from || c.dropped.is_some() || gate {
        return Verdict::NotJudged;
    }
    let ok = matches!(c.ended, Some((_, CallOutcome::Ok)));
    Verdict::judged((!ok).then(|| {
        let ended = c
            .ended
            .as_ref()
            .map_or_else(|| "never ended".to_string(), |e| e.1.to_string());
        format!(
            "a call started at {}, after the heal bound {}, {ended}",
            human(start),
            human(from)
        )
    }))
}

/// Numbers in a list a person reads: `0, 2, 1` (`none` when empty).
fn list<T: std::fmt::Display>(items: &[T]) -> String {
    match items.is_empty() {
        true => "none".to_string(),
        false => items
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// Where `value` lies against `[lo, hi]`, in words: `3 ms below`, `1.5 s
/// above` (`inside` when within: a tolerance let it through).
fn off_by(value: u64, lo: u64, hi: u64) -> String {
    match value {
        v if v < lo => format!("{} below", human(lo - v)),
        v if v > hi => format!("{} above", human(v - hi)),
        _ => "inside".to_string(),
    }
}
