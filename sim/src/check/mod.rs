//! The judge: what correct behaviour is, and the oracles that check it.
//!
//! Everything here is written from provider-retry's documented semantics
//! (and other wrappers' documentation, as [`Claim`]s); nothing is imported
//! from the wrapper crate, so a defect in the wrapper's schedule,
//! classification or deadline code cannot be judged correct by itself.
//!
//! | module | role |
//! |---|---|
//! | [`claim`] | what a wrapper promises: envelopes, distributions, rules |
//! | [`model`] | the reference model: a call's facts, its waits, their envelopes, permitted give-ups |
//! | [`oracles`] | named per-call properties, and a gateway's fallback across upstreams |
//! | [`abandon`] | a call its caller dropped: no attempt after, none kept in flight |
//! | [`cut`] | no attempt abandoned by its wrapper before its timeout |
//! | [`distribution`] | the delays' distribution inside their envelopes, across runs |
//! | [`sdks`] | claims of the official Python SDKs, read from their source |
//! | [`gateways`] | claims of gateways that fall back across deployments (crabllm's) |
//! | [`verdict`] | what the judge says: held, violated or not judged, and how much was judged |
//! | [`sharing`] | one wrapper, many concurrent calls: no call waits on another's, their delays independent |
//! | [`request`] | every attempt sends the caller's request |
//! | [`throttle`] | a throttle every call shares: pauses, held attempts woken spread, refusals |
//! | [`server_waits`] | the server's side of Retry-After: nothing reaches a server before the wait it asked of every caller |
//! | [`upstreams`] | a group of upstreams: any order, counted together, and an upstream's cooldown after a 429 |

pub mod abandon;
pub mod adjust;
pub mod claim;
pub mod cut;
pub mod distribution;
pub mod gateways;
pub mod model;
pub mod oracles;
pub mod request;
pub mod sdks;
pub mod server_waits;
pub mod sharing;
pub mod throttle;
pub mod upstreams;
pub mod verdict;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(test)]
mod group_tests;
#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod seen_tests;
#[cfg(test)]
mod should_retry_tests;
#[cfg(test)]
mod throttle_tests;
#[cfg(test)]
mod walk_away_tests;

pub use claim::Claim;
pub use verdict::{Judgement, Tally, Unit, Verdict};

use crate::trace::Trace;
use std::fmt;
use std::time::Duration;

/// A property that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The oracle's name.
    pub oracle: &'static str,
    /// The client whose call broke it.
    pub client: u32,
    /// That call's number within its client.
    pub call: u64,
    /// What was wrong.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}] c{}#{}: {}",
            self.oracle, self.client, self.call, self.detail
        )
    }
}

/// What a run is judged against besides the claim.
///
/// # Default
///
/// No heal bound, and a tolerance of one timer tick
/// ([`model::TICK_NS`], 1 ms): the simulator's only noise.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    /// Calls starting at or after this virtual time must succeed.
    pub live_from: Option<Duration>,
    /// When the trace stops (set by [`check`] from the trace itself): a
    /// call still open then may be cut off rather than stuck.
    pub trace_end_ns: u64,
    /// How much later than the claim allows a measured wait, attempt or
    /// silence may end. Beyond one tick it is also how much later the
    /// caller may see a call end than the provider saw its last attempt
    /// end. From the wire, [`WIRE_TOLERANCE_NS`].
    pub tolerance_ns: u64,
}

impl Default for Context {
    fn default() -> Self {
        Self {
            live_from: None,
            trace_end_ns: 0,
            tolerance_ns: model::TICK_NS,
        }
    }
}

/// The tolerance for records taken from a real client in real time
/// (`retry-sim serve`): 100 ms. Measured on loopback with the Python SDKs
/// on two cores shared with other builds (load average 7 to 12): a 1 s
/// Retry-After was waited 2 to 40 ms long, and a call's end reached the
/// server 2 to 49 ms after its last attempt's answer left it (the client's
/// sleep overshoot, parsing, reporting and scheduling). 100 ms is twice the
/// worst seen, and still well under what the oracles tell apart: the SDKs'
/// shortest backoff is 375 ms and their jitter band 125 ms wide, and a
/// wait that is too short is never forgiven.
pub const WIRE_TOLERANCE_NS: u64 = 100_000_000;

/// The cross-run oracle's name: [`distribution::test`] over many runs' samples.
pub const DELAY_DISTRIBUTION: &str = "delay_distribution";

/// Every oracle's name, in the order reports list them.
pub const ORACLES: &[&str] = &[
    "calls_end",
    "no_panic",
    "forwarding",
    "capabilities",
    "attempts_bounded",
    "not_retried_once",
    "non_transient_once",
    "transient_retried",
    "delay_within_envelope",
    "retry_after_honoured",
    "no_sleep_after_final",
    "deadline_respected",
    "attempt_within_timeout",
    "stream_integrity",
    "stream_idle_bounded",
    "stream_cut_at_bound",
    "reported_agrees",
    "liveness_after_heal",
    "fallback_in_order",
    "fallback_taken",
    upstreams::COOLDOWN_KEPT,
    "first_attempt_at_once",
    request::REQUEST_UNCHANGED,
    "no_attempt_after_drop",
    "abandoned_on_drop",
    "attempt_not_cut_early",
    server_waits::RETRY_AFTER_SHARED,
    DELAY_DISTRIBUTION,
    sharing::DELAYS_INDEPENDENT,
    throttle::PAUSE_WAKES_SPREAD,
];

/// The violations of every oracle on `trace` against `claim`: what
/// [`judgement`] finds, without its counts.
pub fn check(trace: &Trace, claim: &Claim, context: &Context) -> Vec<Violation> {
    judgement(trace, claim, context).violations
}

/// Judge `trace` against `claim`: every per-call oracle on every call (a
/// gateway's per-call oracles on each deployment's part of it), then the
/// delay distribution if this one trace holds enough samples. Each
/// oracle's tally counts the calls it judged (one with any part judged)
/// and their attempts; the distribution's, the samples it was tested on
/// (none below [`distribution::MIN_SAMPLES`]: not judged). A distribution
/// violation belongs to no call; it is reported as client 0, call 0.
pub fn judgement(trace: &Trace, claim: &Claim, context: &Context) -> Judgement {
    judgement_and_pools(trace, claim, context).0
}

/// What a run adds to the pools that are judged across runs: its delays'
/// places and its concurrent calls' pairs, as [`judgement`] tested them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pools {
    /// The delay distribution's samples ([`distribution::samples`]).
    pub samples: distribution::Samples,
    /// The independence test's pairs ([`sharing::pairs`]).
    pub pairs: sharing::Pairs,
}

/// [`judgement`], and the pools it tested: one reading of the trace for
/// both, rather than another to pool the run with others.
pub fn judgement_and_pools(trace: &Trace, claim: &Claim, context: &Context) -> (Judgement, Pools) {
    let context = &Context {
        trace_end_ns: trace
            .end_ns
            .max(trace.records.iter().map(|r| r.t).max().unwrap_or(0)),
        ..*context
    };
    let mut out = Judgement::default();
    // Built once: every oracle below reads the same calls.
    let calls: Vec<model::Call> = model::calls(trace)
        .into_iter()
        .map(|c| throttle::in_provider_numbers(c, claim, context))
        .collect();
    // Summed here and put in the map once: a map entry per call and oracle
    // cost a sweep more than some oracles do.
    let mut per_call = [Tally::default(); oracles::PER_CALL.len()];
    let units = oracles::PER_CALL.map(|(oracle, _)| Unit::of(oracle));
    let mut whole_call = [Tally::default(); oracles::WHOLE_CALL.len()];
    for facts in &calls {
        let (client, call) = (facts.client, facts.call);
        let tally = Tally {
            calls: 1,
            attempts: facts.attempts.len() as u64,
            ..Tally::default()
        };
        let parts = facts.parts_for(claim);
        // What each oracle judged of the parts, in its unit.
        let mut judged = [Tally::default(); oracles::PER_CALL.len()];
        // A gateway's deployments are each judged on their part of the call.
        for part in &parts {
            let upstream = part.attempts.first().map_or(0, |a| a.upstream);
            let each = oracles::PER_CALL.iter().zip(&units).zip(&mut judged);
            for ((&(oracle, judge), unit), judged) in each {
                let verdict = judge(part, claim, context);
                if verdict.is_judged() {
                    judged.add(unit.tally(part));
                }
                if let Verdict::Violated(detail) = verdict {
                    let detail = match (parts.len(), upstream) {
                        (1, 0) => detail,
                        _ => format!("upstream {upstream}: {detail}"),
                    };
                    out.violations.push(Violation {
                        oracle,
                        client,
                        call,
                        detail,
                    });
                }
            }
        }
        for (sum, judged) in per_call.iter_mut().zip(judged) {
            if judged.judged() {
                // The whole call once, however many of its parts were judged.
                sum.add(Tally {
                    waits: judged.waits,
                    streams: judged.streams,
                    ..tally
                });
            }
        }
        for ((oracle, judge), sum) in oracles::WHOLE_CALL.iter().zip(&mut whole_call) {
            let verdict = judge(facts, claim, context);
            if verdict.is_judged() {
                sum.add(tally);
            }
            if let Verdict::Violated(detail) = verdict {
                out.violations.push(Violation {
                    oracle,
                    client,
                    call,
                    detail,
                });
            }
        }
    }
    let names = oracles::PER_CALL
        .iter()
        .chain(&oracles::WHOLE_CALL)
        .map(|o| o.0);
    for (oracle, sum) in names.zip(per_call.into_iter().chain(whole_call)) {
        if sum.judged() {
            out.count(oracle, sum);
        }
    }
    let samples = distribution::samples_in(trace, &calls, claim);
    // Too few samples say too little to test: not judged, never held.
    if samples.len() >= distribution::MIN_SAMPLES {
        out.count(
            DELAY_DISTRIBUTION,
            Tally {
                samples: samples.len() as u64,
                ..Tally::default()
            },
        );
        if let Some(detail) = distribution::test(&samples, claim) {
            out.violations.push(Violation {
                oracle: DELAY_DISTRIBUTION,
                client: 0,
                call: 0,
                detail,
            });
        }
    }
    let pairs = sharing::pairs_in(&calls, claim);
    // Likewise the independence of concurrent calls' delays.
    if pairs.points.len() >= sharing::MIN_POINTS {
        out.count(
            sharing::DELAYS_INDEPENDENT,
            Tally {
                samples: pairs.points.len() as u64,
                ..Tally::default()
            },
        );
        if let Some(detail) = sharing::test(&pairs) {
            out.violations.push(Violation {
                oracle: sharing::DELAYS_INDEPENDENT,
                client: 0,
                call: 0,
                detail,
            });
        }
    }
    let wakes = throttle::pause_wakes_spread(&calls, claim, context);
    if wakes.is_judged() {
        out.count(
            throttle::PAUSE_WAKES_SPREAD,
            Tally {
                calls: calls.len() as u64,
                ..Tally::default()
            },
        );
    }
    if let Verdict::Violated(detail) = wakes {
        out.violations.push(Violation {
            oracle: throttle::PAUSE_WAKES_SPREAD,
            client: 0,
            call: 0,
            detail,
        });
    }
    (out, Pools { samples, pairs })
}
