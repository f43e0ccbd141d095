//! Doctored traces for callers that walk away and attempts cut short: the
//! oracles of `abandon` and `cut` fire on their violations and spare what
//! the claim allows, and the older oracles spare a dropped call.

use super::fixture::*;
use super::{Context, WIRE_TOLERANCE_NS, check};
use crate::method::Method;
use crate::trace::{AttemptOutcome, CallOutcome, Failure, Kind, Record, Reported, Trace};
use std::time::Duration;

fn dropped_call() -> Kind {
    Kind::CallDropped
}

/// Attempt `attempt` ended `dropped` (the wrapper or the caller let it go).
fn let_go(attempt: u32) -> Kind {
    Kind::AttemptEnded {
        attempt,
        outcome: AttemptOutcome::Dropped,
    }
}

/// A chat call whose attempt 0 failed at 10 ms; retry 1 began at 110 ms.
fn retried() -> Vec<Record> {
    vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(10, failed(0, 503, None)),
        rec(110, attempt(1)),
    ]
}

/// [`retried`], dropped by its caller 40 ms into attempt 1, which the
/// wrapper abandoned then: what a correct wrapper leaves.
fn dropped_mid_attempt() -> Vec<Record> {
    let mut t = retried();
    t.push(rec(150, dropped_call()));
    t.push(rec(150, let_go(1)));
    t
}

#[test]
fn a_call_dropped_mid_attempt_and_abandoned_then_passes_every_oracle() {
    assert_eq!(names(dropped_mid_attempt(), &claim()), NONE);
    // However long the run goes on after: nothing was left running.
    let later = Trace {
        records: dropped_mid_attempt(),
        end_ns: 5_000 * MS,
        ..Trace::default()
    };
    assert_eq!(check(&later, &claim(), &Context::default()), []);
}

#[test]
fn calls_end_takes_a_dropped_call_as_ended() {
    let judged = |records: Vec<Record>| {
        // The run went on 5 s after: long past any wait the claim allows.
        let run = Trace {
            records,
            end_ns: 5_000 * MS,
            ..Trace::default()
        };
        check(&run, &claim(), &Context::default())
            .into_iter()
            .map(|v| v.oracle)
            .collect::<Vec<_>>()
    };
    assert_eq!(judged(dropped_mid_attempt()), NONE);
    let mut t = dropped_mid_attempt();
    t.retain(|r| r.kind != dropped_call());
    assert_eq!(judged(t), ["calls_end"], "not dropped: stuck");
}

#[test]
fn a_call_dropped_in_a_backoff_it_reported_passes_every_oracle() {
    // The wrapper reported its 100 ms backoff; the caller left 40 ms in:
    // no retry follows the report, and no retry is owed the 503.
    let t = vec![
        rec(0, started(Method::Chat)),
        rec(
            0,
            Kind::Reported {
                event: Reported::Attempt { attempt: 0 },
            },
        ),
        rec(0, attempt(0)),
        rec(10, failed(0, 503, None)),
        rec(10, delay(0, 100, false)),
        rec(50, dropped_call()),
    ];
    assert_eq!(names(t.clone(), &claim()), NONE);
    // Ended by the wrapper there instead, the same records break three rules.
    let mut gave_up = t;
    gave_up[5] = rec(50, ended(fail_503()));
    assert_eq!(
        names(gave_up, &claim()),
        [
            "transient_retried",
            "no_sleep_after_final",
            "reported_agrees"
        ]
    );
}

#[test]
fn liveness_after_heal_owes_a_dropped_call_nothing() {
    let healed = Context {
        live_from: Some(Duration::ZERO),
        ..Context::default()
    };
    assert_eq!(names_in(dropped_mid_attempt(), &claim(), &healed), NONE);
    let mut failed_call = retried();
    failed_call.push(rec(120, failed(1, 400, None)));
    let bad_request = Failure::Status {
        status: 400,
        retry_after_ns: None,
        should_retry: None,
    };
    failed_call.push(rec(120, ended(CallOutcome::Failed(bad_request))));
    assert_eq!(
        names_in(failed_call, &claim(), &healed),
        ["liveness_after_heal"]
    );
}

#[test]
fn no_attempt_after_drop_catches_a_retry_after_the_caller_left() {
    let mut t = retried();
    // Dropped at 50 ms, in the backoff; the retry began at 110 ms anyway.
    t.insert(3, rec(50, dropped_call()));
    t.push(rec(120, failed(1, 503, None)));
    let v = check(&trace(t), &claim(), &Context::default());
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].oracle, "no_attempt_after_drop");
    assert_eq!(
        v[0].detail,
        "attempt 1 started 60 ms after the caller dropped the call (at 50 ms)"
    );
}

#[test]
fn no_attempt_after_drop_reads_the_order_at_one_instant() {
    // The caller left at 110 ms, the instant retry 1 was due.
    let at_110 = |records: [Kind; 2]| {
        let mut t = retried();
        t.pop();
        t.extend(records.map(|kind| rec(110, kind)));
        t.push(rec(110, let_go(1)));
        names(t, &claim())
    };
    // Begun before the drop, the retry was abandoned with the call.
    assert_eq!(at_110([attempt(1), dropped_call()]), NONE);
    // Begun after it, it is a retry for nobody.
    assert_eq!(
        at_110([dropped_call(), attempt(1)]),
        ["no_attempt_after_drop"]
    );
}

#[test]
fn abandoned_on_drop_catches_an_attempt_kept_in_flight() {
    let mut t = retried();
    t.push(rec(150, dropped_call()));
    // Answered 160 ms after the caller left.
    t.push(rec(310, failed(1, 503, None)));
    let v = check(&trace(t), &claim(), &Context::default());
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].oracle, "abandoned_on_drop");
    assert_eq!(
        v[0].detail,
        "attempt 1 was in flight when the caller dropped the call (at 150 ms) and ended \
         160 ms later (failed: HTTP 503)"
    );
}

#[test]
fn abandoned_on_drop_allows_one_tick_and_no_more() {
    let ended_after = |ms: u64| {
        let mut t = retried();
        t.push(rec(150, dropped_call()));
        t.push(rec(150 + ms, let_go(1)));
        names(t, &claim())
    };
    assert_eq!(ended_after(1), NONE);
    assert_eq!(ended_after(2), ["abandoned_on_drop"]);
}

#[test]
fn abandoned_on_drop_catches_an_attempt_still_running_when_the_run_stopped() {
    let mut t = retried();
    t.push(rec(150, dropped_call()));
    let stopped = |end_ms: u64| {
        let run = Trace {
            records: t.clone(),
            end_ns: end_ms * MS,
            ..Trace::default()
        };
        check(&run, &claim(), &Context::default())
            .into_iter()
            .map(|v| v.oracle)
            .collect::<Vec<_>>()
    };
    assert_eq!(stopped(3_150), ["abandoned_on_drop"]);
    // A run that stopped at the drop could not show it.
    assert_eq!(stopped(150), NONE);
}

#[test]
fn abandoned_on_drop_spares_an_attempt_that_ended_at_the_drop() {
    // The caller left the instant attempt 0 failed, before any backoff.
    let t = vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(10, failed(0, 503, None)),
        rec(10, dropped_call()),
    ];
    assert_eq!(names(t, &claim()), NONE);
}

/// A chat call whose attempt 0 was let go after `took_ms`, retried after
/// 100 ms, and answered.
fn let_go_after(took_ms: u64) -> Vec<Record> {
    vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(took_ms, let_go(0)),
        rec(took_ms + 100, attempt(1)),
        rec(took_ms + 110, ok(1)),
        rec(took_ms + 110, received(0)),
        rec(took_ms + 110, ended(CallOutcome::Ok)),
    ]
}

#[test]
fn attempt_not_cut_early_catches_an_attempt_let_go_before_its_timeout() {
    // The claim's timeout is 30 s; timers never fire early.
    assert_eq!(names(let_go_after(30_000), &claim()), NONE);
    let v = check(&trace(let_go_after(29_999)), &claim(), &Context::default());
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].oracle, "attempt_not_cut_early");
    assert_eq!(
        v[0].detail,
        "attempt 0 was abandoned after 29.999 s, before its timeout of 30.000 s"
    );
}

#[test]
fn attempt_not_cut_early_judges_the_last_attempt_when_the_call_times_out() {
    let last = |took_ms: u64, outcome: CallOutcome| {
        let t = vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(took_ms, let_go(0)),
            rec(took_ms, ended(outcome)),
        ];
        names(t, &claim()).contains(&"attempt_not_cut_early")
    };
    let timed_out = || CallOutcome::Failed(Failure::Timeout);
    assert!(last(20_000, timed_out()));
    assert!(!last(30_000, timed_out()));
    // A panic unwinding drops the attempt: that is `no_panic`'s to judge.
    let panicked = CallOutcome::Panicked {
        message: "boom".into(),
    };
    assert!(!last(20_000, panicked));
}

#[test]
fn attempt_not_cut_early_spares_what_the_claim_leaves_unbounded() {
    // No timeout at all.
    let untimed_claim = super::claim::Claim {
        timeout_ns: None,
        ..claim()
    };
    assert_eq!(names(let_go_after(5), &untimed_claim), NONE);
    // A method the claim does not time.
    let mut image = let_go_after(5);
    image[0] = rec(0, started(Method::Image));
    assert_eq!(names(image, &claim()), ["not_retried_once"]);
}

#[test]
fn attempt_not_cut_early_spares_a_caller_drop_and_a_gateway_falling_back() {
    assert_eq!(names(dropped_mid_attempt(), &claim()), NONE);
    // Upstream 0 let attempt 1 go 5 ms in and the gateway fell back at once.
    let fell_back = vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt_at(0, 0)),
        rec(10, failed(0, 503, None)),
        rec(110, attempt_at(1, 0)),
        rec(115, let_go(1)),
        rec(115, attempt_at(2, 1)),
        rec(125, ok(2)),
        rec(125, received(0)),
        rec(125, ended(CallOutcome::Ok)),
    ];
    assert_eq!(names(fell_back, &gateway(2)), NONE);
    // Let go within one upstream, the same attempt is cut short.
    let within = vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(10, failed(0, 503, None)),
        rec(110, attempt(1)),
        rec(115, let_go(1)),
        rec(315, attempt(2)),
        rec(325, ok(2)),
        rec(325, received(2)),
        rec(325, ended(CallOutcome::Ok)),
    ];
    assert_eq!(names(within, &claim()), ["attempt_not_cut_early"]);
}

#[test]
fn a_retry_deadline_does_not_excuse_an_attempt_cut_short() {
    // No claim says a deadline cuts an attempt: it bounds the waits only.
    // Cut at the 500 ms deadline, the call ends with a timeout there.
    let deadline = super::claim::Claim {
        deadline_ns: Some(500 * MS),
        ..claim()
    };
    let t = vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(500, let_go(0)),
        rec(500, ended(CallOutcome::Failed(Failure::Timeout))),
    ];
    assert_eq!(names(t, &deadline), ["attempt_not_cut_early"]);
}

#[test]
fn attempt_not_cut_early_gives_the_wire_its_lag_and_no_more() {
    // From the wire the server sees a request after its client's timer
    // started: up to the tolerance's lag (99 ms) short is spared.
    let wire = Context {
        tolerance_ns: WIRE_TOLERANCE_NS,
        ..Context::default()
    };
    assert_eq!(names_in(let_go_after(29_950), &claim(), &wire), NONE);
    assert_eq!(
        names_in(let_go_after(29_900), &claim(), &wire),
        ["attempt_not_cut_early"]
    );
}

#[test]
fn a_call_dropped_or_meant_to_be_gives_no_delay_sample() {
    // Full jitter from 100 ms: the 50 ms wait after attempt 0 is a draw.
    let mut full = claim();
    full.backoff.jitter = super::claim::JitterShape::Scale { lo: 0.0, hi: 1.0 };
    let retried = |end: Kind| {
        vec![
            rec(0, started(Method::Chat)),
            rec(0, attempt(0)),
            rec(10, failed(0, 503, None)),
            rec(60, attempt(1)),
            rec(70, ok(1)),
            rec(100, end),
        ]
    };
    let places = |t: Trace| super::distribution::samples(&t, &full).places.len();
    assert_eq!(places(trace(retried(ended(CallOutcome::Ok)))), 1);
    // Dropped (from the wire, with no plan known): left out.
    assert_eq!(places(trace(retried(dropped_call()))), 0);
    // Meant to be dropped, though it ended first: left out too.
    let planned = Trace {
        walk_aways: vec![(0, 0)],
        ..trace(retried(ended(CallOutcome::Ok)))
    };
    assert_eq!(places(planned), 0);
}
