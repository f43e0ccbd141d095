//! The `x-should-retry` header under both claims: a client that obeys it
//! where the claim ignores it, or ignores it where the claim honours it, is
//! convicted (by `non_transient_once` or `transient_retried`); the shape
//! the claim describes is acquitted.

use super::claim::{Claim, ShouldRetryHeader};
use super::fixture::*;
use crate::method::Method;
use crate::trace::{AttemptOutcome, CallOutcome, Failure, Kind, Record};

/// [`claim`] with the header honoured, as the official SDKs do.
fn honoured() -> Claim {
    Claim {
        should_retry_header: ShouldRetryHeader::Honoured,
        ..claim()
    }
}

fn status(status: u16, retry: bool) -> Failure {
    Failure::Status {
        status,
        retry_after_ns: None,
        should_retry: Some(retry),
    }
}

/// Attempt `attempt` answered `status` with `x-should-retry: retry`.
fn answered(attempt: u32, code: u16, retry: bool) -> Kind {
    Kind::AttemptEnded {
        attempt,
        outcome: AttemptOutcome::Failed(status(code, retry)),
    }
}

/// One attempt answered `code` with the header, and the call ended with it.
fn stopped(code: u16, retry: bool) -> Vec<Record> {
    vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(10, answered(0, code, retry)),
        rec(10, ended(CallOutcome::Failed(status(code, retry)))),
    ]
}

/// One attempt answered `code` with the header, retried after the
/// claim's first backoff (100 ms), which succeeded.
fn retried(code: u16, retry: bool) -> Vec<Record> {
    vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(10, answered(0, code, retry)),
        rec(110, attempt(1)),
        rec(120, ok(1)),
        rec(120, received(1)),
        rec(120, ended(CallOutcome::Ok)),
    ]
}

#[test]
fn false_ends_a_retryable_status_at_once_under_an_honoured_claim() {
    assert_eq!(names(stopped(503, false), &honoured()), NONE);
    // Planted: a client that ignores the header retries the 503.
    assert_eq!(
        names(retried(503, false), &honoured()),
        ["non_transient_once"]
    );
}

#[test]
fn true_retries_any_status_under_an_honoured_claim() {
    assert_eq!(names(retried(400, true), &honoured()), NONE);
    // Planted: a client that ignores the header gives up on the 400.
    assert_eq!(
        names(stopped(400, true), &honoured()),
        ["transient_retried"]
    );
}

#[test]
fn the_header_changes_nothing_under_an_ignored_claim() {
    let ignored = claim();
    // The statuses alone decide: a 503 is retried, a 400 is not.
    assert_eq!(names(retried(503, false), &ignored), NONE);
    assert_eq!(names(stopped(400, true), &ignored), NONE);
    // Planted: a client that obeys the header where the claim does not.
    assert_eq!(names(stopped(503, false), &ignored), ["transient_retried"]);
    assert_eq!(names(retried(400, true), &ignored), ["non_transient_once"]);
}

#[test]
fn a_retry_the_header_asks_for_still_waits_the_claims_backoff() {
    // Retried at once instead of after the first backoff of 100 ms.
    let mut t = retried(400, true);
    for r in &mut t[3..] {
        r.t -= 100 * MS;
    }
    assert_eq!(names(t, &honoured()), ["delay_within_envelope"]);
}

#[test]
fn true_does_not_lift_the_claims_attempt_limit() {
    // Four attempts (the claim's all), each a 400 asking for a retry, at
    // the claim's backoffs (100, 200, 400 ms): the call may end there.
    let mut t = vec![rec(0, started(Method::Chat))];
    let mut at = 0;
    for (n, wait) in [0, 100, 200, 400].into_iter().enumerate() {
        at += wait;
        t.push(rec(at, attempt(n as u32)));
        at += 10;
        t.push(rec(at, answered(n as u32, 400, true)));
    }
    t.push(rec(at, ended(CallOutcome::Failed(status(400, true)))));
    assert_eq!(names(t.clone(), &honoured()), NONE);
    // A fifth attempt is one too many, header or not.
    t.pop();
    t.push(rec(at + 800, attempt(4)));
    t.push(rec(at + 810, ok(4)));
    t.push(rec(at + 810, received(4)));
    t.push(rec(at + 810, ended(CallOutcome::Ok)));
    assert_eq!(names(t, &honoured()), ["attempts_bounded"]);
}

#[test]
fn a_failure_without_the_header_is_judged_by_its_status_under_either_claim() {
    // What an in-process world records: a provider's error has no headers.
    let mut t = good();
    t[2] = rec(10, failed(0, 400, None));
    for claim in [claim(), honoured()] {
        assert_eq!(names(t.clone(), &claim), ["non_transient_once"]);
    }
}
