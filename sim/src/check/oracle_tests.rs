//! Doctored traces: each oracle fires on its violation, and a correct trace passes them all.

use super::claim::{Backoff, Claim, JitterShape, RetryAfterRule};
use super::fixture::{self, *};
use super::oracles::{PER_CALL, WHOLE_CALL};
use super::{Context, check};
use crate::method::Method;
use crate::trace::{AttemptOutcome, CallOutcome, Failure, Reported};
use crate::trace::{ChunkId, GiveUpReason, Kind, Record, Trace};
use std::time::Duration;

#[test]
fn a_correct_trace_passes_every_oracle() {
    assert_eq!(names(good(), &claim()), NONE);
}

#[test]
fn a_violation_prints_its_oracle_call_and_detail() {
    let mut t = good();
    t.pop();
    let v = check(&trace(t), &claim(), &Context::default());
    assert_eq!(
        v[0].to_string(),
        "[calls_end] c0#0: the call never ended (cut off at the simulation horizon)"
    );
}

/// Every doctored trace here goes through the fixture's `names`, which
/// holds each violation's text to human units: the hold is real.
#[test]
#[should_panic(expected = "not human text")]
fn a_verdict_in_nanoseconds_fails_the_fixture() {
    fixture::assert_readable(&[super::Violation {
        oracle: "delay_within_envelope",
        client: 0,
        call: 0,
        detail: "backoff after attempt 1 was 250000000ns, outside [100000000, 200000000]ns".into(),
    }]);
}

#[test]
fn every_per_call_oracle_is_listed_in_report_order() {
    let listed: Vec<&str> = PER_CALL
        .iter()
        .chain(&WHOLE_CALL)
        .map(|(n, _)| *n)
        .collect();
    assert_eq!(listed, super::ORACLES[..listed.len()]);
}

#[test]
fn calls_end_catches_a_call_that_never_ended() {
    let mut t = good();
    t.pop();
    assert_eq!(names(t, &claim()), ["calls_end"]);
}

#[test]
fn calls_end_spares_a_call_the_claim_lets_wait_past_the_trace() {
    // Cut off while waiting backoff 1 (exactly 200 ms here): the trace
    // stopping 150 ms into it is no fault; stopping 250 ms into it is.
    let cut_at = |ms: u64| {
        let mut t = good();
        t.truncate(5);
        t.push(rec(
            120 + ms,
            Kind::ChunkSent {
                stream: 9,
                index: 0,
            },
        ));
        names(t, &claim())
    };
    assert!(!cut_at(150).contains(&"calls_end"));
    assert!(cut_at(250).contains(&"calls_end"));
    // An attempt of a method the claim does not time may hang for ever;
    // A timed one may hang until its timeout (30 s here), not past it.
    let hung = |method: Method, trace_ends_ms: u64| {
        let t = vec![
            rec(0, started(method)),
            rec(0, attempt(0)),
            rec(
                trace_ends_ms,
                Kind::ChunkSent {
                    stream: 9,
                    index: 0,
                },
            ),
        ];
        names(t, &claim()).contains(&"calls_end")
    };
    assert!(!hung(Method::Image, 90_000));
    assert!(!hung(Method::Chat, 29_000));
    assert!(hung(Method::Chat, 31_000));
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
    // Unsupported after reaching the provider, which answered.
    let mut t = good();
    t.truncate(3);
    t[2] = rec(10, ok(0));
    t.push(rec(10, ended(CallOutcome::Failed(Failure::Unsupported))));
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
            digest: None,
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
    // Timed out after 10 ms: the timeout the claim sets (attempts cut
    // sooner are `attempt_not_cut_early`'s).
    let timed = Claim {
        timeout_ns: Some(10 * MS),
        ..claim()
    };
    assert_eq!(names(t, &timed), NONE);
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
        shift(&mut t[5..], by_ns);
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
    shift(&mut t[3..], 50 * MS);
    assert_eq!(names(t.clone(), &claim()), NONE);
    // Up to one tick late is measurement; a nanosecond more is not.
    let late = |by_ns: u64| {
        let mut t = t.clone();
        shift(&mut t[3..], by_ns);
        names(t, &claim())
    };
    assert_eq!(late(MS), NONE);
    assert_eq!(late(MS + 1), ["retry_after_honoured"]);
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
    // The last wait ends at 320 ms: one tick past the deadline is
    // measurement, a nanosecond more is not.
    let by = |deadline_ns| Claim {
        deadline_ns: Some(deadline_ns),
        ..claim()
    };
    assert_eq!(names(good(), &by(319 * MS)), NONE);
    assert_eq!(names(good(), &by(319 * MS - 1)), ["deadline_respected"]);
    // Ending instead of waiting past the deadline is allowed.
    let mut t = good();
    t.truncate(5);
    t.push(rec(120, ended(fail_503())));
    assert_eq!(names(t, &strict), NONE);
}

#[test]
fn a_wait_ending_exactly_on_the_deadline_must_be_taken() {
    // Attempt 1 failed at 120 ms; the next backoff (item 1) is 200 ms, so
    // it would end at 320 ms: on a 320 ms deadline the call had to wait.
    let mut t = good();
    t.truncate(5);
    t.push(rec(120, ended(fail_503())));
    let by = |ms: u64, jitter| Claim {
        deadline_ns: Some(ms * MS),
        backoff: Backoff {
            jitter,
            ..claim().backoff
        },
        ..claim()
    };
    let none = JitterShape::Scale { lo: 1.0, hi: 1.0 };
    assert_eq!(names(t.clone(), &by(320, none)), ["transient_retried"]);
    assert_eq!(names(t.clone(), &by(319, none)), NONE);
    // Full jitter: [0, 200] ms; only a draw that ends past the deadline
    // may end the call, and ending exactly on it is not past it.
    let full = JitterShape::Scale { lo: 0.0, hi: 1.0 };
    assert_eq!(names(t.clone(), &by(320, full)), ["transient_retried"]);
    assert_eq!(names(t.clone(), &by(319, full)), NONE);
    // The deadline counts from the first attempt's start, not from 0.
    shift(&mut t, 1_000 * MS);
    assert_eq!(names(t.clone(), &by(320, none)), ["transient_retried"]);
    assert_eq!(names(t, &by(319, none)), NONE);
}

#[test]
fn a_retry_after_on_a_non_transient_error_is_not_a_wait_to_honour() {
    // Retried after a 400 carrying a 150 ms Retry-After, with the 100 ms
    // backoff: the retry itself is the fault, not the length of the wait.
    let mut t = good();
    t[2] = rec(10, failed(0, 400, Some(150)));
    assert_eq!(names(t, &claim()), ["non_transient_once"]);
}

#[test]
fn an_attempt_end_closes_the_attempt_it_names() {
    // Attempt 1 starts before attempt 0 ends (a hedging wrapper): each
    // end belongs to its own attempt, not to the latest open one.
    let t = [
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(5, attempt(1)),
        rec(10, failed(0, 503, None)),
        rec(20, ok(1)),
    ];
    let c = super::model::Call::of(&t.iter().collect::<Vec<_>>());
    let ends: Vec<Option<u64>> = c
        .attempts
        .iter()
        .map(|a| a.end.as_ref().map(|e| e.0))
        .collect();
    assert_eq!(ends, [Some(10 * MS), Some(20 * MS)]);
}

#[test]
fn a_retry_after_of_exactly_the_maximum_is_waited() {
    let max = |ms: u64| Claim {
        retry_after: RetryAfterRule::Exact { max_ns: ms * MS },
        ..claim()
    };
    // Waited (100 ms after the end at 10 ms): right at the maximum, wrong above it.
    let mut t = good();
    t[2] = rec(10, failed(0, 503, Some(100)));
    assert_eq!(names(t.clone(), &max(100)), NONE);
    assert_eq!(names(t.clone(), &max(99)), ["retry_after_honoured"]);
    // Not waited: wrong at the maximum, right above it.
    t.truncate(3);
    t.push(rec(10, ended(fail_503())));
    assert_eq!(names(t.clone(), &max(100)), ["transient_retried"]);
    assert_eq!(names(t, &max(99)), NONE);
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
        rec(10, fixture::ok(0)),
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

/// A stream oracle counts the streams it judged, and says so.
#[test]
fn a_stream_oracle_counts_its_streams() {
    let sent = [(4, 0), (4, 1), (4, 2)];
    let whole = [id(0, 0, 4, 0), id(0, 0, 4, 1), id(0, 0, 4, 2)];
    let t = trace(streamed(&sent, &whole, true));
    let j = super::judgement(&t, &claim(), &Context::default());
    let tally = j.tally("stream_integrity");
    assert_eq!((tally.calls, tally.streams), (1, 1), "{tally:?}");
    assert_eq!(j.unviolated("stream_integrity"), "held (1 call, 1 stream)");
}

#[test]
fn stream_integrity_catches_lost_duplicated_spliced_and_foreign_items() {
    let sent = [(4, 0), (4, 1), (4, 2)];
    let judge = |received: &[Option<ChunkId>], ok| names(streamed(&sent, received, ok), &claim());
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
fn a_stream_handed_over_is_judged_by_the_stream_oracles_not_as_a_retry() {
    // An attempt after the stream failed, failing transiently with retries
    // left: it is no retry of the open, whose end `transient_retried`
    // judges; what the caller received is `stream_integrity`'s.
    let mut t = streamed(&[(4, 0), (4, 1)], &[id(0, 0, 4, 0)], false);
    t.pop();
    t.push(rec(20, attempt(1)));
    t.push(rec(30, failed(1, 503, None)));
    t.push(rec(30, ended(fail_503())));
    let found = names(t, &claim());
    assert!(!found.contains(&"transient_retried"), "{found:?}");
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
    let later = |by_ns: u64| {
        let mut t = t.clone();
        t[at].t += by_ns;
        names(t, &idle)
    };
    // One tick past the bound is measurement, a nanosecond more is not.
    assert_eq!(later(6 * MS), NONE);
    assert_eq!(later(6 * MS + 1), ["stream_idle_bounded"]);
    // A silence the wrapper ended with a timeout, 20 ms after the last item.
    let mut cut = streamed(&sent, &received, false);
    let n = cut.len();
    shift(&mut cut[n - 2..], 20 * MS);
    assert_eq!(names(cut, &idle), ["stream_idle_bounded"]);
    t[at].t += 20 * MS;
    assert_eq!(names(t.clone(), &idle), ["stream_idle_bounded"]);
    // A method the claim does not time has no bound.
    let untimed = Claim {
        timed: Default::default(),
        ..idle.clone()
    };
    assert_eq!(names(t.clone(), &untimed), NONE);
    let unbounded = Claim {
        stream_idle_ns: None,
        ..claim()
    };
    assert_eq!(names(t, &unbounded), NONE);
}

#[test]
fn stream_idle_bounded_judges_the_first_item_by_the_first_chunk_bound() {
    let sent = [(4, 0), (4, 1)];
    let received = [id(0, 0, 4, 0), id(0, 0, 4, 1)];
    let mut t = streamed(&sent, &received, true);
    // Both items (and the end) come 20 ms later: the first 22 ms after
    // the hand-over, the second right after it.
    let n = t.len();
    shift(&mut t[n - 3..], 20 * MS);
    let bounds = |first_chunk_ns, stream_idle_ns| Claim {
        first_chunk_ns,
        stream_idle_ns,
        ..claim()
    };
    let judge = |first, idle| names(t.clone(), &bounds(first, idle));
    // A first-chunk bound past the silence, or none, lets a short idle bound pass.
    assert_eq!(judge(Some(30 * MS), Some(5 * MS)), NONE);
    assert_eq!(judge(None, Some(5 * MS)), NONE);
    // A first-chunk bound shorter than the silence is caught, however long the idle bound.
    assert_eq!(judge(Some(5 * MS), Some(60 * MS)), ["stream_idle_bounded"]);
    assert_eq!(judge(Some(5 * MS), None), ["stream_idle_bounded"]);
}

#[test]
fn stream_cut_at_bound_catches_a_timeout_before_the_bound() {
    let sent = [(4, 0)];
    // A timeout 40 ms after the hand-over (at 10 ms), before any item.
    let mut silent = streamed(&[], &[], false);
    let n = silent.len();
    for r in &mut silent[n - 2..] {
        r.t = 50 * MS;
    }
    // A timeout 40 ms after the one item (at 12 ms).
    let mut stalled = streamed(&sent, &[id(0, 0, 4, 0)], false);
    let n = stalled.len();
    for r in &mut stalled[n - 2..] {
        r.t = 52 * MS;
    }
    let bounds = |first_chunk_ns, stream_idle_ns| Claim {
        first_chunk_ns,
        stream_idle_ns,
        ..claim()
    };
    let judge = |t: &Vec<Record>, first, idle| names(t.clone(), &bounds(first, idle));
    // Cut exactly at the bound that applies, or past it (the other
    // oracle's business), or with no bound claimed: not this oracle's.
    assert_eq!(judge(&silent, Some(40 * MS), Some(5 * MS)), NONE);
    assert_eq!(judge(&stalled, Some(500 * MS), Some(40 * MS)), NONE);
    assert_eq!(judge(&silent, None, Some(5 * MS)), NONE);
    // Cut before the bound that applies: the first-chunk bound before the
    // first item however short the idle bound, the idle bound after it.
    assert_eq!(
        judge(&silent, Some(41 * MS), Some(5 * MS)),
        ["stream_cut_at_bound"]
    );
    assert_eq!(
        judge(&stalled, Some(5 * MS), Some(41 * MS)),
        ["stream_cut_at_bound"]
    );
    // A stream that ended cleanly is not judged.
    let ok = streamed(&sent, &[id(0, 0, 4, 0)], true);
    assert_eq!(judge(&ok, Some(500 * MS), Some(500 * MS)), NONE);
}

#[test]
fn calls_end_spares_a_stream_awaiting_its_first_item_only_without_a_first_chunk_bound() {
    let mut t = streamed(&[], &[], true);
    t.pop();
    let waiting = Claim {
        first_chunk_ns: None,
        stream_idle_ns: Some(5 * MS),
        ..claim()
    };
    assert!(!names(t.clone(), &waiting).contains(&"calls_end"));
    let bounded = Claim {
        first_chunk_ns: Some(5 * MS),
        ..waiting
    };
    assert!(names(t, &bounded).contains(&"calls_end"));
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
    // A misreported delay: 150 ms reported, 200 ms waited.
    let mut misreported = t.clone();
    misreported[8] = rec(120, delay(1, 150, false));
    assert_eq!(names(misreported, &claim()), ["reported_agrees"]);
    // The wait measured one tick longer than reported is measurement; a
    // nanosecond more is not (nor is it within the backoff's envelope).
    let late = |by_ns: u64| {
        let mut t = t.clone();
        shift(&mut t[9..], by_ns);
        names(t, &claim())
    };
    assert_eq!(late(MS), NONE);
    assert_eq!(late(MS + 1), ["delay_within_envelope", "reported_agrees"]);
}

#[test]
fn reported_agrees_catches_silence_and_misnumbered_attempts() {
    // A subject that claims to report and reports nothing.
    let reporting = Claim {
        reports: true,
        ..claim()
    };
    assert!(names(good(), &reporting).contains(&"reported_agrees"));
    assert!(!names(good(), &claim()).contains(&"reported_agrees"));
    // Reports numbering the attempts 0, 0, 1 where the provider saw 0, 1, 2.
    let mut t = good();
    for (at, n) in [(1, 0), (4, 0), (7, 1)] {
        t.insert(
            at,
            rec(
                t[at].t / MS,
                Kind::Reported {
                    event: Reported::Attempt { attempt: n },
                },
            ),
        );
    }
    assert!(names(t, &reporting).contains(&"reported_agrees"));
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
    let gave_up_after = |attempt, reason| {
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
                event: Reported::GaveUp { attempt, reason },
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
    let gave_up = |reason| gave_up_after(0, reason);
    assert_eq!(gave_up(GiveUpReason::Budget), NONE);
    assert_eq!(gave_up(GiveUpReason::Exhausted), ["reported_agrees"]);
    // Giving up is reported after the last attempt, not another.
    assert_eq!(gave_up_after(1, GiveUpReason::Budget), ["reported_agrees"]);
}

#[test]
fn reported_agrees_accepts_any_reason_the_claim_may_end_a_call_for() {
    // Attempt 1 failed at 120 ms; the next wait, fully jittered, is in
    // [0, 200] ms: on a 250 ms deadline it may end past it or not, and the
    // budget may be empty. Neither is certain, so either reason is true.
    let gave_up = |reason| {
        let mut t = good();
        t.truncate(5);
        for (at, attempt) in [(1, 0), (4, 1)] {
            t.insert(
                at,
                rec(
                    t[at].t / MS,
                    Kind::Reported {
                        event: Reported::Attempt { attempt },
                    },
                ),
            );
        }
        t.push(rec(
            120,
            Kind::Reported {
                event: Reported::GaveUp { attempt: 1, reason },
            },
        ));
        t.push(rec(120, ended(fail_503())));
        let claim = Claim {
            budget: true,
            deadline_ns: Some(250 * MS),
            backoff: Backoff {
                jitter: JitterShape::Scale { lo: 0.0, hi: 1.0 },
                ..claim().backoff
            },
            ..claim()
        };
        names(t, &claim)
    };
    assert_eq!(gave_up(GiveUpReason::Deadline), NONE);
    assert_eq!(gave_up(GiveUpReason::Budget), NONE);
    assert_eq!(gave_up(GiveUpReason::Exhausted), ["reported_agrees"]);
}

#[test]
fn liveness_catches_a_failure_after_heal() {
    let mut t = good();
    *t.last_mut().unwrap() = rec(330, ended(fail_503()));
    let live = Context {
        live_from: Some(Duration::ZERO),
        ..Context::default()
    };
    assert!(names_in(t.clone(), &claim(), &live).contains(&"liveness_after_heal"));
    let later = Context {
        live_from: Some(Duration::from_millis(1)),
        ..Context::default()
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

/// The Python SDKs' Retry-After rule, scaled to milliseconds: a positive
/// one up to 120 ms is waited; `refuse_above` says what happens past it.
fn positive(refuse_above: bool) -> Claim {
    Claim {
        retry_after: RetryAfterRule::Positive {
            max_ns: 120 * MS,
            refuse_above,
        },
        ..claim()
    }
}

#[test]
fn a_zero_retry_after_under_the_positive_rule_waits_the_backoff() {
    let mut t = good();
    t[2] = rec(10, failed(0, 503, Some(0)));
    // The 100 ms backoff was waited: right for the SDKs, wrong for an exact rule.
    assert_eq!(names(t.clone(), &positive(true)), NONE);
    assert_eq!(names(t.clone(), &claim()), ["retry_after_honoured"]);
    // Retrying at once after a zero Retry-After skips the SDKs' backoff.
    for r in &mut t[3..] {
        r.t -= 100 * MS;
    }
    assert_eq!(names(t, &positive(true)), ["delay_within_envelope"]);
}

#[test]
fn a_retry_after_above_the_positive_maximum_is_refused_or_clamped() {
    let mut t = good();
    t[2] = rec(10, failed(0, 503, Some(150)));
    // Waited in full: wrong whether refused or clamped.
    shift(&mut t[3..], 50 * MS);
    assert_eq!(names(t.clone(), &positive(true)), ["retry_after_honoured"]);
    assert_eq!(names(t.clone(), &positive(false)), ["retry_after_honoured"]);
    // Clamped to the maximum: right only where the claim clamps.
    for r in &mut t[3..] {
        r.t -= 30 * MS;
    }
    assert_eq!(names(t.clone(), &positive(false)), NONE);
    // Ending at once: right only where the claim refuses.
    t.truncate(3);
    t.push(rec(10, ended(fail_503())));
    assert_eq!(names(t.clone(), &positive(true)), NONE);
    assert_eq!(names(t, &positive(false)), ["transient_retried"]);
}

#[test]
fn the_contexts_tolerance_bounds_lateness_and_the_callers_lag() {
    let wire = Context {
        tolerance_ns: super::WIRE_TOLERANCE_NS,
        ..Context::default()
    };
    // The second backoff 30 ms late, and the caller seeing the end 20 ms late.
    let mut t = good();
    shift(&mut t[5..], 30 * MS);
    t.last_mut().unwrap().t += 20 * MS;
    let simulated = names_in(t.clone(), &claim(), &Context::default());
    assert_eq!(simulated, ["delay_within_envelope"]);
    assert_eq!(names_in(t.clone(), &claim(), &wire), NONE);
    // A failed call the caller saw end 20 ms after its last attempt.
    t.truncate(6);
    t.push(rec(360, failed(2, 400, None)));
    t.push(rec(380, ended(fail_503())));
    let simulated = names_in(t.clone(), &claim(), &Context::default());
    assert!(simulated.contains(&"no_sleep_after_final"), "{simulated:?}");
    assert_eq!(names_in(t, &claim(), &wire), NONE);
}

#[test]
fn calls_end_catches_a_call_cut_off_waiting_a_refused_retry_after() {
    // Still waiting 100 ms after a Retry-After, when the run stopped.
    let cut = |retry_after_ms: u64| {
        let mut t = good();
        t.truncate(3);
        t[2] = rec(10, failed(0, 503, Some(retry_after_ms)));
        let mut cut = trace(t);
        cut.end_ns = 110 * MS;
        cut
    };
    let judged = |cut: &Trace, claim: &Claim| -> Vec<&str> {
        check(cut, claim, &Context::default())
            .into_iter()
            .map(|v| v.oracle)
            .collect()
    };
    assert_eq!(judged(&cut(150), &positive(true)), ["calls_end"]);
    assert_eq!(judged(&cut(150), &positive(false)), NONE);
    // A Retry-After of exactly the most the claim accepts is waited.
    assert_eq!(judged(&cut(120), &positive(true)), NONE);
}

#[test]
fn a_fallback_the_claim_allows_passes_every_oracle() {
    assert_eq!(names(fell_back(), &gateway(2)), NONE);
    // The same call under a claim of one upstream: it went where none may.
    assert_eq!(names(fell_back(), &gateway(1)), ["fallback_in_order"]);
}

#[test]
fn each_deployment_is_judged_on_its_part_of_the_call() {
    // Upstream 0 gives up after one 503 with a retry left: the stock
    // gateway's chat. Its part of the call ended early.
    let mut t = fell_back();
    t.drain(3..5);
    for r in t.iter_mut().skip(3) {
        r.t -= 110 * MS;
    }
    let v = check(&trace(t.clone()), &gateway(2), &Context::default());
    let found: Vec<&str> = v.iter().map(|v| v.oracle).collect();
    assert_eq!(found, ["transient_retried"]);
    assert!(v[0].detail.starts_with("upstream 0: "), "{}", v[0].detail);
    // Waiting before falling back is a sleep after upstream 0's final attempt.
    shift(&mut t[3..], 50 * MS);
    let v = check(&trace(t), &gateway(2), &Context::default());
    let found: Vec<&str> = v.iter().map(|v| v.oracle).collect();
    assert_eq!(found, ["transient_retried", "no_sleep_after_final"]);
    // Upstream 1 waits no backoff after upstream 0's last failure: a
    // fallback is no retry. But a wait inside upstream 1 is judged.
    let mut t = fell_back();
    t.splice(
        5..7,
        [
            rec(120, attempt_at(2, 1)),
            rec(125, failed(2, 503, None)),
            rec(126, attempt_at(3, 1)),
            rec(130, ok(3)),
        ],
    );
    let v = check(&trace(t), &gateway(2), &Context::default());
    let found: Vec<&str> = v.iter().map(|v| v.oracle).collect();
    assert_eq!(found, ["delay_within_envelope"]);
    assert!(v[0].detail.starts_with("upstream 1: "), "{}", v[0].detail);
}

#[test]
fn fallback_in_order_catches_a_call_out_of_order() {
    let reorder = |upstreams: [u32; 3]| {
        let mut t = fell_back();
        for (i, u) in upstreams.into_iter().enumerate() {
            let at = [1, 3, 5][i];
            t[at] = rec(t[at].t / MS, attempt_at(i as u32, u));
        }
        names(t, &gateway(3))
    };
    // Started at the second deployment; skipped one; went back.
    assert!(reorder([1, 1, 2]).contains(&"fallback_in_order"));
    assert!(reorder([0, 0, 2]).contains(&"fallback_in_order"));
    assert!(reorder([0, 1, 0]).contains(&"fallback_in_order"));
    assert_eq!(reorder([0, 0, 1]), NONE);
}

#[test]
fn fallback_taken_catches_a_transient_failure_returned_with_upstreams_left() {
    // Upstream 0 spends its two attempts; the call fails there.
    let mut t = fell_back();
    t.truncate(5);
    t.push(rec(120, ended(fail_503())));
    assert_eq!(names(t.clone(), &gateway(2)), ["fallback_taken"]);
    // With no upstream left it is the gateway's answer.
    assert_eq!(names(t.clone(), &gateway(1)), NONE);
    // So is a failure that is not transient, and one of a method the
    // claim does not retry.
    let mut refused = t.clone();
    refused.truncate(2);
    refused.push(rec(10, failed(0, 400, None)));
    refused.push(rec(
        10,
        ended(CallOutcome::Failed(Failure::Status {
            status: 400,
            retry_after_ns: None,
            should_retry: None,
        })),
    ));
    assert_eq!(names(refused, &gateway(2)), NONE);
    let unretried = Claim {
        retried: Default::default(),
        ..gateway(2)
    };
    t.drain(3..5);
    t[3].t = 10 * MS;
    assert_eq!(names(t, &unretried), NONE);
    // Nor is a stream handed over: an attempt after it is no retry.
    let mut t = streamed(&[(4, 0), (4, 1)], &[id(0, 0, 4, 0)], false);
    t.pop();
    t.push(rec(20, attempt(1)));
    t.push(rec(30, failed(1, 503, None)));
    t.push(rec(30, ended(fail_503())));
    let found = names(t, &gateway(2));
    assert!(!found.contains(&"fallback_taken"), "{found:?}");
    // Both upstreams spent: the call may fail.
    let mut t = fell_back();
    t.splice(
        6..,
        [
            rec(130, failed(2, 503, None)),
            rec(230, attempt_at(3, 1)),
            rec(240, failed(3, 503, None)),
            rec(240, ended(fail_503())),
        ],
    );
    assert_eq!(names(t.clone(), &gateway(2)), NONE);
    // Of three, the failure came from the second.
    assert_eq!(names(t, &gateway(3)), ["fallback_taken"]);
}

#[test]
fn no_call_makes_more_attempts_than_its_upstreams_allow_together() {
    // A third attempt at upstream 0 under a claim of two each: 4 attempts
    // for 2 + 2 allowed, yet over upstream 0's part.
    let mut t = fell_back();
    t.splice(
        5..5,
        [rec(320, attempt_at(5, 0)), rec(330, failed(5, 503, None))],
    );
    shift(&mut t[7..], 300 * MS);
    assert!(names(t, &gateway(2)).contains(&"attempts_bounded"));
}

#[test]
fn a_part_left_open_or_after_a_200_ends_where_the_call_moved_on() {
    // Upstream 0's second attempt never answered: left at 220 ms, it
    // timed out there (a transient end, its retries spent).
    let mut t = fell_back();
    t.remove(4);
    shift(&mut t[4..], 100 * MS);
    assert_eq!(names(t.clone(), &gateway(2)), NONE);
    let mut timed = gateway(2);
    timed.timeout_ns = Some(50 * MS);
    assert_eq!(names(t, &timed), ["attempt_within_timeout"]);
    // Left after a 200: an unusable answer, not transient, so a part that
    // ends there with a retry left is no violation.
    let mut t = fell_back();
    t[4] = rec(120, ok(1));
    assert_eq!(names(t, &gateway(2)), NONE);
}

#[test]
fn parts_number_their_attempts_in_order_whatever_the_record_says() {
    // Numbers from the wire may come out of order; nothing panics.
    let mut t = fell_back();
    t[5] = rec(120, attempt_at(0, 1));
    t[6] = rec(130, ok(0));
    let call = super::model::Call::of(&t.iter().collect::<Vec<_>>());
    let parts = call.parts();
    let numbers: Vec<Vec<u32>> = parts
        .iter()
        .map(|p| p.attempts.iter().map(|a| a.number).collect())
        .collect();
    assert_eq!(numbers, [vec![0, 1], vec![0]]);
    // Every part is of the same call, by the same client, of one method.
    for r in &mut t {
        (r.client, r.call) = (3, 7);
    }
    let call = super::model::Call::of(&t.iter().collect::<Vec<_>>());
    let parts = call.parts();
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert_eq!((p.client, p.call, p.method()), (3, 7, Some(Method::Chat)));
    }
}

#[test]
fn a_part_of_a_call_works_out_its_own_held_answers() {
    // The whole call's held answers, worked out once, are of its
    // attempts: a part, with fewer, must not read them as its own.
    let call = super::model::Call::of(&fell_back().iter().collect::<Vec<_>>());
    let whole = super::throttle::Holds {
        before: vec![super::throttle::Held { least: 1, most: 2 }; call.attempts.len()],
        ..Default::default()
    };
    let call = super::model::Call {
        holds: Some(std::sync::Arc::new(whole)),
        ..call
    };
    let parts = call.parts();
    assert_eq!(parts.len(), 2);
    for p in &parts {
        assert_eq!(p.holds, None, "{p:?}");
    }
}

// Not judged: each oracle says so of a call that holds nothing it judges,
// and judges the nearest call that does; a table never calls it held.

#[test]
fn a_correct_chat_call_is_judged_by_the_oracles_it_concerns_only() {
    assert_eq!(
        judged(good(), &claim()),
        [
            "calls_end",
            "no_panic",
            "forwarding",
            "capabilities",
            "attempts_bounded",
            "delay_within_envelope",
            "attempt_within_timeout",
            "stream_integrity",
            "first_attempt_at_once",
        ]
    );
}

#[test]
fn the_tally_counts_the_calls_judged_their_attempts_and_waits() {
    let mut t = good();
    // A second call (client 1): one attempt, no wait.
    t.extend([
        Record {
            client: 1,
            ..rec(0, started(Method::Chat))
        },
        Record {
            client: 1,
            ..rec(0, attempt(0))
        },
        Record {
            client: 1,
            ..rec(5, fixture::ok(0))
        },
        Record {
            client: 1,
            ..rec(5, ended(CallOutcome::Ok))
        },
    ]);
    let j = super::judgement(&trace(t), &claim(), &Context::default());
    let tally = |calls, attempts| super::Tally {
        calls,
        attempts,
        ..super::Tally::default()
    };
    assert_eq!(j.tally("attempts_bounded"), tally(2, 4));
    // The waits it judged: two, between the first call's three attempts.
    assert_eq!(
        j.tally("delay_within_envelope"),
        super::Tally {
            waits: 2,
            ..tally(1, 3)
        }
    );
    assert_eq!(
        j.unviolated("delay_within_envelope"),
        "held (1 call, 2 waits)"
    );
    assert_eq!(j.tally("retry_after_honoured"), tally(0, 0));
    assert_eq!(j.unviolated("retry_after_honoured"), "not exercised");
    assert_eq!(
        j.unviolated("attempts_bounded"),
        "held (2 calls, 4 attempts)"
    );
}

/// A chat call that started and is still in its first attempt.
fn open_call() -> Vec<Record> {
    vec![rec(0, started(Method::Chat)), rec(0, attempt(0))]
}

#[test]
fn calls_end_judges_only_a_call_that_started() {
    assert!(!judges("calls_end", good()[1..].to_vec(), &claim()));
    assert!(judges("calls_end", open_call(), &claim()));
}

#[test]
fn no_panic_and_forwarding_judge_only_a_call_that_ended() {
    for oracle in ["no_panic", "forwarding"] {
        assert!(!judges(oracle, open_call(), &claim()), "{oracle}");
        assert!(judges(oracle, good(), &claim()), "{oracle}");
    }
}

#[test]
fn capabilities_judges_only_a_call_that_started() {
    assert!(!judges("capabilities", good()[1..].to_vec(), &claim()));
    assert!(judges("capabilities", open_call(), &claim()));
}

#[test]
fn attempts_bounded_judges_only_a_call_with_attempts() {
    let none = vec![rec(0, started(Method::Chat)), rec(0, ended(fail_503()))];
    assert!(!judges("attempts_bounded", none, &claim()));
    assert!(judges("attempts_bounded", open_call(), &claim()));
}

#[test]
fn not_retried_once_judges_only_a_method_the_claim_does_not_retry() {
    assert!(!judges("not_retried_once", good(), &claim()));
    let once = vec![
        rec(0, started(Method::Image)),
        rec(0, attempt(0)),
        rec(5, fixture::ok(0)),
        rec(5, ended(CallOutcome::Ok)),
    ];
    assert!(judges("not_retried_once", once, &claim()));
}

#[test]
fn non_transient_once_judges_only_a_call_with_a_non_transient_failure() {
    assert!(!judges("non_transient_once", good(), &claim()));
    let mut t = good();
    t.truncate(3);
    t[2] = rec(10, failed(0, 400, None));
    t.push(rec(
        10,
        ended(CallOutcome::Failed(Failure::Status {
            status: 400,
            retry_after_ns: None,
            should_retry: None,
        })),
    ));
    assert!(judges("non_transient_once", t.clone(), &claim()));
    assert_eq!(names(t, &claim()), NONE, "judged, and held");
}

#[test]
fn transient_retried_judges_only_a_call_given_up_after_a_transient_failure() {
    assert!(!judges("transient_retried", good(), &claim()));
    let mut t = good();
    t.truncate(5);
    t.push(rec(120, ended(fail_503())));
    assert!(judges("transient_retried", t, &claim()));
}

#[test]
fn delay_within_envelope_judges_only_a_call_that_waited_a_backoff() {
    assert!(!judges("delay_within_envelope", open_call(), &claim()));
    // A Retry-After wait has no envelope.
    let mut t = good();
    t.truncate(5);
    t[2] = rec(10, failed(0, 503, Some(100)));
    assert!(!judges("delay_within_envelope", t.clone(), &claim()));
    assert!(judges("retry_after_honoured", t, &claim()));
}

#[test]
fn retry_after_honoured_judges_only_a_retry_after_waited_under_a_claim_that_reads_it() {
    assert!(!judges("retry_after_honoured", good(), &claim()));
    let mut t = good();
    t[2] = rec(10, failed(0, 503, Some(100)));
    assert!(judges("retry_after_honoured", t.clone(), &claim()));
    let ignored = Claim {
        retry_after: RetryAfterRule::Ignored,
        ..claim()
    };
    assert!(!judges("retry_after_honoured", t, &ignored));
}

#[test]
fn no_sleep_after_final_judges_only_a_failed_call_with_attempts() {
    assert!(!judges("no_sleep_after_final", good(), &claim()));
    let mut t = good();
    *t.last_mut().unwrap() = rec(330, ended(fail_503()));
    assert!(judges("no_sleep_after_final", t, &claim()));
}

#[test]
fn deadline_respected_judges_only_a_wait_under_a_deadline() {
    assert!(!judges("deadline_respected", good(), &claim()));
    let deadline = Claim {
        deadline_ns: Some(10_000 * MS),
        ..claim()
    };
    assert!(judges("deadline_respected", good(), &deadline));
    assert!(!judges("deadline_respected", open_call(), &deadline));
}

#[test]
fn attempt_within_timeout_judges_only_an_ended_attempt_of_a_timed_method() {
    assert!(judges("attempt_within_timeout", good(), &claim()));
    assert!(!judges("attempt_within_timeout", open_call(), &claim()));
    let untimed = Claim {
        timed: Default::default(),
        ..claim()
    };
    assert!(!judges("attempt_within_timeout", good(), &untimed));
    let no_timeout = Claim {
        timeout_ns: None,
        ..claim()
    };
    assert!(!judges("attempt_within_timeout", good(), &no_timeout));
}

#[test]
fn stream_integrity_judges_only_what_a_call_received_or_should_have() {
    let mut failed = good();
    failed.truncate(5);
    failed.push(rec(120, ended(fail_503())));
    assert!(!judges("stream_integrity", failed, &claim()));
    assert!(judges("stream_integrity", good(), &claim()));
    let sent = [(4, 0)];
    assert!(judges(
        "stream_integrity",
        streamed(&sent, &[], false),
        &claim()
    ));
}

#[test]
fn stream_idle_bounded_judges_only_a_bounded_silence_of_a_stream_handed_over() {
    let sent = [(4, 0), (4, 1)];
    let received = [id(0, 0, 4, 0), id(0, 0, 4, 1)];
    let t = streamed(&sent, &received, true);
    assert!(!judges("stream_idle_bounded", t.clone(), &claim()));
    let idle = Claim {
        stream_idle_ns: Some(5 * MS),
        ..claim()
    };
    assert!(judges("stream_idle_bounded", t, &idle));
    assert!(!judges("stream_idle_bounded", good(), &idle));
    // One item and no first-chunk bound: no silence it bounds.
    let one = streamed(&sent[..1], &received[..1], true);
    assert!(!judges("stream_idle_bounded", one, &idle));
}

#[test]
fn stream_cut_at_bound_judges_only_a_stream_a_timeout_ended_under_a_bound() {
    let bounded = Claim {
        first_chunk_ns: Some(40 * MS),
        stream_idle_ns: Some(40 * MS),
        ..claim()
    };
    let cut = streamed(&[], &[], false);
    assert!(judges("stream_cut_at_bound", cut.clone(), &bounded));
    assert!(!judges("stream_cut_at_bound", cut, &claim()));
    let whole = streamed(&[(4, 0)], &[id(0, 0, 4, 0)], true);
    assert!(!judges("stream_cut_at_bound", whole, &bounded));
}

#[test]
fn reported_agrees_judges_only_a_report_or_a_call_that_owed_one() {
    assert!(!judges("reported_agrees", good(), &claim()));
    let reports = Claim {
        reports: true,
        ..claim()
    };
    assert!(judges("reported_agrees", good(), &reports));
    let mut t = good();
    t.insert(3, rec(10, delay(0, 100, false)));
    assert!(judges("reported_agrees", t, &claim()));
}

#[test]
fn liveness_after_heal_judges_only_a_call_started_after_the_bound() {
    let judged_from = |ms: u64| {
        let live = Context {
            live_from: Some(Duration::from_millis(ms)),
            ..Context::default()
        };
        judged_in(good(), &claim(), &live).contains(&"liveness_after_heal")
    };
    assert!(judged_from(0));
    assert!(!judged_from(1));
    assert!(!judges("liveness_after_heal", good(), &claim()));
}

#[test]
fn fallback_oracles_judge_only_a_gateway_of_several_upstreams() {
    for oracle in ["fallback_in_order", "fallback_taken"] {
        let mut failed = good();
        *failed.last_mut().unwrap() = rec(330, ended(fail_503()));
        assert!(!judges(oracle, failed, &claim()), "{oracle}");
    }
    assert!(judges("fallback_in_order", fell_back(), &gateway(2)));
    assert!(!judges("fallback_taken", fell_back(), &gateway(2)));
    let mut gave_up = fell_back();
    gave_up.truncate(5);
    gave_up.push(rec(120, ended(fail_503())));
    assert!(judges("fallback_taken", gave_up, &gateway(2)));
}

#[test]
fn delay_distribution_is_not_judged_on_fewer_samples_than_its_test_needs() {
    assert!(!judges(super::DELAY_DISTRIBUTION, good(), &claim()));
}
