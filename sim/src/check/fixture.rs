//! Doctored traces for the judge's tests: a claim and record builders.

use super::claim::{Backoff, Claim, JitterShape, RetryAfterRule, Retryable};
use super::{Context, ORACLES, Violation, check, judgement};
use crate::method::Method;
use crate::trace::{AttemptOutcome, CallOutcome, ChunkId, Failure, Kind, Record, Reported, Trace};

pub const MS: u64 = 1_000_000;

/// provider-retry's defaults without jitter: 3 retries, 100 ms doubling to 10 s.
pub fn claim() -> Claim {
    Claim {
        max_attempts: 4,
        timeout_ns: Some(30_000 * MS),
        backoff: Backoff {
            initial_ns: 100 * MS,
            factor: 2.0,
            cap_ns: Some(10_000 * MS),
            jitter: JitterShape::Scale { lo: 1.0, hi: 1.0 },
            cap_after_jitter: true,
            advances_on_retry_after: true,
            floor_ns: 0,
        },
        retry_after: RetryAfterRule::Exact {
            max_ns: 60_000 * MS,
        },
        deadline_ns: None,
        retryable: Retryable::transient(),
        retried: [Method::Chat, Method::ChatStream].into(),
        timed: [Method::Chat, Method::ChatStream].into(),
        first_chunk_ns: None,
        stream_idle_ns: None,
        budget: false,
        reports: false,
        upstreams: 1,
        shared_pause: None,
        retry_after_jitter_ns: 0,
        upstream_order: crate::check::claim::UpstreamOrder::InOrder,
        cooldown_ns: None,
        server_waits: None,
        should_retry_header: crate::check::claim::ShouldRetryHeader::Ignored,
    }
}

/// A record of client 0, call 0 at `t_ms`.
pub fn rec(t_ms: u64, kind: Kind) -> Record {
    Record {
        t: t_ms * MS,
        client: 0,
        call: 0,
        kind,
    }
}

pub fn started(method: Method) -> Kind {
    Kind::CallStarted {
        method,
        compat: 1,
        inner_compat: 1,
        digest: None,
    }
}

pub fn attempt(attempt: u32) -> Kind {
    Kind::AttemptStarted {
        attempt,
        upstream: 0,
        digest: None,
    }
}

/// Attempt `attempt` of the call, at a gateway's upstream `upstream`.
pub fn attempt_at(attempt: u32, upstream: u32) -> Kind {
    Kind::AttemptStarted {
        attempt,
        upstream,
        digest: None,
    }
}

pub fn failed(attempt: u32, status: u16, ra_ms: Option<u64>) -> Kind {
    Kind::AttemptEnded {
        attempt,
        outcome: AttemptOutcome::Failed(Failure::Status {
            status,
            retry_after_ns: ra_ms.map(|m| m * MS),
            should_retry: None,
        }),
    }
}

pub fn ok(attempt: u32) -> Kind {
    Kind::AttemptEnded {
        attempt,
        outcome: AttemptOutcome::Ok,
    }
}

pub fn ended(outcome: CallOutcome) -> Kind {
    Kind::CallEnded { outcome }
}

pub fn fail_503() -> CallOutcome {
    CallOutcome::Failed(Failure::Status {
        status: 503,
        retry_after_ns: None,
        should_retry: None,
    })
}

pub fn delay(attempt: u32, ms: u64, retry_after: bool) -> Kind {
    Kind::Reported {
        event: Reported::Delay {
            attempt,
            delay_ns: ms * MS,
            retry_after,
        },
    }
}

/// Client 0's call 0 received the first item of stream `stream`.
pub fn received(stream: u64) -> Kind {
    Kind::ChunkReceived {
        chunk: Some(crate::trace::ChunkId {
            client: 0,
            call: 0,
            stream,
            index: 0,
        }),
    }
}

/// A correct chat call: two 503s with exact backoff (100, 200 ms), then success.
pub fn good() -> Vec<Record> {
    vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt(0)),
        rec(10, failed(0, 503, None)),
        rec(110, attempt(1)),
        rec(120, failed(1, 503, None)),
        rec(320, attempt(2)),
        rec(330, ok(2)),
        rec(330, received(2)),
        rec(330, ended(CallOutcome::Ok)),
    ]
}

/// A correct call through a gateway of two deployments, each allowed two
/// attempts: upstream 0 fails twice (100 ms apart, its whole claim), the
/// call falls back at once, and upstream 1 answers.
pub fn fell_back() -> Vec<Record> {
    vec![
        rec(0, started(Method::Chat)),
        rec(0, attempt_at(0, 0)),
        rec(10, failed(0, 503, None)),
        rec(110, attempt_at(1, 0)),
        rec(120, failed(1, 503, None)),
        rec(120, attempt_at(2, 1)),
        rec(130, ok(2)),
        rec(130, received(0)),
        rec(130, ended(CallOutcome::Ok)),
    ]
}

/// [`claim`] for a gateway of `upstreams` deployments of two attempts each.
pub fn gateway(upstreams: u32) -> Claim {
    Claim {
        max_attempts: 2,
        upstreams,
        ..claim()
    }
}

/// Every record of `records` `by_ns` later.
pub fn shift(records: &mut [Record], by_ns: u64) {
    for r in records {
        r.t += by_ns;
    }
}

pub fn trace(records: Vec<Record>) -> Trace {
    Trace::new(records)
}

/// The oracles `records` violate under `claim`, in `context`; every
/// violation's text held to human units on the way ([`assert_readable`]),
/// so each doctored trace that breaks an oracle also checks how it speaks.
pub fn names_in(records: Vec<Record>, claim: &Claim, context: &Context) -> Vec<&'static str> {
    let found = check(&trace(records), claim, context);
    assert_readable(&found);
    found.into_iter().map(|v| v.oracle).collect()
}

/// Panic unless every violation in `found` reads in human units: no raw
/// nanosecond count, no `Debug` text ([`crate::readable::unreadable`]).
pub fn assert_readable(found: &[Violation]) {
    for v in found {
        let text = v.to_string();
        if let Some(raw) = crate::readable::unreadable(&text) {
            panic!("a verdict that is not human text ({raw:?}): {text}");
        }
    }
}

/// The oracles `records` violate under `claim`, judged in the simulator.
pub fn names(records: Vec<Record>, claim: &Claim) -> Vec<&'static str> {
    names_in(records, claim, &Context::default())
}

/// The oracles that judged `records` (held or violated) under `claim`,
/// in `context`, in report order.
pub fn judged_in(records: Vec<Record>, claim: &Claim, context: &Context) -> Vec<&'static str> {
    let j = judgement(&trace(records), claim, context);
    ORACLES
        .iter()
        .copied()
        .filter(|o| j.tally(o).judged())
        .collect()
}

/// The oracles that judged `records` under `claim`, in the simulator.
pub fn judged(records: Vec<Record>, claim: &Claim) -> Vec<&'static str> {
    judged_in(records, claim, &Context::default())
}

/// `oracle` judged `records` under `claim`, in the simulator.
pub fn judges(oracle: &str, records: Vec<Record>, claim: &Claim) -> bool {
    judged(records, claim).contains(&oracle)
}

/// No oracle.
pub const NONE: [&str; 0] = [];

/// Item `index` of stream `stream` of `client`'s call `call`.
pub fn id(client: u32, call: u64, stream: u64, index: u32) -> Option<ChunkId> {
    Some(ChunkId {
        client,
        call,
        stream,
        index,
    })
}
