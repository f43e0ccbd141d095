//! Doctored traces for a claimed shared throttle: each acceptance on both
//! sides of its bound, and every other claim unchanged.

use super::claim::{Claim, SharedPause};
use super::fixture::*;
use super::server_waits::RETRY_AFTER_SHARED;
use super::throttle::{PAUSE_WAKES_SPREAD, herd_probability};
use super::{Context, judgement};
use crate::method::Method;
use crate::trace::{CallOutcome, Failure, GiveUpReason, Kind, Record, Reported};

/// `claim()` with a shared pause: wake-ups spread over 1 s, pauses up to 60 s.
fn throttled() -> Claim {
    Claim {
        shared_pause: Some(SharedPause {
            spread_ns: 1_000 * MS,
            max_pause_ns: 60_000 * MS,
            answered: false,
        }),
        ..claim()
    }
}

fn at(client: u32, t_ms: u64, kind: Kind) -> Record {
    Record {
        client,
        ..rec(t_ms, kind)
    }
}

/// Client 0's call is answered a 429 with Retry-After 1 s at 10 ms, waits
/// it, and succeeds at 1010 ms: it pauses every call until 1010 ms.
fn pauser() -> Vec<Record> {
    vec![
        at(0, 0, started(Method::Chat)),
        at(0, 0, attempt(0)),
        at(0, 10, failed(0, 429, Some(1_000))),
        at(0, 1_010, attempt(1)),
        at(0, 1_020, ok(1)),
        at(0, 1_020, received(1)),
        at(0, 1_020, ended(CallOutcome::Ok)),
    ]
}

/// Client 1's call starts at 500 ms and makes its first attempt at `first_ms`.
fn held(first_ms: u64) -> Vec<Record> {
    let mut t = pauser();
    t.extend([
        at(1, 500, started(Method::Chat)),
        at(1, first_ms, attempt(0)),
        at(1, first_ms + 10, ok(0)),
        at(
            1,
            first_ms + 10,
            Kind::ChunkReceived {
                chunk: id(1, 0, 0, 0),
            },
        ),
        at(1, first_ms + 10, ended(CallOutcome::Ok)),
    ]);
    t.sort_by_key(|r| r.t);
    t
}

#[test]
fn an_attempt_inside_another_calls_pause_breaks_retry_after_shared() {
    // (Its late start is no wake-up either.)
    assert_eq!(
        names(held(600), &throttled()),
        ["first_attempt_at_once", RETRY_AFTER_SHARED]
    );
    // At the pause's end it has passed.
    assert_eq!(names(held(1_010), &throttled()), NONE);
}

#[test]
fn retry_after_shared_judges_only_a_claimed_shared_pause() {
    assert!(judges(RETRY_AFTER_SHARED, held(1_010), &throttled()));
    assert!(!judges(RETRY_AFTER_SHARED, held(600), &claim()));
    assert!(!names(held(600), &claim()).contains(&RETRY_AFTER_SHARED));
    // Promised without a throttle, it judges the same attempt the same way.
    let promised = Claim {
        server_waits: Some(true),
        ..claim()
    };
    assert!(names(held(600), &promised).contains(&RETRY_AFTER_SHARED));
    // And a throttle's claim may say it does not promise it.
    let unpromised = Claim {
        server_waits: Some(false),
        ..throttled()
    };
    assert!(!judges(RETRY_AFTER_SHARED, held(1_010), &unpromised));
}

#[test]
fn retry_after_shared_is_not_exercised_where_no_server_asked_a_wait() {
    // The same two calls, the first answered a 503 with no Retry-After.
    let mut quiet = held(1_010);
    for r in &mut quiet {
        if let Kind::AttemptEnded { attempt: 0, .. } = r.kind
            && r.client == 0
        {
            r.kind = failed(0, 503, None);
        }
    }
    assert!(!judges(RETRY_AFTER_SHARED, quiet, &throttled()));
}

#[test]
fn a_server_is_told_by_its_address_whatever_call_reaches_it() {
    // Client 0's 429 with Retry-After 1 s came from upstream 1; client 1's
    // attempt at 600 ms goes to `upstream`.
    let at_upstream = |upstream: u32| {
        let mut t = held(600);
        for r in &mut t {
            if let Kind::AttemptStarted { upstream: u, .. } = &mut r.kind {
                *u = match r.client {
                    0 => 1,
                    _ => upstream,
                };
            }
        }
        t
    };
    let claim = Claim {
        server_waits: Some(true),
        upstreams: 2,
        upstream_order: super::claim::UpstreamOrder::Any,
        ..claim()
    };
    assert!(names(at_upstream(1), &claim).contains(&RETRY_AFTER_SHARED));
    assert!(!names(at_upstream(0), &claim).contains(&RETRY_AFTER_SHARED));
}

#[test]
fn a_first_attempt_may_wait_for_a_pause_to_its_spread_and_no_longer() {
    // Woken 300 ms after the pause ended: within the 1 s spread.
    assert_eq!(names(held(1_310), &throttled()), NONE);
    // The last tick the spread and the tolerance allow, and one past it.
    assert_eq!(names(held(2_011), &throttled()), NONE);
    assert_eq!(names(held(2_012), &throttled()), ["first_attempt_at_once"]);
    // Without the claim the same wait is another call's lock.
    assert_eq!(names(held(1_310), &claim()), ["first_attempt_at_once"]);
}

/// Client 1's call starts at 0, is answered a 503 at 5 ms, and retries at
/// `retry_ms` (its backoff is exactly 100 ms, ending inside the pause).
fn retried(retry_ms: u64) -> Vec<Record> {
    let mut t = pauser();
    t.extend([
        at(1, 0, started(Method::Chat)),
        at(1, 0, attempt(0)),
        at(1, 5, failed(0, 503, None)),
        at(1, retry_ms, attempt(1)),
        at(1, retry_ms + 10, ok(1)),
        at(
            1,
            retry_ms + 10,
            Kind::ChunkReceived {
                chunk: id(1, 0, 1, 0),
            },
        ),
        at(1, retry_ms + 10, ended(CallOutcome::Ok)),
    ]);
    t.sort_by_key(|r| r.t);
    t
}

#[test]
fn a_backoff_may_run_on_to_a_pauses_wake_up_and_no_further() {
    assert_eq!(names(retried(1_500), &throttled()), NONE);
    assert_eq!(
        names(retried(2_012), &throttled()),
        ["delay_within_envelope"]
    );
    assert_eq!(names(retried(1_500), &claim()), ["delay_within_envelope"]);
    // Inside the pause: neither a backoff's nor a wake-up.
    assert_eq!(
        names(retried(590), &throttled()),
        ["delay_within_envelope", RETRY_AFTER_SHARED]
    );
}

/// Client 1's call starts at 500 ms and is held back at once: a 429 with
/// Retry-After `wait_ms`, no attempt.
fn held_back(wait_ms: u64, reason: GiveUpReason) -> Vec<Record> {
    let mut t = pauser();
    let refused = CallOutcome::Failed(Failure::Status {
        status: 429,
        retry_after_ns: Some(wait_ms * MS),
        should_retry: None,
    });
    t.extend([
        at(1, 500, started(Method::Chat)),
        at(
            1,
            500,
            Kind::Reported {
                event: Reported::GaveUp { attempt: 0, reason },
            },
        ),
        at(1, 500, ended(refused)),
    ]);
    t.sort_by_key(|r| r.t);
    t
}

fn with_deadline(ms: u64) -> Claim {
    Claim {
        deadline_ns: Some(ms * MS),
        ..throttled()
    }
}

#[test]
fn a_held_back_call_is_the_one_answer_that_never_reaches_the_provider() {
    // Paused until 1010 ms: 510 ms left plus up to 1 s, past a 1.010 s
    // deadline from 500 ms.
    let deadline = GiveUpReason::Deadline;
    assert_eq!(names(held_back(800, deadline), &with_deadline(1_010)), NONE);
    // A wait that is not the pause's rest plus an offset in the spread.
    assert_eq!(
        names(held_back(400, deadline), &with_deadline(1_010)),
        ["forwarding", "reported_agrees"]
    );
    assert_eq!(
        names(held_back(1_600, deadline), &with_deadline(1_010)),
        ["forwarding", "reported_agrees"]
    );
    // A deadline the wait could not pass: no refusal.
    assert_eq!(
        names(held_back(800, deadline), &with_deadline(2_000)),
        ["forwarding", "reported_agrees"]
    );
    // Without the claim it is a call that never reached the provider.
    let plain = Claim {
        deadline_ns: Some(1_010 * MS),
        ..claim()
    };
    assert!(names(held_back(800, deadline), &plain).contains(&"forwarding"));
}

#[test]
fn a_held_back_call_reports_only_a_reason_its_refusal_permits() {
    let too_long = GiveUpReason::RetryAfterTooLong;
    assert_eq!(
        names(held_back(800, too_long), &with_deadline(1_010)),
        ["reported_agrees"]
    );
}

/// Clients 1 to `n` each start a call at 500 ms, held by the pause, whose
/// first attempts wake `offsets_ms` after it ends (1010 ms).
fn herd(offsets_ms: &[u64]) -> Vec<Record> {
    let mut t = pauser();
    for (k, &o) in offsets_ms.iter().enumerate() {
        let c = k as u32 + 1;
        let first = 1_010 + o;
        t.extend([
            at(c, 500, started(Method::Chat)),
            at(c, first, attempt(0)),
            at(c, first + 10, ok(0)),
            at(
                c,
                first + 10,
                Kind::ChunkReceived {
                    chunk: id(c, 0, 0, 0),
                },
            ),
            at(c, first + 10, ended(CallOutcome::Ok)),
        ]);
    }
    t.sort_by_key(|r| r.t);
    t
}

#[test]
fn paused_calls_waking_in_one_instant_break_pause_wakes_spread() {
    assert_eq!(
        names(herd(&[0, 0, 0, 0, 0]), &throttled()),
        [PAUSE_WAKES_SPREAD]
    );
    assert_eq!(names(herd(&[0, 210, 430, 650, 870]), &throttled()), NONE);
    // Three in one tick could be chance (3e-6 > 1e-6): not convicted.
    assert_eq!(names(herd(&[0, 0, 0]), &throttled()), NONE);
    let judged = judgement(&trace(herd(&[0, 0])), &throttled(), &Context::default());
    assert!(judged.tallies.contains_key(PAUSE_WAKES_SPREAD));
    let plain = judgement(
        &trace(herd(&[0, 0, 0, 0, 0])),
        &claim(),
        &Context::default(),
    );
    assert!(!plain.tallies.contains_key(PAUSE_WAKES_SPREAD));
}

#[test]
fn the_herd_bound_is_the_union_over_leftmost_points() {
    // 4 C(3, 3) 0.002^3.
    assert!((herd_probability(4, 4, 0.002) - 4.0 * 8e-9).abs() < 1e-15);
    // 5 C(4, 1) 0.5.
    assert!((herd_probability(5, 2, 0.5) - 1.0).abs() < 1e-12);
    assert_eq!(herd_probability(3, 1, 0.1), 1.0);
    assert_eq!(herd_probability(2, 3, 0.1), 1.0);
}

#[test]
fn a_first_attempt_woken_past_the_deadline_is_no_wake_up() {
    // Woken 810 ms after the call began: inside a 1.010 s deadline...
    assert!(!names(held(1_310), &with_deadline(1_010)).contains(&"first_attempt_at_once"));
    // ...past an 800 ms one, where the wait would have been refused.
    assert!(names(held(1_310), &with_deadline(800)).contains(&"first_attempt_at_once"));
}

/// Client 1's call fails a 503 at 5 ms, reports its 100 ms backoff, and
/// is refused at its gate when that ends (105 ms, inside the pause).
fn refused() -> Vec<Record> {
    failed_and_ended(503, 105)
}

/// `refused()`'s call failing with `status` and ending at `end_ms`.
fn failed_and_ended(status: u16, end_ms: u64) -> Vec<Record> {
    let mut t = pauser();
    let report = |t_ms, event| at(1, t_ms, Kind::Reported { event });
    t.extend([
        at(1, 0, started(Method::Chat)),
        report(0, Reported::Attempt { attempt: 0 }),
        at(1, 0, attempt(0)),
        at(1, 5, failed(0, status, None)),
        report(
            5,
            Reported::Delay {
                attempt: 0,
                delay_ns: 100 * MS,
                retry_after: false,
            },
        ),
        report(
            end_ms,
            Reported::GaveUp {
                attempt: 0,
                reason: GiveUpReason::Deadline,
            },
        ),
        at(
            1,
            end_ms,
            ended(CallOutcome::Failed(Failure::Status {
                status,
                retry_after_ns: None,
                should_retry: None,
            })),
        ),
    ]);
    t.sort_by_key(|r| r.t);
    t
}

#[test]
fn a_retry_refused_at_the_gate_ends_the_call_after_its_wait() {
    // The pause (to 1010 ms) plus up to 1 s passes 1.5 s from the call's start.
    assert_eq!(names(refused(), &with_deadline(1_500)), NONE);
    // Not under 3 s: no refusal, so the call slept after its final attempt.
    assert_eq!(
        names(refused(), &with_deadline(3_000)),
        [
            "transient_retried",
            "no_sleep_after_final",
            "reported_agrees"
        ]
    );
    let plain = Claim {
        deadline_ns: Some(1_500 * MS),
        ..claim()
    };
    assert!(names(refused(), &plain).contains(&"no_sleep_after_final"));
}

#[test]
fn only_a_whole_wait_after_a_transient_failure_is_a_refused_retry() {
    let refusing = with_deadline(1_500);
    let slept = |records| names(records, &refusing).contains(&"no_sleep_after_final");
    // A 400 is never retried: the 100 ms after it were a sleep after the
    // final attempt, whatever the pause would have refused.
    assert!(slept(failed_and_ended(400, 105)));
    // Half the 100 ms backoff: no retry was due at the gate yet.
    assert!(slept(failed_and_ended(503, 55)));
    assert!(!slept(failed_and_ended(503, 105)));
}

// The held answers an answering throttle may have given a call, bounded
// from the trace: `pauser()`'s pause (set at 10 ms, ending at 1010 ms)
// against client 1's call, which starts at `start_ms` and ends at its gate
// at `end_ms`, or makes one attempt then.

fn answering() -> Claim {
    let mut c = throttled();
    if let Some(s) = c.shared_pause.as_mut() {
        s.answered = true;
    }
    c
}

/// Client 1's call from `start_ms`: with `attempts`, one attempt at
/// `end_ms` that succeeds; without, ended at its gate at `end_ms`.
fn gated(start_ms: u64, end_ms: u64, attempts: bool) -> super::model::Call {
    let mut t = pauser();
    t.push(at(1, start_ms, started(Method::Chat)));
    if attempts {
        t.extend([
            at(1, end_ms, attempt(0)),
            at(1, end_ms + 10, ok(0)),
            at(1, end_ms + 10, ended(CallOutcome::Ok)),
        ]);
    } else {
        let refused = CallOutcome::Failed(Failure::Status {
            status: 429,
            retry_after_ns: Some(500 * MS),
            should_retry: None,
        });
        t.push(at(1, end_ms, ended(refused)));
    }
    t.sort_by_key(|r| r.t);
    let calls = super::model::calls(&trace(t));
    calls
        .into_iter()
        .find(|c| c.client == 1)
        .expect("client 1's call")
}

fn total(c: &super::model::Call) -> (u32, u32) {
    let h = super::throttle::holds(c, &answering(), &Context::default()).total;
    (h.least, h.most)
}

#[test]
fn a_call_ended_at_its_gate_under_a_pause_had_one_held_answer() {
    // Reached its gate at 500 ms, inside the pause: answered there, surely.
    assert_eq!(total(&gated(500, 500, false)), (1, 1));
    // The pause ending as it ended there: that end may have held it, and
    // nothing was pending after.
    assert_eq!(total(&gated(1_010, 1_010, false)), (0, 1));
}

#[test]
fn no_pause_pending_no_held_answer_at_the_gate() {
    // After the pause ended: nothing held it.
    assert_eq!(total(&gated(1_200, 1_200, false)), (0, 0));
    // Before the pause was set (a tick before it: still not pending).
    assert_eq!(total(&gated(9, 9, false)), (0, 0));
}

#[test]
fn only_a_call_ended_at_its_gate_counts_the_pause_pending_at_its_end() {
    // An attempt at 600 ms, inside the pause, ends the gap with an
    // attempt, not at the gate: the pending pause held no answer there.
    let c = gated(500, 600, true);
    let h = super::throttle::holds(&c, &answering(), &Context::default());
    assert_eq!(h.before.len(), 1);
    assert_eq!((h.before[0].least, h.before[0].most), (0, 0));
}

#[test]
fn a_calls_own_retry_pausing_the_others_leaves_its_wait_a_sample() {
    // Full jitter from 100 ms: the first wait (20 ms) is a draw; the retry
    // after it is answered a 429 with Retry-After 50 ms, inside that
    // wait's envelope. The pause it sets holds other calls, never this
    // one, and it falls in the envelope exactly when the draw was short:
    // leaving the wait out would leave out the short draws.
    let full = |mut c: Claim| {
        c.backoff.jitter = super::claim::JitterShape::Scale { lo: 0.0, hi: 1.0 };
        c
    };
    let t = vec![
        at(0, 0, started(Method::Chat)),
        at(0, 0, attempt(0)),
        at(0, 10, failed(0, 503, None)),
        at(0, 30, attempt(1)),
        at(0, 40, failed(1, 429, Some(50))),
        at(0, 90, attempt(2)),
        at(0, 100, ok(2)),
        at(0, 100, ended(CallOutcome::Ok)),
    ];
    let places = |claim: &Claim| {
        super::distribution::samples(&trace(t.clone()), claim)
            .places
            .len()
    };
    assert_eq!(places(&full(claim())), 1);
    assert_eq!(places(&full(throttled())), 1);
}

#[test]
fn a_wait_another_calls_pause_overlapped_gives_no_sample() {
    // Client 0's 50 ms wait from 10 ms has the envelope [0, 100 ms], so a
    // pause could have touched it until 111 ms (a tick late). Client 1's
    // 429 with Retry-After 500 ms sets one at `set_ms`.
    let full = |mut c: Claim| {
        c.backoff.jitter = super::claim::JitterShape::Scale { lo: 0.0, hi: 1.0 };
        c
    };
    let places = |set_ms: u64, retry_after_ms: u64| {
        let mut t = vec![
            at(0, 0, started(Method::Chat)),
            at(0, 0, attempt(0)),
            at(0, 10, failed(0, 503, None)),
            at(0, 60, attempt(1)),
            at(0, 70, ok(1)),
            at(0, 70, ended(CallOutcome::Ok)),
            at(1, 0, started(Method::Chat)),
            at(1, 0, attempt(0)),
            at(1, set_ms, failed(0, 429, Some(retry_after_ms))),
            at(1, set_ms, ended(CallOutcome::Ok)),
        ];
        t.sort_by_key(|r| r.t);
        super::distribution::samples(&trace(t), &full(throttled()))
            .places
            .len()
    };
    // Set at the very start, pending all through the wait: left out.
    assert_eq!(places(0, 500), 0);
    assert_eq!(places(110, 500), 0);
    // Set once the envelope is over: it touched nothing.
    assert_eq!(places(111, 500), 1);
    // Over at the instant the wait began: it touched nothing; a tick
    // later, it may have.
    assert_eq!(places(0, 10), 1);
    assert_eq!(places(0, 11), 0);
}
