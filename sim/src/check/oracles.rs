//! Named per-call oracles: each reads one call's facts and the claim, and
//! says what is wrong, if anything.
//!
//! Waits are measured from outside (an attempt's end to the next one's
//! start), so they may end up to one [`TICK_NS`] after the drawn delay.

use super::Context;
use super::claim::{Claim, RetryAfterRule, nanos};
use super::model::{Call, May, TICK_NS, endings, envelopes, transient};
use crate::trace::{AttemptOutcome, CallOutcome, Failure, Reported};

/// One oracle: a call's facts, the claim and the context in; what is wrong out.
pub type Oracle = fn(&Call, &Claim, &Context) -> Option<String>;

/// Every per-call oracle with its name, in the order reports list them.
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
    ("reported_agrees", reported_agrees),
    ("liveness_after_heal", liveness_after_heal),
];

/// A call that started never ended (cut off at the simulation horizon).
fn calls_end(c: &Call, _: &Claim, _: &Context) -> Option<String> {
    (c.started.is_some() && c.ended.is_none())
        .then(|| "the call never ended (cut off at the simulation horizon)".into())
}

/// The wrapper panicked.
fn no_panic(c: &Call, _: &Claim, _: &Context) -> Option<String> {
    match &c.ended {
        Some((_, CallOutcome::Panicked { message })) => Some(format!("panicked: {message}")),
        _ => None,
    }
}

/// Every method is implemented by the provider below: the wrapper must
/// reach it and never answer `Unsupported` itself.
fn forwarding(c: &Call, _: &Claim, _: &Context) -> Option<String> {
    match &c.ended {
        Some((_, CallOutcome::Failed(Failure::Unsupported))) => Some(format!(
            "ended Unsupported after {} attempts, though the provider implements it",
            c.attempts.len()
        )),
        Some((_, CallOutcome::Failed(f))) if c.attempts.is_empty() => {
            Some(format!("ended {f} without reaching the provider"))
        }
        _ => None,
    }
}

/// The wrapper answers the provider's `is_*_compat` flags.
fn capabilities(c: &Call, _: &Claim, _: &Context) -> Option<String> {
    let (_, _, compat, inner) = c.started?;
    (compat != inner).then(|| format!("compat flags {compat:03b}, the provider's {inner:03b}"))
}

fn attempts_bounded(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let n = c.attempts.len() as u64;
    (n > claim.max_attempts)
        .then(|| format!("{n} attempts, at most {} allowed", claim.max_attempts))
}

/// A method the claim does not retry is attempted exactly once.
fn not_retried_once(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let method = c.method()?;
    let n = c.attempts.len();
    (!claim.retried.contains(&method) && n > 1)
        .then(|| format!("{method} is not retried, yet had {n} attempts"))
}

fn non_transient_once(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let at = c.attempts.iter().position(|a| match &a.end {
        Some((_, o @ AttemptOutcome::Failed(_))) => !transient(o, claim),
        _ => false,
    })?;
    let next = c.attempts.get(at + 1)?;
    let failed = c.attempts[at].end.as_ref().map(|e| &e.1);
    Some(format!(
        "attempt {} followed a non-transient {failed:?}",
        next.number
    ))
}

/// A failed call whose last attempt failed transiently stopped only for a
/// reason the claim permits.
fn transient_retried(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let Some((_, CallOutcome::Failed(_))) = &c.ended else {
        return None;
    };
    let (_, outcome) = c.attempts.last()?.end.as_ref()?;
    if c.streamed() || !transient(outcome, claim) {
        return None;
    }
    endings(c, claim).is_empty().then(|| {
        format!(
            "the call ended after attempt {} failed transiently ({outcome:?}) with retries left",
            c.attempts.len() - 1
        )
    })
}

fn delay_within_envelope(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    envelopes(&c.waits(claim), claim, |_| None)
        .into_iter()
        .find_map(|(w, e)| {
            let e = e?;
            (w.gap_ns < e.lo || w.gap_ns > e.hi.saturating_add(TICK_NS)).then(|| {
                format!(
                    "backoff after attempt {} was {}ns, outside [{}, {}]ns",
                    w.after, w.gap_ns, e.lo, e.hi
                )
            })
        })
}

/// A transient failure's Retry-After is waited exactly when within the
/// claim's maximum; a longer one is never waited.
fn retry_after_honoured(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let RetryAfterRule::Exact { max_ns } = claim.retry_after else {
        return None;
    };
    for w in c.waits(claim) {
        let Some(ra) = w.retry_after_ns else { continue };
        if ra > max_ns {
            return Some(format!(
                "Retry-After {ra}ns over the maximum {max_ns}ns after attempt {} was waited",
                w.after
            ));
        }
        if w.gap_ns < ra || w.gap_ns > ra.saturating_add(TICK_NS) {
            return Some(format!(
                "Retry-After {ra}ns after attempt {} was followed by a {}ns wait",
                w.after, w.gap_ns
            ));
        }
    }
    None
}

/// A failed call (not a failed handed-over stream) ends when its last
/// attempt does, and no delay is reported after it.
fn no_sleep_after_final(c: &Call, _: &Claim, _: &Context) -> Option<String> {
    let (ended, CallOutcome::Failed(_)) = c.ended.as_ref()? else {
        return None;
    };
    let last = c.attempts.last()?;
    let reported = c
        .reported
        .iter()
        .find(|(_, e)| matches!(e, Reported::Delay { attempt, .. } if *attempt >= last.number));
    if let Some((_, e)) = reported {
        return Some(format!("a delay reported after the final attempt: {e:?}"));
    }
    let (last_end, _) = last.end.as_ref()?;
    (!c.streamed() && ended > last_end).then(|| {
        format!(
            "the call failed {}ns after its last attempt ended",
            ended - last_end
        )
    })
}

/// No wait ends later than the deadline after the first attempt began.
fn deadline_respected(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let deadline = claim.deadline_ns?;
    c.waits(claim).into_iter().find_map(|w| {
        let end = w.from_first_ns.saturating_add(w.gap_ns);
        (end > deadline.saturating_add(TICK_NS)).then(|| {
            format!(
                "the wait after attempt {} ended {end}ns after the first attempt, deadline {deadline}ns",
                w.after
            )
        })
    })
}

/// An attempt of a timed method lasts at most the timeout (plus a tick).
fn attempt_within_timeout(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let timeout = claim.timeout_ns?;
    if !claim.timed.contains(&c.method()?) {
        return None;
    }
    c.attempts.iter().find_map(|a| {
        let took = a.end.as_ref()?.0.saturating_sub(a.start);
        (took > timeout.saturating_add(TICK_NS))
            .then(|| format!("attempt {} took {took}ns, timeout {timeout}ns", a.number))
    })
}

/// Every received item is this call's, from one stream it opened, in
/// order with nothing lost, duplicated or spliced; a successful stream
/// call received the whole stream.
fn stream_integrity(c: &Call, _: &Claim, _: &Context) -> Option<String> {
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
        return Some(format!("stream {opened} was sent out of order: {sent:?}"));
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

/// A handed-over stream of a retried method is never silent longer than
/// the idle bound (plus a tick): an item arrives, or the stream fails.
fn stream_idle_bounded(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    let idle = claim.stream_idle_ns?;
    let method = c.method()?;
    if !method.is_stream() || !claim.retried.contains(&method) {
        return None;
    }
    let (handed, AttemptOutcome::Ok) = c.attempts.last()?.end.as_ref()? else {
        return None;
    };
    let timed_out = match (c.stream_failed, &c.ended) {
        (Some(true), Some((t, _))) => Some(*t),
        _ => None,
    };
    let mut times = std::iter::once(*handed)
        .chain(c.received_at.iter().copied())
        .chain(timed_out);
    let mut previous = times.next()?;
    for t in times {
        let silent = t.saturating_sub(previous);
        if silent > idle.saturating_add(TICK_NS) {
            return Some(format!(
                "the stream was silent {silent}ns from {previous}ns, idle bound {idle}ns"
            ));
        }
        previous = t;
    }
    None
}

/// What the wrapper reported agrees with the facts.
fn reported_agrees(c: &Call, claim: &Claim, _: &Context) -> Option<String> {
    if c.reported.is_empty() {
        return None;
    }
    let reported_attempts = c
        .reported
        .iter()
        .filter(|(_, e)| matches!(e, Reported::Attempt { .. }))
        .count();
    if reported_attempts != c.attempts.len() {
        return Some(format!(
            "reported {reported_attempts} attempts, the provider saw {}",
            c.attempts.len()
        ));
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
                    return Some(format!(
                        "reported a delay after attempt {attempt}, but no retry followed"
                    ));
                };
                if w.gap_ns < delay_ns || w.gap_ns > delay_ns.saturating_add(TICK_NS) {
                    return Some(format!(
                        "reported a {delay_ns}ns delay after attempt {attempt}, measured {}ns",
                        w.gap_ns
                    ));
                }
                if retry_after != w.retry_after_ns.is_some() {
                    return Some(format!(
                        "the delay after attempt {attempt} was reported with retry_after {retry_after}"
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
                    return Some(format!(
                        "gave up after attempt {attempt} for {}, the claim allows {names:?}",
                        reason.name()
                    ));
                }
            }
            Reported::Attempt { .. } => {}
        }
    }
    None
}

/// Calls starting at or after the heal bound succeed.
fn liveness_after_heal(c: &Call, _: &Claim, context: &Context) -> Option<String> {
    let from = nanos(context.live_from?);
    let (start, ..) = c.started?;
    let ok = matches!(c.ended, Some((_, CallOutcome::Ok)));
    (start >= from && !ok).then(|| {
        format!(
            "a call started at {start}ns, after the heal bound {from}ns, ended {:?}",
            c.ended.as_ref().map(|e| &e.1)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixture::*;
    use super::super::{Context, check};
    use super::*;
    use crate::method::Method;
    use crate::trace::{ChunkId, Kind, Record};
    use std::time::Duration;

    fn names_in(records: Vec<Record>, claim: &Claim, context: &Context) -> Vec<&'static str> {
        check(&trace(records), claim, context)
            .into_iter()
            .map(|v| v.oracle)
            .collect()
    }

    fn names(records: Vec<Record>, claim: &Claim) -> Vec<&'static str> {
        names_in(records, claim, &Context::default())
    }

    const NONE: [&str; 0] = [];

    #[test]
    fn a_correct_trace_passes_every_oracle() {
        assert_eq!(names(good(), &claim()), NONE);
    }

    #[test]
    fn every_per_call_oracle_is_listed_in_report_order() {
        let per_call: Vec<&str> = PER_CALL.iter().map(|(n, _)| *n).collect();
        assert_eq!(per_call, super::super::ORACLES[..PER_CALL.len()]);
    }

    #[test]
    fn calls_end_catches_a_call_that_never_ended() {
        let mut t = good();
        t.pop();
        assert_eq!(names(t, &claim()), ["calls_end"]);
    }

    #[test]
    fn no_panic_catches_a_panicking_wrapper_and_quotes_it() {
        let mut t = good();
        *t.last_mut().unwrap() = rec(
            330,
            ended(CallOutcome::Panicked {
                message: "boom".into(),
            }),
        );
        let v = check(&trace(t), &claim(), &Context::default());
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].oracle, "no_panic");
        assert!(v[0].detail.contains("boom"));
    }

    #[test]
    fn forwarding_catches_an_unsupported_end_and_a_call_never_forwarded() {
        let mut t = good();
        t.truncate(1);
        t.push(rec(0, ended(CallOutcome::Failed(Failure::Unsupported))));
        assert_eq!(names(t.clone(), &claim()), ["forwarding"]);
        t[1] = rec(0, ended(fail_503()));
        assert_eq!(names(t, &claim()), ["forwarding"]);
    }

    #[test]
    fn capabilities_catches_flags_that_differ_from_the_providers() {
        let mut t = good();
        t[0] = rec(
            0,
            Kind::CallStarted {
                method: Method::Chat,
                compat: 0,
                inner_compat: 1,
            },
        );
        assert_eq!(names(t, &claim()), ["capabilities"]);
    }

    #[test]
    fn attempts_bounded_catches_a_fifth_attempt() {
        let mut t = good();
        t.truncate(6);
        t.push(rec(330, failed(2, 503, None)));
        t.push(rec(730, attempt(3)));
        t.push(rec(740, failed(3, 503, None)));
        t.push(rec(1540, attempt(4)));
        t.push(rec(1550, ok(4)));
        t.push(good()[7].clone());
        t.push(rec(1550, ended(CallOutcome::Ok)));
        assert_eq!(names(t, &claim()), ["attempts_bounded"]);
    }

    #[test]
    fn not_retried_once_catches_a_retried_unretried_method() {
        let mut t = good();
        t[0] = rec(0, started(Method::Embedding));
        assert_eq!(names(t.clone(), &claim()), ["not_retried_once"]);
        // The same method attempted once and failed is fine.
        t.truncate(3);
        t.push(rec(10, ended(fail_503())));
        assert_eq!(names(t, &claim()), NONE);
    }

    #[test]
    fn non_transient_once_catches_a_retry_after_400() {
        let mut t = good();
        t[2] = rec(10, failed(0, 400, None));
        assert_eq!(names(t.clone(), &claim()), ["non_transient_once"]);
        t.truncate(3);
        t.push(rec(10, ended(fail_503())));
        assert_eq!(names(t, &claim()), NONE, "a 400 ends the call at once");
    }

    #[test]
    fn transient_retried_catches_a_transient_error_given_up_on_early() {
        let mut t = good();
        t.truncate(3);
        t.push(rec(10, ended(fail_503())));
        assert_eq!(names(t.clone(), &claim()), ["transient_retried"]);
        let budgeted = Claim {
            budget: true,
            ..claim()
        };
        assert_eq!(names(t, &budgeted), NONE, "a budget may refuse");
    }

    #[test]
    fn transient_retried_accepts_exhaustion_and_a_timed_out_final_attempt() {
        let mut t = good();
        t.truncate(6);
        t.push(rec(330, failed(2, 503, None)));
        t.push(rec(730, attempt(3)));
        t.push(rec(
            740,
            Kind::AttemptEnded {
                attempt: 3,
                outcome: AttemptOutcome::Dropped,
            },
        ));
        t.push(rec(740, ended(CallOutcome::Failed(Failure::Timeout))));
        assert_eq!(names(t, &claim()), NONE);
    }

    #[test]
    fn delay_within_envelope_catches_a_wrong_backoff() {
        let mut t = good();
        t[5] = rec(370, attempt(2));
        t[6] = rec(380, ok(2));
        t[8] = rec(380, ended(CallOutcome::Ok));
        assert_eq!(names(t, &claim()), ["delay_within_envelope"]);
    }

    #[test]
    fn delay_within_envelope_catches_a_delay_above_the_cap() {
        let mut capped = claim();
        capped.backoff.cap_ns = Some(150 * MS);
        assert_eq!(names(good(), &capped), ["delay_within_envelope"]);
    }

    #[test]
    fn measured_waits_get_one_tick_of_slack_and_no_more() {
        let late = |by_ns: u64| {
            let mut t = good();
            for r in &mut t[5..] {
                r.t += by_ns;
            }
            names(t, &claim())
        };
        assert_eq!(late(MS), NONE);
        assert_eq!(late(MS + 1), ["delay_within_envelope"]);
    }

    #[test]
    fn a_planted_times_three_schedule_is_caught() {
        // Waits of initial * 3^n: 100, 300, 900 ms where 100, 200, 400 are claimed.
        let t = vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(10, failed(0, 503, None)),
            rec(110, attempt(1)),
            rec(120, failed(1, 503, None)),
            rec(420, attempt(2)),
            rec(430, failed(2, 503, None)),
            rec(1330, attempt(3)),
            rec(1340, failed(3, 503, None)),
            rec(1340, ended(fail_503())),
        ];
        let v = check(&trace(t), &claim(), &Context::default());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].oracle, "delay_within_envelope");
        assert!(v[0].detail.contains("after attempt 1"), "{}", v[0].detail);
    }

    #[test]
    fn retry_after_honoured_catches_a_shortened_retry_after() {
        let mut t = good();
        t[2] = rec(10, failed(0, 503, Some(150)));
        assert_eq!(names(t.clone(), &claim()), ["retry_after_honoured"]);
        // Waited exactly, the schedule still advances: the next backoff is item 1.
        for r in &mut t[3..] {
            r.t += 50 * MS;
        }
        assert_eq!(names(t, &claim()), NONE);
    }

    #[test]
    fn retry_after_honoured_catches_one_above_the_maximum_being_waited() {
        let mut t = good();
        t[2] = rec(10, failed(0, 503, Some(100)));
        let strict = Claim {
            retry_after: RetryAfterRule::Exact { max_ns: 50 * MS },
            ..claim()
        };
        assert_eq!(names(t.clone(), &strict), ["retry_after_honoured"]);
        // Ending at once is what the claim asks for.
        t.truncate(3);
        t.push(rec(10, ended(fail_503())));
        assert_eq!(names(t, &strict), NONE);
    }

    #[test]
    fn no_sleep_after_final_catches_a_trailing_sleep() {
        let mut t = good();
        t.truncate(6);
        t.push(rec(330, failed(2, 503, None)));
        t.push(rec(730, attempt(3)));
        t.push(rec(740, failed(3, 503, None)));
        t.push(rec(1540, ended(fail_503())));
        assert_eq!(names(t, &claim()), ["no_sleep_after_final"]);
    }

    #[test]
    fn no_sleep_after_final_catches_a_reported_delay_after_the_last_attempt() {
        let mut t = good();
        t.truncate(3);
        t[2] = rec(10, failed(0, 400, None));
        t.push(rec(10, delay(0, 100, false)));
        t.push(rec(10, ended(fail_503())));
        assert!(names(t, &claim()).contains(&"no_sleep_after_final"));
    }

    #[test]
    fn deadline_respected_catches_a_wait_past_it() {
        let strict = Claim {
            deadline_ns: Some(300 * MS),
            ..claim()
        };
        assert_eq!(names(good(), &strict), ["deadline_respected"]);
        // Ending instead of waiting past the deadline is allowed.
        let mut t = good();
        t.truncate(5);
        t.push(rec(120, ended(fail_503())));
        assert_eq!(names(t, &strict), NONE);
    }

    #[test]
    fn attempt_within_timeout_catches_a_long_attempt_of_a_timed_method_only() {
        let short = Claim {
            timeout_ns: Some(5 * MS),
            ..claim()
        };
        assert_eq!(names(good(), &short), ["attempt_within_timeout"]);
        let exact = Claim {
            timeout_ns: Some(9 * MS),
            ..claim()
        };
        assert_eq!(names(good(), &exact), NONE, "10 ms is 9 ms plus a tick");
        let untimed = Claim {
            timed: Default::default(),
            ..short
        };
        assert_eq!(names(good(), &untimed), NONE);
    }

    /// A chat stream: one open attempt, then `sent` sent and `received` received.
    fn streamed(sent: &[(u64, u32)], received: &[Option<ChunkId>], ok: bool) -> Vec<Record> {
        let mut t = vec![
            rec(0, started(Method::ChatStream)),
            rec(0, attempt(0)),
            rec(10, super::super::fixture::ok(0)),
        ];
        for &(stream, index) in sent {
            t.push(rec(11, Kind::ChunkSent { stream, index }));
        }
        for &chunk in received {
            t.push(rec(12, Kind::ChunkReceived { chunk }));
        }
        let outcome = match ok {
            true => CallOutcome::Ok,
            false => {
                t.push(rec(12, Kind::StreamFailed { timeout: true }));
                CallOutcome::Failed(Failure::Timeout)
            }
        };
        t.push(rec(12, ended(outcome)));
        t
    }

    fn id(client: u32, call: u64, stream: u64, index: u32) -> Option<ChunkId> {
        Some(ChunkId {
            client,
            call,
            stream,
            index,
        })
    }

    #[test]
    fn stream_integrity_catches_lost_duplicated_spliced_and_foreign_items() {
        let sent = [(4, 0), (4, 1), (4, 2)];
        let judge =
            |received: &[Option<ChunkId>], ok| names(streamed(&sent, received, ok), &claim());
        let whole = [id(0, 0, 4, 0), id(0, 0, 4, 1), id(0, 0, 4, 2)];
        assert_eq!(judge(&whole, true), NONE);
        assert_eq!(
            judge(&whole[..2], false),
            NONE,
            "a failed stream may stop early"
        );
        let bad: [&[Option<ChunkId>]; 6] = [
            &[id(0, 0, 4, 0), id(0, 0, 4, 2)],
            &[
                id(0, 0, 4, 0),
                id(0, 0, 4, 1),
                id(0, 0, 4, 1),
                id(0, 0, 4, 2),
            ],
            &[id(0, 0, 4, 0), id(0, 0, 5, 1), id(0, 0, 4, 2)],
            &[id(0, 1, 4, 0), id(0, 1, 4, 1), id(0, 1, 4, 2)],
            &[id(0, 0, 4, 0), None, id(0, 0, 4, 2)],
            &whole[..2],
        ];
        for received in bad {
            assert_eq!(judge(received, true), ["stream_integrity"], "{received:?}");
        }
        let unopened = [id(0, 0, 9, 0)];
        let t = streamed(&[], &unopened, false);
        assert_eq!(names(t, &claim()), ["stream_integrity"]);
    }

    #[test]
    fn stream_idle_bounded_catches_a_silence_past_the_bound() {
        let sent = [(4, 0), (4, 1)];
        let received = [id(0, 0, 4, 0), id(0, 0, 4, 1)];
        let mut t = streamed(&sent, &received, true);
        let idle = Claim {
            stream_idle_ns: Some(5 * MS),
            ..claim()
        };
        assert_eq!(names(t.clone(), &idle), NONE);
        // The second item arrives 20 ms after the first.
        let at = t.len() - 2;
        t[at].t += 20 * MS;
        assert_eq!(names(t.clone(), &idle), ["stream_idle_bounded"]);
        let unbounded = Claim {
            stream_idle_ns: None,
            ..claim()
        };
        assert_eq!(names(t, &unbounded), NONE);
    }

    #[test]
    fn reported_agrees_accepts_a_truthful_report() {
        let mut t = good();
        t.insert(
            1,
            rec(
                0,
                Kind::Reported {
                    event: Reported::Attempt { attempt: 0 },
                },
            ),
        );
        t.insert(4, rec(10, delay(0, 100, false)));
        t.insert(
            5,
            rec(
                110,
                Kind::Reported {
                    event: Reported::Attempt { attempt: 1 },
                },
            ),
        );
        t.insert(8, rec(120, delay(1, 200, false)));
        t.insert(
            9,
            rec(
                320,
                Kind::Reported {
                    event: Reported::Attempt { attempt: 2 },
                },
            ),
        );
        assert_eq!(names(t.clone(), &claim()), NONE);
        // A misreported delay.
        t[7] = rec(120, delay(1, 150, false));
        assert_eq!(names(t, &claim()), ["reported_agrees"]);
    }

    #[test]
    fn reported_agrees_catches_a_wrong_count_and_a_wrong_reason() {
        let mut t = good();
        t.insert(
            1,
            rec(
                0,
                Kind::Reported {
                    event: Reported::Attempt { attempt: 0 },
                },
            ),
        );
        assert_eq!(names(t, &claim()), ["reported_agrees"]);
        let gave_up = |reason| {
            let mut t = good();
            t.truncate(3);
            t.push(rec(
                10,
                Kind::Reported {
                    event: Reported::Attempt { attempt: 0 },
                },
            ));
            t.push(rec(
                10,
                Kind::Reported {
                    event: Reported::GaveUp { attempt: 0, reason },
                },
            ));
            t.push(rec(10, ended(fail_503())));
            names(
                t,
                &Claim {
                    budget: true,
                    ..claim()
                },
            )
        };
        assert_eq!(gave_up(crate::trace::GiveUpReason::Budget), NONE);
        assert_eq!(
            gave_up(crate::trace::GiveUpReason::Exhausted),
            ["reported_agrees"]
        );
    }

    #[test]
    fn liveness_catches_a_failure_after_heal() {
        let mut t = good();
        *t.last_mut().unwrap() = rec(330, ended(fail_503()));
        let live = Context {
            live_from: Some(Duration::ZERO),
        };
        assert!(names_in(t.clone(), &claim(), &live).contains(&"liveness_after_heal"));
        let later = Context {
            live_from: Some(Duration::from_millis(1)),
        };
        assert!(!names_in(t, &claim(), &later).contains(&"liveness_after_heal"));
    }

    #[test]
    fn hostile_traces_do_not_panic() {
        let mut t = vec![rec(0, started(Method::Chat))];
        for k in 0..500u32 {
            t.push(Record {
                t: u64::MAX,
                ..rec(0, attempt(k))
            });
            t.push(Record {
                t: if k % 2 == 0 { 0 } else { u64::MAX },
                ..rec(0, failed(k, 503, Some(u64::MAX / MS)))
            });
        }
        t.push(Record {
            t: 0,
            ..rec(0, ended(fail_503()))
        });
        let mut wild = claim();
        wild.backoff.factor = f64::INFINITY;
        wild.backoff.cap_ns = None;
        wild.deadline_ns = Some(u64::MAX);
        wild.timeout_ns = Some(u64::MAX);
        let _ = names(t, &wild);
    }
}
