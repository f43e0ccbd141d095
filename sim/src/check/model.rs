//! The reference model: what a call did, as facts, and what the claim allows.
//!
//! [`Call::of`] reads one call's records into facts (the probe's attempts,
//! the caller's items and end). From those the model infers each wait
//! between attempts ([`Call::waits`]), the backoff envelope each wait had to
//! fall in ([`envelopes`]), and the give-up reasons the claim permits when a
//! failed call stopped retrying ([`endings`]). Nothing here comes from the
//! wrapper crate; every sum saturates and no input panics.

use super::claim::{Backoff, Claim, JitterShape, RetryAfterRule, ShouldRetryHeader, UpstreamOrder};
pub use super::throttle::Held;
use crate::method::Method;
use crate::trace::{
    AttemptOutcome, CallOutcome, ChunkId, Failure, GiveUpReason, Kind, Record, Reported, Trace,
};
use std::borrow::Cow;
use std::sync::Arc;

/// The timer wheel's resolution: a wait measured from outside ends on the
/// timer's next whole millisecond, so up to this much after it was drawn.
pub const TICK_NS: u64 = 1_000_000;

/// One attempt as the provider below the wrapper saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Its number within the call, from 0.
    pub number: u32,
    /// The upstream that answered it (0 unless a gateway fell back).
    pub upstream: u32,
    /// When it started, in virtual nanoseconds since the world began.
    pub start: u64,
    /// When and how it ended; `None` if the trace stops first.
    pub end: Option<(u64, AttemptOutcome)>,
    /// The digest of the request it sent, where recorded.
    pub digest: Option<u64>,
}

/// One logical call's facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    /// The client that made the call.
    pub client: u32,
    /// The call's number within its client.
    pub call: u64,
    /// `(time, method, compat, inner_compat)` of `CallStarted`.
    pub started: Option<(u64, Method, u8, u8)>,
    /// The method the server saw called, for a call recorded from the wire
    /// (its caller need not report it: `started` may be `None`).
    pub seen: Option<Method>,
    /// The digest of the request the caller made, where recorded.
    pub digest: Option<u64>,
    /// Its attempts, in the order they started.
    pub attempts: Vec<Attempt>,
    /// `(stream, index)` of every item the provider sent, in order.
    pub sent: Vec<(u64, u32)>,
    /// The payload of every item the caller received, in order.
    pub received: Vec<Option<ChunkId>>,
    /// When each of `received` arrived.
    pub received_at: Vec<u64>,
    /// The handed-over stream failed (`Some(timeout)`).
    pub stream_failed: Option<bool>,
    /// When the call ended and how, as the caller saw it; `None` if it never ended (dropped, or the trace stops first).
    pub ended: Option<(u64, CallOutcome)>,
    /// The caller dropped the call before it ended.
    pub dropped: Option<Dropped>,
    /// `(time, event)` of what the wrapper reported.
    pub reported: Vec<(u64, Reported)>,
    /// Every failure with a Retry-After, and every 429, that any call of
    /// the run was answered, in time order: what a shared throttle pauses
    /// on, what a server asked of every caller, what cools an upstream. Filled
    /// by [`calls`]; empty for a call read alone ([`Call::of`]), which
    /// lets a claimed throttle excuse nothing.
    pub run_retry_afters: Arc<Vec<Answered>>,
    /// What is wrong with the numbers the wrapper reported its attempts
    /// by, under an answering throttle (which numbers its held answers
    /// too: [`super::throttle::in_provider_numbers`]); its reports are then
    /// left in its own numbers.
    pub misnumbered: Option<String>,
    /// The held answers an answering throttle may have given the call
    /// ([`super::throttle::holds`]), worked out once where the oracles
    /// first read the call: every oracle asks, and a run of thousands of
    /// answers makes each asking dear. `None` until then, and in a part of
    /// a call, whose attempts are not the call's.
    pub holds: Option<Arc<super::throttle::Holds>>,
}

/// A failure with a Retry-After, or a 429, answered to some call of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// When the attempt ended with it.
    pub at: u64,
    /// Its HTTP status.
    pub status: u16,
    /// The Retry-After it carried, in nanoseconds, if it carried one.
    pub retry_after_ns: Option<u64>,
    /// The call it answered: `(client, call)`.
    pub call: (u32, u64),
    /// That call's method, if the trace says (the caller's report, or the
    /// server's `call_seen`).
    pub method: Option<Method>,
    /// The upstream (the server, by its address) that answered it.
    pub upstream: u32,
}

/// The caller dropped a call: when, and what had happened by then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// When the caller dropped it.
    pub at: u64,
    /// How many of the call's attempts had started before (by trace
    /// order, so an attempt started at the drop's instant but after it
    /// is not among them). In a part of a call ([`Call::parts`]), of that
    /// part's attempts.
    pub started: usize,
}

/// A wait between two attempts, measured from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// The attempt whose end the wait followed; the retry is `after + 1`.
    pub after: u32,
    /// From that attempt's end to the next attempt's start.
    pub gap_ns: u64,
    /// When it began, since the first attempt started.
    pub from_first_ns: u64,
    /// The Retry-After the claim says was waited instead of a backoff.
    pub retry_after_ns: Option<u64>,
    /// The attempts an answering throttle may have answered before
    /// attempt `after` (each advancing the schedule): the wait is schedule
    /// item `after` plus that many ([`super::throttle::holds`]).
    pub held: Held,
}

/// Where a backoff wait had to fall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope {
    /// The shortest wait allowed, in nanoseconds.
    pub lo: u64,
    /// The longest wait allowed, in nanoseconds.
    pub hi: u64,
    /// A cap clipped the drawn range, so values pile up at `hi`: the
    /// distribution inside is not uniform.
    pub censored: bool,
}

impl Call {
    /// The delay the subject reported choosing after attempt `after`, if
    /// it reported one.
    pub fn reported_delay(&self, after: u32) -> Option<u64> {
        self.reported.iter().find_map(|(_, e)| match *e {
            Reported::Delay {
                attempt, delay_ns, ..
            } if attempt == after => Some(delay_ns),
            _ => None,
        })
    }

    /// The facts of one call's records (in trace order).
    pub fn of(records: &[&Record]) -> Call {
        let mut c = Call::default();
        if let Some(r) = records.first() {
            (c.client, c.call) = (r.client, r.call);
        }
        for r in records {
            c.note(r);
        }
        c
    }

    fn note(&mut self, r: &Record) {
        match &r.kind {
            Kind::CallStarted {
                method,
                compat,
                inner_compat,
                digest,
            } => {
                self.started = Some((r.t, *method, *compat, *inner_compat));
                self.digest = *digest;
            }
            Kind::CallSeen { method, .. } => self.seen = Some(*method),
            Kind::AttemptStarted {
                attempt,
                upstream,
                digest,
            } => self.attempts.push(Attempt {
                number: *attempt,
                upstream: *upstream,
                start: r.t,
                end: None,
                digest: *digest,
            }),
            Kind::AttemptEnded { attempt, outcome } => {
                let open = self
                    .attempts
                    .iter_mut()
                    .rev()
                    .find(|a| a.number == *attempt && a.end.is_none());
                if let Some(a) = open {
                    a.end = Some((r.t, outcome.clone()));
                }
            }
            Kind::ChunkSent { stream, index } => self.sent.push((*stream, *index)),
            Kind::ChunkReceived { chunk } => {
                self.received.push(*chunk);
                self.received_at.push(r.t);
            }
            Kind::StreamFailed { timeout } => self.stream_failed = Some(*timeout),
            Kind::CallEnded { outcome } => self.ended = Some((r.t, outcome.clone())),
            Kind::CallDropped => {
                self.dropped = Some(Dropped {
                    at: r.t,
                    started: self.attempts.len(),
                });
            }
            Kind::Reported { event } => self.reported.push((r.t, event.clone())),
        }
    }

    /// The call as each upstream saw it, in order: one part per run of
    /// consecutive attempts at one upstream (the call itself, if it never
    /// fell back). A gateway's deployment is judged on its part as a
    /// wrapper is on a call. A part before the last ends when the next
    /// part's first attempt starts, so that a wait before falling back is
    /// judged as a sleep after the final attempt; it ends with its last
    /// attempt's failure: an attempt still open then was dropped (timed
    /// out), and one that answered 200 was unusable (a decode error, not
    /// transient). What the caller received and was reported, and the
    /// call's end, belong to the last part. A part's attempts are numbered
    /// from 0, in order.
    /// A call with one upstream is its own one part, borrowed: the judge
    /// asks every call for its parts, and most have one.
    pub fn parts(&self) -> Vec<Cow<'_, Call>> {
        let first = self.attempts.first().map(|a| a.upstream);
        if self.attempts.iter().all(|a| Some(a.upstream) == first) {
            return vec![Cow::Borrowed(self)];
        }
        let mut runs: Vec<Vec<Attempt>> = Vec::new();
        for a in &self.attempts {
            match runs.last_mut() {
                Some(run) if run[0].upstream == a.upstream => run.push(a.clone()),
                _ => runs.push(vec![a.clone()]),
            }
        }
        let next_starts: Vec<Option<u64>> = runs
            .iter()
            .skip(1)
            .map(|run| Some(run[0].start))
            .chain([None])
            .collect();
        // Attempts of the parts before each: a drop counts its part's own.
        let before: Vec<usize> = runs
            .iter()
            .scan(0, |sum, run| {
                let here = *sum;
                *sum += run.len();
                Some(here)
            })
            .collect();
        runs.into_iter()
            .zip(next_starts)
            .zip(before)
            .map(|((mut attempts, next_start), before)| {
                // Numbered within the part: its retries are the deployment's own.
                for (n, a) in attempts.iter_mut().enumerate() {
                    a.number = u32::try_from(n).unwrap_or(u32::MAX);
                }
                Cow::Owned(match next_start {
                    None => Call {
                        attempts,
                        dropped: self.dropped.map(|d| Dropped {
                            started: d.started.saturating_sub(before),
                            ..d
                        }),
                        holds: None,
                        ..self.clone()
                    },
                    // A part left keeps the call's identity and method (the
                    // method decides what its oracles expect), and nothing
                    // the caller received.
                    Some(left) => {
                        let ended = left_at(&mut attempts, left);
                        Call {
                            client: self.client,
                            call: self.call,
                            started: self.started,
                            seen: self.seen,
                            digest: self.digest,
                            ended: Some(ended),
                            attempts,
                            ..Call::default()
                        }
                    }
                })
            })
            .collect()
    }

    /// The call's parts as `claim` judges them: one per deployment of a
    /// fallback chain ([`Call::parts`]), or the whole call when the claim's
    /// upstreams are one group tried in any order (its retries, waits and
    /// deadline count the whole call, whichever deployment served each
    /// attempt).
    pub fn parts_for(&self, claim: &Claim) -> Vec<Cow<'_, Call>> {
        match claim.upstream_order {
            UpstreamOrder::Any => vec![Cow::Borrowed(self)],
            UpstreamOrder::InOrder => self.parts(),
        }
    }

    /// The method called, if the call started.
    pub fn method(&self) -> Option<Method> {
        self.started.map(|s| s.1).or(self.seen)
    }

    /// The caller reported the call (its start, and so its items and end):
    /// without that, what it received and when it ended are unknown, and
    /// every oracle that needs them does not judge the call.
    pub fn caller_reported(&self) -> bool {
        self.started.is_some()
    }

    /// The attempt numbers the call's reports gave, in report order.
    pub fn reported_attempts(&self) -> Vec<u32> {
        self.reported
            .iter()
            .filter_map(|(_, e)| match e {
                Reported::Attempt { attempt } => Some(*attempt),
                _ => None,
            })
            .collect()
    }

    /// A stream was handed over: items arrived or the stream failed.
    pub fn streamed(&self) -> bool {
        !self.received.is_empty() || self.stream_failed.is_some()
    }

    /// The first attempt's start.
    pub fn first_start(&self) -> Option<u64> {
        self.attempts.first().map(|a| a.start)
    }

    /// Every wait between consecutive attempts.
    pub fn waits(&self, claim: &Claim) -> Vec<Wait> {
        let first = self.first_start().unwrap_or(0);
        let holds = super::throttle::holds(self, claim, &super::Context::default());
        self.attempts
            .windows(2)
            .enumerate()
            .filter_map(|(k, w)| {
                let (end, outcome) = w[0].end.as_ref()?;
                Some(Wait {
                    after: w[0].number,
                    gap_ns: w[1].start.saturating_sub(*end),
                    from_first_ns: end.saturating_sub(first),
                    retry_after_ns: waited_retry_after(outcome, claim),
                    held: holds.before.get(k).copied().unwrap_or_default(),
                })
            })
            .collect()
    }
}

/// How a deployment's part ended when the call left it at `left` (the
/// next upstream's first attempt): with its last attempt's failure. An
/// attempt still open is ended there, dropped (a timeout); one that
/// answered 200 and was left anyway was unusable (a decode error).
fn left_at(attempts: &mut [Attempt], left: u64) -> (u64, CallOutcome) {
    let Some(last) = attempts.last_mut() else {
        return (left, CallOutcome::Failed(Failure::Timeout));
    };
    let (_, outcome) = last.end.get_or_insert((left, AttemptOutcome::Dropped));
    let outcome = match outcome {
        AttemptOutcome::Ok => CallOutcome::Failed(Failure::Decode),
        AttemptOutcome::Dropped => CallOutcome::Failed(Failure::Timeout),
        AttemptOutcome::Failed(f) => CallOutcome::Failed(f.clone()),
    };
    (left, outcome)
}

/// Whether `outcome` is a failure the claim retries (a dropped attempt is a timeout).
pub fn transient(outcome: &AttemptOutcome, claim: &Claim) -> bool {
    match outcome {
        AttemptOutcome::Ok => false,
        AttemptOutcome::Dropped => claim.retryable.timeout,
        AttemptOutcome::Failed(f) => transient_failure(f, claim),
    }
}

/// Whether `failure` is one the claim retries: by its kind and status,
/// unless the answer carried an `x-should-retry` header the claim honours,
/// which decides alone.
pub fn transient_failure(failure: &Failure, claim: &Claim) -> bool {
    match failure {
        Failure::Status {
            should_retry: Some(retry),
            ..
        } if claim.should_retry_header == ShouldRetryHeader::Honoured => *retry,
        Failure::Status { status, .. } => claim.retryable.statuses.contains(status),
        Failure::Network => claim.retryable.network,
        Failure::Timeout => claim.retryable.timeout,
        Failure::Decode | Failure::Unsupported | Failure::Other { .. } => false,
    }
}

/// The Retry-After a transient `outcome` carried, if the claim waits it.
pub fn waited_retry_after(outcome: &AttemptOutcome, claim: &Claim) -> Option<u64> {
    let AttemptOutcome::Failed(f @ Failure::Status { retry_after_ns, .. }) = outcome else {
        return None;
    };
    if !transient_failure(f, claim) {
        return None;
    }
    match claim.retry_after {
        RetryAfterRule::Ignored => None,
        RetryAfterRule::Exact { .. } => *retry_after_ns,
        RetryAfterRule::Positive {
            max_ns,
            refuse_above,
        } => match *retry_after_ns {
            None | Some(0) => None,
            Some(ra) if ra > max_ns && !refuse_above => Some(max_ns),
            Some(ra) => Some(ra),
        },
        RetryAfterRule::Within {
            max_ns,
            zero_waited,
        } => retry_after_ns.filter(|&ra| (ra > 0 || zero_waited) && ra <= max_ns),
    }
}

/// The longest Retry-After the claim waits, if a longer one ends the call.
pub fn refused_above(claim: &Claim) -> Option<u64> {
    match claim.retry_after {
        RetryAfterRule::Ignored => None,
        RetryAfterRule::Exact { max_ns } => Some(max_ns),
        RetryAfterRule::Positive {
            max_ns,
            refuse_above,
        } => refuse_above.then_some(max_ns),
        RetryAfterRule::Within { .. } => None,
    }
}

/// `min(cap, initial * factor^n)`, saturating; exact for doubling.
pub fn base(backoff: &Backoff, n: u32) -> u64 {
    let cap = backoff.cap_ns.unwrap_or(u64::MAX);
    let initial = backoff.initial_ns;
    let raw = if initial == 0 {
        0
    } else if backoff.factor == 2.0 {
        // Exact integer doubling: a shift that would lose bits saturates.
        // (`initial` is not 0, so it has at most 63 leading zeros and this
        // also keeps `n` under 64.)
        match initial.leading_zeros() >= n {
            true => initial << n,
            false => u64::MAX,
        }
    } else {
        let exponent = i32::try_from(n).unwrap_or(i32::MAX);
        clamp_f64(initial as f64 * backoff.factor.powi(exponent))
    };
    raw.min(cap)
}

/// A float as nanoseconds: NaN and negatives are 0, overflow saturates.
fn clamp_f64(x: f64) -> u64 {
    // `as` saturates at both ends and maps NaN to 0.
    x as u64
}

/// `b * f`, exact for the factors 0 and 1 that float rounding must not blur.
fn scale(b: u64, f: f64, round_up: bool) -> u64 {
    if f == 0.0 {
        0
    } else if f == 1.0 {
        b
    } else if round_up {
        clamp_f64((b as f64 * f).ceil())
    } else {
        clamp_f64((b as f64 * f).floor()).min(b)
    }
}

/// The envelope of backoff `n` (retry `n + 1` follows it), given the
/// previous backoff actually waited (decorrelated); `None`: unknown, so
/// only the cap binds.
pub fn envelope(backoff: &Backoff, n: u32, previous: Option<u64>) -> Envelope {
    let drawn = drawn(backoff, n, previous);
    // A floor raises every draw below it to it: those pile up at the
    // floor, so the distribution inside is not uniform where it cut.
    let floor = backoff.floor_ns;
    Envelope {
        lo: drawn.lo.max(floor),
        hi: drawn.hi.max(floor),
        censored: drawn.censored || drawn.lo < floor,
    }
}

/// The envelope of backoff `n` as drawn, before any floor.
fn drawn(backoff: &Backoff, n: u32, previous: Option<u64>) -> Envelope {
    let cap = backoff.cap_ns.unwrap_or(u64::MAX);
    match backoff.jitter {
        JitterShape::Decorrelated => {
            let initial = backoff.initial_ns;
            let top = previous.map_or(u64::MAX, |p| p.saturating_mul(3).max(initial));
            Envelope {
                lo: initial.min(cap),
                hi: top.min(cap),
                censored: previous.is_none() || top > cap,
            }
        }
        JitterShape::Scale { lo, hi } => {
            let b = base(backoff, n);
            let (l, h) = (scale(b, lo, false), scale(b, hi, true));
            after_jitter_cap(backoff, cap, l, h)
        }
        JitterShape::Add { lo_ns, hi_ns } => {
            let b = base(backoff, n);
            let (l, h) = (b.saturating_add(lo_ns), b.saturating_add(hi_ns));
            after_jitter_cap(backoff, cap, l, h)
        }
    }
}

fn after_jitter_cap(backoff: &Backoff, cap: u64, lo: u64, hi: u64) -> Envelope {
    match backoff.cap_after_jitter {
        true => Envelope {
            lo: lo.min(cap),
            hi: hi.min(cap),
            censored: hi > cap,
        },
        false => Envelope {
            lo,
            hi,
            censored: false,
        },
    }
}

/// Every wait between attempts in `trace`, each upstream's part of a call
/// on its own (a step from one upstream to the next is no backoff), with
/// its envelope and the delay the subject reported for it, if it did.
pub fn backoffs(trace: &Trace, claim: &Claim) -> Vec<(Wait, Option<Envelope>, Option<u64>)> {
    observed(trace, claim)
        .into_iter()
        .map(|o| (o.wait, o.envelope, o.reported))
        .collect()
}

/// A wait the trace shows, with what decided that it could be seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observed {
    /// The wait as the trace measures it.
    pub wait: Wait,
    /// Where its backoff had to fall (`None`: a Retry-After was waited).
    pub envelope: Option<Envelope>,
    /// The delay the subject reported choosing, if it did.
    pub reported: Option<u64>,
    /// The longest draw that would have shown as this wait ([`observable`]).
    pub observable: u64,
}

/// Every call of `trace`, in call order, each knowing the run's
/// Retry-Afters ([`Call::run_retry_afters`]).
pub fn calls(trace: &Trace) -> Vec<Call> {
    let answered = Arc::new(retry_afters(trace));
    trace
        .calls()
        .into_values()
        .map(|r| Call {
            run_retry_afters: answered.clone(),
            ..Call::of(&r)
        })
        .collect()
}

/// Every attempt of `trace` that failed with a Retry-After or a 429, in
/// trace order.
pub fn retry_afters(trace: &Trace) -> Vec<Answered> {
    use std::collections::BTreeMap;
    let mut methods: BTreeMap<(u32, u64), Method> = BTreeMap::new();
    // The upstream of each call's attempt in flight, by its number.
    let mut upstreams: BTreeMap<(u32, u64, u32), u32> = BTreeMap::new();
    let mut out = Vec::new();
    for r in &trace.records {
        let id = (r.client, r.call);
        match &r.kind {
            // The caller's report wins over what the server saw.
            Kind::CallStarted { method, .. } => {
                methods.insert(id, *method);
            }
            Kind::CallSeen { method, .. } => {
                methods.entry(id).or_insert(*method);
            }
            Kind::AttemptStarted {
                attempt, upstream, ..
            } => {
                upstreams.insert((r.client, r.call, *attempt), *upstream);
            }
            Kind::AttemptEnded {
                attempt,
                outcome:
                    AttemptOutcome::Failed(Failure::Status {
                        status,
                        retry_after_ns,
                        ..
                    }),
            } if retry_after_ns.is_some() || *status == 429 => out.push(Answered {
                at: r.t,
                status: *status,
                retry_after_ns: *retry_after_ns,
                call: id,
                method: methods.get(&id).copied(),
                upstream: upstreams
                    .get(&(r.client, r.call, *attempt))
                    .copied()
                    .unwrap_or(0),
            }),
            _ => {}
        }
    }
    // In time order, whatever order the records were written in: the
    // throttle's model looks pauses up by when they were set.
    out.sort_by_key(|a| a.at);
    out
}

/// [`backoffs`], each with the longest draw that would have been seen.
pub fn observed(trace: &Trace, claim: &Claim) -> Vec<Observed> {
    observed_in(trace, &calls(trace), claim)
}

/// [`observed`] over `calls`, the [`calls`] of `trace`, built once.
pub fn observed_in(trace: &Trace, calls: &[Call], claim: &Claim) -> Vec<Observed> {
    observed_of(trace, calls, claim, |_| true)
}

/// [`observed_in`], of only the calls `keep` keeps (the run's cut-off is
/// still found from them all).
pub fn observed_of(
    trace: &Trace,
    calls: &[Call],
    claim: &Claim,
    keep: impl Fn(&Call) -> bool,
) -> Vec<Observed> {
    let cut_at = cut_at(trace, calls);
    let mut out = Vec::new();
    let kept = calls.iter().filter(|c| keep(c));
    for call in kept.flat_map(|c| c.parts_for(claim)) {
        let first = call.first_start().unwrap_or(0);
        // Under a shared pause the deadline runs from the call's start.
        let origin = super::throttle::deadline_origin(&call, claim).unwrap_or(first);
        let reported = |w: &Wait| call.reported_delay(w.after);
        for (wait, envelope) in envelopes(&call.waits(claim), claim, reported) {
            // A wait a shared pause could have stretched or refused says
            // nothing about the draw: left out, by its envelope alone (not
            // by what was drawn, which would bias what is left).
            if let Some(e) = envelope.filter(|_| claim.shared_pause.is_some()) {
                let from = first.saturating_add(wait.from_first_ns);
                let to = from.saturating_add(e.hi).saturating_add(TICK_NS);
                if super::throttle::paused_between(&call, claim, from, to) {
                    continue;
                }
                // Held answers before it may have moved it along the
                // schedule: which item it drew is unknown.
                if wait.held.least != wait.held.most {
                    continue;
                }
            }
            let from_origin = Wait {
                from_first_ns: wait
                    .from_first_ns
                    .saturating_add(first.saturating_sub(origin)),
                ..wait
            };
            out.push(Observed {
                wait,
                envelope,
                reported: reported(&wait),
                observable: observable(&from_origin, origin, claim, cut_at),
            });
        }
    }
    out
}

/// When the run was cut off, if it was: a call still open at the trace's
/// end means the run stopped at its horizon, a time no draw chose. A run
/// whose calls all ended (or were dropped: a caller's drop is its end)
/// stopped when the last one did: that end depends on the draws, so it
/// says nothing about which of them could be seen.
fn cut_at(trace: &Trace, calls: &[Call]) -> Option<u64> {
    let last = trace.records.iter().map(|r| r.t).max().unwrap_or(0);
    calls
        .iter()
        .any(|c| c.ended.is_none() && c.dropped.is_none())
        .then_some(trace.end_ns.max(last))
}

/// The longest backoff draw that would have shown as `w` (a call part
/// whose first attempt began at `first`): a longer one was never seen.
///
/// The draw is the delay chosen, before the timer rounds its end up to a
/// tick. Two things other than the draw decide whether a wait is seen:
/// - the deadline: a wrapper under a claimed deadline gives up rather than
///   begin a wait whose end would pass it (provider-retry's rule 6:
///   "no wait begins whose end would pass `retry_deadline`"), so a wait
///   that began `from_first_ns` after the first attempt shows only if its
///   draw is at most `deadline - from_first_ns`;
/// - the horizon: in a run cut off at `cut_at` a wait that began at `s`
///   shows only if the next attempt began by then, so only draws up to
///   `cut_at - s` show. (A draw in the last tick before that may still be
///   missed, its timer rounding past the cut: at most one tick of one
///   wait per call the cut catches.)
///
/// A budget refusing a retry, or a Retry-After standing in for the
/// backoff, depends on state before the draw, not on the draw: neither
/// truncates it.
pub fn observable(w: &Wait, first: u64, claim: &Claim, cut_at: Option<u64>) -> u64 {
    let by_deadline = claim
        .deadline_ns
        .map_or(u64::MAX, |d| d.saturating_sub(w.from_first_ns));
    let began = first.saturating_add(w.from_first_ns);
    let by_cut = cut_at.map_or(u64::MAX, |end| end.saturating_sub(began));
    by_deadline.min(by_cut)
}

/// Each wait with the envelope its backoff had to fall in (`None` for a
/// Retry-After wait). `exact` gives a wait's drawn delay when known (a
/// reported one) so decorrelated's next envelope uses it, not the
/// tick-late measurement.
pub fn envelopes(
    waits: &[Wait],
    claim: &Claim,
    exact: impl Fn(&Wait) -> Option<u64>,
) -> Vec<(Wait, Option<Envelope>)> {
    let backoff = &claim.backoff;
    let mut previous = Some(backoff.initial_ns);
    let mut item: u32 = 0;
    let mut held = Held::default();
    let mut out = Vec::with_capacity(waits.len());
    for w in waits {
        // provider-retry: retry n takes schedule item n even after a Retry-After.
        if backoff.advances_on_retry_after {
            item = w.after;
        }
        // Held answers since the last wait drew schedule items unseen:
        // the previous draw is theirs.
        if w.held.most != held.most {
            previous = None;
        }
        held = w.held;
        if w.retry_after_ns.is_some() {
            previous = None;
            out.push((*w, None));
            continue;
        }
        let least = envelope(backoff, item.saturating_add(held.least), previous);
        let most = envelope(backoff, item.saturating_add(held.most), previous);
        out.push((
            *w,
            Some(Envelope {
                lo: least.lo.min(most.lo),
                hi: least.hi.max(most.hi),
                // Which item is unknown: not one uniform draw.
                censored: least.censored || most.censored || held.least != held.most,
            }),
        ));
        previous = Some(exact(w).unwrap_or(w.gap_ns));
        item = item.saturating_add(1);
    }
    out
}

/// Whether a reason to stop is certain, or only possible (depends on a draw
/// or on shared state the trace does not show).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum May {
    /// The reason holds whatever was drawn.
    Certain,
    /// The reason holds only for some draws or some shared state.
    Possible,
}

/// The give-up reasons the claim permits for `call` stopping after its
/// last attempt (the deadline measured from the first attempt's start),
/// in provider-retry's order: not transient, exhausted, Retry-After too
/// long, deadline, budget. The first certain reason excludes the rest.
pub fn endings(call: &Call, claim: &Claim) -> Vec<(GiveUpReason, May)> {
    let Some(last) = call.attempts.last() else {
        return Vec::new();
    };
    let Some((end, outcome)) = &last.end else {
        return Vec::new();
    };
    let retried = call.method().is_none_or(|m| claim.retried.contains(&m));
    let mut out = Vec::new();
    if !transient(outcome, claim) || !retried {
        return vec![(GiveUpReason::NotTransient, May::Certain)];
    }
    // Held answers spent attempts too: before the last one, and after it
    // at a gate the call ended at.
    let context = super::Context::default();
    let held = super::throttle::holds(call, claim, &context).total;
    let spent = |n: u32| {
        u64::from(last.number)
            .saturating_add(1)
            .saturating_add(u64::from(n))
    };
    if spent(held.least) >= claim.max_attempts {
        return vec![(GiveUpReason::Exhausted, May::Certain)];
    }
    // Held answers may have spent the attempts: then every reason below
    // is only possible, exhaustion coming first.
    let exhausted = spent(held.most) >= claim.max_attempts;
    if exhausted {
        out.push((GiveUpReason::Exhausted, May::Possible));
    }
    let certain = match exhausted {
        true => May::Possible,
        false => May::Certain,
    };
    let ra = waited_retry_after(outcome, claim);
    if ra
        .zip(refused_above(claim))
        .is_some_and(|(ra, max)| ra > max)
    {
        out.push((GiveUpReason::RetryAfterTooLong, certain));
        return out;
    }
    // A retry its shared throttle refused at the gate, after the wait: the
    // wrapper had passed the checks below, so the refusal's reasons are
    // the call's (or exhaustion, if held answers may have spent them).
    if let Some(refused) = super::throttle::refused_retry(call, claim, &context) {
        out.extend(refused.into_iter().map(|(r, m)| match exhausted {
            true => (r, May::Possible),
            false => (r, m),
        }));
        return out;
    }
    if let Some(deadline) = claim.deadline_ns {
        let origin = super::throttle::deadline_origin(call, claim);
        let elapsed = end.saturating_sub(origin.unwrap_or(*end));
        let (lo, hi) = next_wait_bounds(call, claim, ra);
        if elapsed.saturating_add(lo) > deadline {
            out.push((GiveUpReason::Deadline, certain));
            return out;
        }
        if elapsed.saturating_add(hi) > deadline {
            out.push((GiveUpReason::Deadline, May::Possible));
        }
    }
    // A budget refusal, or every upstream of the group cooling down (no
    // deployment left to afford the retry: reported as a budget's).
    if claim.budget || super::upstreams::all_cooling_at_end(call, claim, &context) {
        out.push((GiveUpReason::Budget, May::Possible));
    }
    out
}

/// The bounds of the wait that would have followed the last attempt.
pub fn next_wait_bounds(call: &Call, claim: &Claim, ra: Option<u64>) -> (u64, u64) {
    if let Some(ra) = ra {
        return (ra, ra.saturating_add(claim.retry_after_jitter_ns));
    }
    let mut waits = call.waits(claim);
    let after = call.attempts.last().map_or(0, |a| a.number);
    let holds = super::throttle::holds(call, claim, &super::Context::default());
    waits.push(Wait {
        after,
        gap_ns: 0,
        from_first_ns: 0,
        retry_after_ns: None,
        held: holds.before.last().copied().unwrap_or_default(),
    });
    match envelopes(&waits, claim, |_| None).last() {
        Some((_, Some(e))) => (e.lo, e.hi),
        _ => (0, u64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::claim::Retryable;

    const MS: u64 = 1_000_000;

    #[test]
    fn a_within_rule_waits_a_zero_only_when_it_says_so() {
        let mut claim = Claim::provider_retry(&crate::scenario::PolicySpec::default());
        let ra = |ns| {
            AttemptOutcome::Failed(Failure::Status {
                status: 429,
                retry_after_ns: Some(ns),
                should_retry: None,
            })
        };
        for zero_waited in [false, true] {
            claim.retry_after = RetryAfterRule::Within {
                max_ns: 60_000 * MS,
                zero_waited,
            };
            assert_eq!(waited_retry_after(&ra(0), &claim), zero_waited.then_some(0));
            assert_eq!(
                waited_retry_after(&ra(2_000 * MS), &claim),
                Some(2_000 * MS)
            );
            assert_eq!(
                waited_retry_after(&ra(60_000 * MS), &claim),
                Some(60_000 * MS)
            );
            assert_eq!(waited_retry_after(&ra(60_001 * MS), &claim), None);
            assert_eq!(refused_above(&claim), None);
        }
    }

    fn backoff(jitter: JitterShape) -> Backoff {
        Backoff {
            initial_ns: 100 * MS,
            factor: 2.0,
            cap_ns: Some(1_000 * MS),
            jitter,
            cap_after_jitter: true,
            advances_on_retry_after: true,
            floor_ns: 0,
        }
    }

    const NONE: JitterShape = JitterShape::Scale { lo: 1.0, hi: 1.0 };

    #[test]
    fn the_base_doubles_to_the_cap_and_saturates() {
        let b = backoff(NONE);
        let bases: Vec<u64> = (0..6).map(|n| base(&b, n) / MS).collect();
        assert_eq!(bases, [100, 200, 400, 800, 1000, 1000]);
        let huge = Backoff {
            initial_ns: u64::MAX,
            cap_ns: None,
            ..b
        };
        assert_eq!(base(&huge, 1), u64::MAX);
        assert_eq!(base(&huge, u32::MAX), u64::MAX);
        let odd = Backoff {
            factor: 1.5,
            cap_ns: None,
            ..b
        };
        assert_eq!(base(&odd, 2), 225 * MS);
        assert_eq!(base(&odd, 10_000), u64::MAX);
    }

    #[test]
    fn envelopes_follow_each_jitter_shape() {
        let equal = envelope(&backoff(JitterShape::Scale { lo: 0.5, hi: 1.0 }), 1, None);
        assert_eq!((equal.lo, equal.hi), (100 * MS, 200 * MS));
        let full = envelope(&backoff(JitterShape::Scale { lo: 0.0, hi: 1.0 }), 3, None);
        assert_eq!((full.lo, full.hi), (0, 800 * MS));
        let dec = envelope(&backoff(JitterShape::Decorrelated), 5, Some(150 * MS));
        assert_eq!((dec.lo, dec.hi, dec.censored), (100 * MS, 450 * MS, false));
        let unknown = envelope(&backoff(JitterShape::Decorrelated), 5, None);
        assert_eq!(
            unknown.hi,
            1_000 * MS,
            "after a Retry-After only the cap binds"
        );
        let add = envelope(
            &backoff(JitterShape::Add {
                lo_ns: 0,
                hi_ns: u64::MAX,
            }),
            0,
            None,
        );
        assert_eq!((add.hi, add.censored), (1_000 * MS, true));
    }

    #[test]
    fn censored_only_where_the_cap_clips_the_drawn_range() {
        let capped = |jitter, cap_ms| Backoff {
            cap_ns: Some(cap_ms * MS),
            ..backoff(jitter)
        };
        // Decorrelated: [initial, 3 * previous]; reaching the cap exactly clips nothing.
        let dec = |cap_ms, previous_ms: Option<u64>| {
            envelope(
                &capped(JitterShape::Decorrelated, cap_ms),
                0,
                previous_ms.map(|p| p * MS),
            )
        };
        assert_eq!(
            (dec(900, Some(300)).hi, dec(900, Some(300)).censored),
            (900 * MS, false)
        );
        assert!(dec(899, Some(300)).censored);
        assert!(
            dec(900, None).censored,
            "after a Retry-After only the cap binds"
        );
        // Jitter added to the base: a top of exactly the cap is not clipped either.
        let add = |hi_ns| {
            let jitter = JitterShape::Add { lo_ns: 0, hi_ns };
            envelope(&capped(jitter, 150), 0, None)
        };
        assert_eq!((add(50 * MS).hi, add(50 * MS).censored), (150 * MS, false));
        assert_eq!(
            (add(50 * MS + 1).hi, add(50 * MS + 1).censored),
            (150 * MS, true)
        );
    }

    #[test]
    fn a_jitter_factor_above_one_rounds_the_top_up() {
        let wide = Backoff {
            initial_ns: 101,
            cap_ns: None,
            ..backoff(JitterShape::Scale { lo: 0.5, hi: 1.5 })
        };
        let e = envelope(&wide, 0, None);
        assert_eq!((e.lo, e.hi), (50, 152), "floor(50.5) and ceil(151.5)");
    }

    #[test]
    fn extreme_inputs_do_not_panic() {
        for jitter in [
            NONE,
            JitterShape::Scale {
                lo: f64::NAN,
                hi: f64::INFINITY,
            },
            JitterShape::Decorrelated,
            JitterShape::Add {
                lo_ns: u64::MAX,
                hi_ns: u64::MAX,
            },
        ] {
            let b = Backoff {
                initial_ns: u64::MAX,
                factor: f64::MAX,
                cap_ns: None,
                jitter,
                cap_after_jitter: false,
                advances_on_retry_after: false,
                floor_ns: 0,
            };
            for n in [0, 1, 63, 64, 500, u32::MAX] {
                let _ = envelope(&b, n, Some(u64::MAX));
            }
        }
    }

    #[test]
    fn a_retry_after_wait_still_advances_the_schedule() {
        let claim_backoff = backoff(NONE);
        let claim = Claim {
            max_attempts: 4,
            timeout_ns: None,
            backoff: claim_backoff,
            retry_after: RetryAfterRule::Exact { max_ns: u64::MAX },
            deadline_ns: None,
            retryable: Retryable::transient(),
            retried: Method::ALL.into(),
            timed: Method::ALL.into(),
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
        };
        let w = |after, ra| Wait {
            after,
            gap_ns: 0,
            from_first_ns: 0,
            retry_after_ns: ra,
            held: Held::default(),
        };
        let e = envelopes(&[w(0, Some(5)), w(1, None)], &claim, |_| None);
        assert_eq!(e[0].1, None);
        assert_eq!(e[1].1.map(|e| e.lo), Some(200 * MS));
        let held = Claim {
            backoff: Backoff {
                advances_on_retry_after: false,
                ..claim_backoff
            },
            ..claim
        };
        let e = envelopes(&[w(0, Some(5)), w(1, None)], &held, |_| None);
        assert_eq!(e[1].1.map(|e| e.lo), Some(100 * MS));
    }
}
