//! Calls only the server saw (`call_seen`, no caller reports): judged by
//! their attempts and the method seen, never by what only the caller knows.

use super::fixture::*;
use crate::method::Method;
use crate::trace::{Grouping, Kind, Record};

fn seen(method: Method) -> Kind {
    Kind::CallSeen {
        method,
        by: Grouping::RetryCount,
    }
}

/// [`good`]'s attempts as the server saw them: no start, item or end.
fn unreported() -> Vec<Record> {
    let mut records: Vec<Record> = good()
        .into_iter()
        .filter(|r| {
            matches!(
                r.kind,
                Kind::AttemptStarted { .. } | Kind::AttemptEnded { .. }
            )
        })
        .collect();
    records.insert(0, rec(0, seen(Method::Chat)));
    records
}

#[test]
fn a_call_only_the_server_saw_is_judged_by_its_attempts_alone() {
    assert_eq!(names(unreported(), &claim()), NONE);
    assert_eq!(
        judged(unreported(), &claim()),
        [
            "attempts_bounded",
            "delay_within_envelope",
            "attempt_within_timeout"
        ]
    );
    // The caller's reports add the oracles only they can feed.
    let reported = judged(good(), &claim());
    for oracle in ["calls_end", "no_panic", "forwarding", "stream_integrity"] {
        assert!(reported.contains(&oracle), "{oracle}: {reported:?}");
    }
}

#[test]
fn the_method_seen_decides_what_is_retried() {
    // Embeddings are not retried under this claim: a second attempt is a fault.
    let mut records = unreported();
    records[0] = rec(0, seen(Method::Embedding));
    assert_eq!(names(records, &claim()), ["not_retried_once"]);
}

#[test]
fn what_a_stream_delivered_is_not_judged_without_its_caller() {
    let sent = |index| Kind::ChunkSent { stream: 2, index };
    let stream = |first: Kind| {
        vec![
            rec(0, first),
            rec(0, attempt(0)),
            rec(10, ok(0)),
            rec(20, sent(0)),
            rec(30, sent(1)),
        ]
    };
    let unseen = stream(seen(Method::ChatStream));
    assert!(!judges("stream_integrity", unseen, &claim()));
    assert!(judges(
        "stream_integrity",
        stream(started(Method::ChatStream)),
        &claim()
    ));
    // Items reported without the call's start are no whole account of its
    // silences either.
    let bounded = crate::check::Claim {
        first_chunk_ns: Some(5 * MS),
        ..claim()
    };
    let mut items = stream(seen(Method::ChatStream));
    items.push(rec(40, received(2)));
    assert!(!judges("stream_idle_bounded", items.clone(), &bounded));
    items[0] = rec(0, started(Method::ChatStream));
    assert_eq!(names(items, &bounded), ["stream_idle_bounded"]);
}

#[test]
fn a_reporting_claim_asks_no_report_of_a_call_nobody_reported() {
    let reports = crate::check::Claim {
        reports: true,
        ..claim()
    };
    assert!(!judges("reported_agrees", unreported(), &reports));
    assert_eq!(names(good(), &reports), ["reported_agrees"]);
}

#[test]
fn a_deployment_left_keeps_the_method_seen() {
    // Embeddings are not retried: upstream 0's second attempt is a fault,
    // found only if the part left knows the call's method.
    let records = vec![
        rec(0, seen(Method::Embedding)),
        rec(0, attempt_at(0, 0)),
        rec(10, failed(0, 503, None)),
        rec(110, attempt_at(1, 0)),
        rec(120, failed(1, 503, None)),
        rec(120, attempt_at(2, 1)),
        rec(130, ok(2)),
    ];
    assert_eq!(names(records, &gateway(2)), ["not_retried_once"]);
}
