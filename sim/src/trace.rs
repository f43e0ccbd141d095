//! The canonical trace of a run: every wrapper event and every call's outcome, in order.
//!
//! Times are virtual nanoseconds since the world started. The order is the
//! order events happened on the single-threaded paused runtime, which is
//! itself a function of the seed; two runs of one seed must agree line for line.

use crate::duration::human;
use crate::fired::Fired;
use crate::method::Method;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Write as _};

/// What happened. Records without `Reported` are facts seen from outside
/// the wrapper: by the caller (calls, chunks received) or by the provider
/// below it (attempts, chunks sent). `Reported` records are what a wrapper
/// said of itself through an observer hook; the judge never needs them and
/// checks that they agree with the facts.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// The client began a logical call of `method`. `compat` holds the
    /// `is_*_compat` flags the wrapper answered, `inner_compat` the
    /// provider's own ([`compat_bits`]). `digest` is what the caller's
    /// request sends (the `wire` module's digest); absent: not recorded (a
    /// trace from before digests, a method without a request, or a record
    /// from the wire).
    CallStarted {
        /// The method called.
        method: Method,
        /// The `is_*_compat` flags the wrapper answered.
        compat: u8,
        /// The `is_*_compat` flags the provider below answered.
        inner_compat: u8,
        /// What the caller's request sends; absent: not recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<u64>,
    },
    /// The server saw a call's first attempt, of `method`, from a client
    /// that need not report its calls: `by` says how the server told which
    /// call the attempt belongs to. Recorded by `retry-sim serve` only, so
    /// a call with no `CallStarted` is still judged by the method it called.
    CallSeen {
        /// The method the request is a call of.
        method: Method,
        /// How the server grouped the call's attempts.
        by: Grouping,
    },
    /// The provider saw an attempt begin (numbered from 0 within the call),
    /// at `upstream`: the index of the fault plan that answered it (0, the
    /// scenario's `[faults]`, unless a gateway fell back to a
    /// `[[fallback]]`; written only when not 0). `digest` is what the
    /// attempt's request sends, as the probe read it; absent: not recorded.
    AttemptStarted {
        /// The attempt's number within its call, from 0.
        attempt: u32,
        /// The upstream that answered it (0: the first).
        #[serde(default, skip_serializing_if = "is_zero")]
        upstream: u32,
        /// What the attempt's request sends; absent: not recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<u64>,
    },
    /// The provider saw that attempt end.
    AttemptEnded {
        /// The attempt's number within its call.
        attempt: u32,
        /// How it ended.
        outcome: AttemptOutcome,
    },
    /// The provider emitted item `index` of the stream it numbered `stream`.
    ChunkSent {
        /// The stream's number, as the provider counted the streams it opened.
        stream: u64,
        /// The item's place in its stream, from 0.
        index: u32,
    },
    /// The caller received an item carrying `chunk` (`None`: no payload it
    /// could read).
    ChunkReceived {
        /// The identity the item carried.
        chunk: Option<ChunkId>,
    },
    /// The caller's stream ended with an error after its items.
    StreamFailed {
        /// Whether a timeout ended it (else an error).
        timeout: bool,
    },
    /// The logical call ended.
    CallEnded {
        /// How it ended.
        outcome: CallOutcome,
    },
    /// The caller stopped waiting and dropped the call (its future) before
    /// it ended: a dropped call has no `CallEnded`, and from here on no
    /// work of the wrapper's may go on for it.
    CallDropped,
    /// What the wrapper reported through its observer.
    Reported {
        /// What it said.
        event: Reported,
    },
}

/// How `retry-sim serve` told which call an attempt belongs to, from what
/// the client sent, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grouping {
    /// The client named the call: `x-sim-client`/`x-sim-call` headers, or a
    /// `sim-call:` tag in the body.
    Ids,
    /// The same `Idempotency-Key` header.
    IdempotencyKey,
    /// The official SDKs' `x-stainless-retry-count` header: 0 begins a
    /// call, `n` continues the one whose last attempt sent `n - 1` and the
    /// same body.
    RetryCount,
    /// The same body from the same user agent, while the call has not
    /// succeeded and no attempt of it is in flight.
    Body,
}

impl fmt::Display for Grouping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Grouping::Ids => "call ids",
            Grouping::IdempotencyKey => "idempotency key",
            Grouping::RetryCount => "retry-count header",
            Grouping::Body => "same body and user agent",
        })
    }
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The `is_*_compat` flags as bits: openai 1, anthropic 2, gemini 4.
pub fn compat_bits(openai: bool, anthropic: bool, gemini: bool) -> u8 {
    u8::from(openai) | u8::from(anthropic) << 1 | u8::from(gemini) << 2
}

/// The `is_*_compat` flags of [`compat_bits`] in words: `openai and
/// gemini`, `no API` when none is set.
pub fn compat_names(bits: u8) -> String {
    let names: Vec<&str> = [(1, "openai"), (2, "anthropic"), (4, "gemini")]
        .into_iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| name)
        .collect();
    match names.as_slice() {
        [] => "no API".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Why an attempt or a call failed, as facts (the judge decides what is transient).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum Failure {
    /// An HTTP status from the provider, with any Retry-After it carried.
    Status {
        /// The status code.
        status: u16,
        /// The Retry-After it carried, in nanoseconds.
        retry_after_ns: Option<u64>,
        /// The `x-should-retry` header it carried (`true` or `false`), if
        /// any: only an answer on the wire can carry one, so a failure
        /// read from a provider's error never has it. Absent in a record:
        /// none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        should_retry: Option<bool>,
    },
    /// A transport failure.
    Network,
    /// A body that did not parse.
    Decode,
    /// `Error::Timeout`.
    Timeout,
    /// `Error::Unsupported`: the method is not implemented.
    Unsupported,
    /// Any other error, by its HTTP status.
    Other {
        /// The HTTP status crabllm maps the error to.
        status: u16,
    },
}

impl Failure {
    /// The facts of `error`.
    pub fn of(error: &crabllm_core::Error) -> Self {
        use crabllm_core::Error;
        match error {
            Error::Provider {
                status,
                retry_after,
                ..
            } => Failure::Status {
                status: *status,
                retry_after_ns: retry_after
                    .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
                // A provider's error keeps no headers.
                should_retry: None,
            },
            Error::Network(_) => Failure::Network,
            Error::Decode(_) => Failure::Decode,
            Error::Timeout => Failure::Timeout,
            Error::Unsupported(_) => Failure::Unsupported,
            other => Failure::Other {
                status: other.http_status(),
            },
        }
    }
}

/// How an attempt ended, as the provider saw it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The provider answered with success (for streams: the stream opened).
    Ok,
    /// The wrapper stopped waiting before the provider answered (a timeout,
    /// or the call was dropped).
    Dropped,
    /// The provider answered with an error.
    Failed(Failure),
}

/// How a call ended, as the caller saw it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CallOutcome {
    /// The call returned success (for streams: a stream was handed over).
    Ok,
    /// The call returned this error.
    Failed(Failure),
    /// The call panicked; the message, if it was a string.
    Panicked {
        /// The panic's message.
        message: String,
    },
}

impl CallOutcome {
    /// The call succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, CallOutcome::Ok)
    }
}

/// Why a wrapper said it gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GiveUpReason {
    /// The error was not transient.
    NotTransient,
    /// The last allowed attempt failed.
    Exhausted,
    /// The provider asked for a longer wait than allowed.
    RetryAfterTooLong,
    /// The next wait would have ended past the deadline.
    Deadline,
    /// A retry budget refused the retry.
    Budget,
}

impl GiveUpReason {
    /// The name traces use.
    pub const fn name(self) -> &'static str {
        match self {
            GiveUpReason::NotTransient => "not_transient",
            GiveUpReason::Exhausted => "exhausted",
            GiveUpReason::RetryAfterTooLong => "retry_after_too_long",
            GiveUpReason::Deadline => "deadline",
            GiveUpReason::Budget => "budget",
        }
    }
}

/// An event a wrapper reported of itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Reported {
    /// It began attempt `attempt`.
    Attempt {
        /// The attempt's number within its call, from 0.
        attempt: u32,
    },
    /// It chose to wait `delay_ns` after attempt `attempt`.
    Delay {
        /// The attempt that failed.
        attempt: u32,
        /// How long, in nanoseconds.
        delay_ns: u64,
        /// Whether it was a Retry-After rather than a backoff.
        retry_after: bool,
    },
    /// It gave up after attempt `attempt`.
    GaveUp {
        /// The attempt that failed last.
        attempt: u32,
        /// Why no further attempt was made.
        reason: GiveUpReason,
    },
}

/// The identity every streamed item and every response carries in its
/// content: which call's attempt opened which stream, and the item's place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
pub struct ChunkId {
    /// The client that made the call.
    pub client: u32,
    /// The call's number within its client.
    pub call: u64,
    /// The stream's number, as the provider counted the streams it opened.
    pub stream: u64,
    /// The item's place in its stream, from 0.
    pub index: u32,
}

impl ChunkId {
    /// The text put into an item: `sim:<client>:<call>:<stream>:<index>`.
    pub fn text(&self) -> String {
        format!(
            "sim:{}:{}:{}:{}",
            self.client, self.call, self.stream, self.index
        )
    }

    /// The first payload found in `text`, wherever it stands.
    pub fn find(text: &str) -> Option<ChunkId> {
        let at = text.find("sim:")?;
        let mut parts = text[at + 4..].splitn(4, ':');
        let client = parts.next()?.parse().ok()?;
        let call = parts.next()?.parse().ok()?;
        let stream = parts.next()?.parse().ok()?;
        let rest = parts.next()?;
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        Some(ChunkId {
            client,
            call,
            stream,
            index: rest[..digits].parse().ok()?,
        })
    }
}

impl fmt::Display for ChunkId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// One line of the trace.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Record {
    /// Virtual nanoseconds since the world began.
    pub t: u64,
    /// The client that made the call.
    pub client: u32,
    /// The call's number within its client.
    pub call: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: Kind,
}

/// In words: `HTTP 503`, `HTTP 429 (Retry-After 1.000 s)`, `HTTP 400
/// (x-should-retry: true)`, `network error`, `timed out`.
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status {
                status,
                retry_after_ns,
                should_retry,
            } => {
                write!(f, "HTTP {status}")?;
                let notes: Vec<String> = [
                    retry_after_ns.map(|ra| format!("Retry-After {}", human(ra))),
                    should_retry.map(|retry| format!("x-should-retry: {retry}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                match notes.is_empty() {
                    true => Ok(()),
                    false => write!(f, " ({})", notes.join(", ")),
                }
            }
            Failure::Network => f.write_str("network error"),
            Failure::Decode => f.write_str("an answer that did not decode"),
            Failure::Timeout => f.write_str("timed out"),
            Failure::Unsupported => f.write_str("unsupported method"),
            Failure::Other { status } => write!(f, "other error (HTTP {status})"),
        }
    }
}

/// In words: `ok`, `dropped unanswered`, `failed: HTTP 503`.
impl fmt::Display for AttemptOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttemptOutcome::Ok => f.write_str("ok"),
            AttemptOutcome::Dropped => f.write_str("dropped unanswered"),
            AttemptOutcome::Failed(e) => write!(f, "failed: {e}"),
        }
    }
}

/// In words: `ok`, `failed: timed out`, `panicked: <message>`.
impl fmt::Display for CallOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallOutcome::Ok => f.write_str("ok"),
            CallOutcome::Failed(e) => write!(f, "failed: {e}"),
            CallOutcome::Panicked { message } => write!(f, "panicked: {message}"),
        }
    }
}

/// In words: `attempt 1`, `delay after attempt 0: 88 ms (backoff)`,
/// `gave up after attempt 2: exhausted`.
impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reported::Attempt { attempt } => write!(f, "attempt {attempt}"),
            Reported::Delay {
                attempt,
                delay_ns,
                retry_after,
            } => {
                let why = match retry_after {
                    true => "Retry-After",
                    false => "backoff",
                };
                write!(
                    f,
                    "delay after attempt {attempt}: {} ({why})",
                    human(*delay_ns)
                )
            }
            Reported::GaveUp { attempt, reason } => {
                write!(f, "gave up after attempt {attempt}: {}", reason.name())
            }
        }
    }
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.t as f64 / 1e6;
        write!(f, "{ms:>12.3}ms c{}#{} ", self.client, self.call)?;
        match &self.kind {
            Kind::CallStarted {
                method,
                compat,
                inner_compat,
                ..
            } => write!(
                f,
                "call {method} started (compat {compat:03b}, inner {inner_compat:03b})"
            ),
            Kind::CallSeen { method, by } => write!(f, "call {method} seen (by {by})"),
            Kind::AttemptStarted {
                attempt,
                upstream: 0,
                ..
            } => write!(f, "attempt {attempt} started"),
            Kind::AttemptStarted {
                attempt, upstream, ..
            } => {
                write!(f, "attempt {attempt} started at upstream {upstream}")
            }
            Kind::AttemptEnded { attempt, outcome } => write!(f, "attempt {attempt} {outcome}"),
            Kind::ChunkSent { stream, index } => write!(f, "chunk {stream}:{index} sent"),
            Kind::ChunkReceived { chunk } => match chunk {
                Some(c) => write!(f, "chunk {}:{} received ({c})", c.stream, c.index),
                None => write!(f, "item without a payload received"),
            },
            Kind::StreamFailed { timeout } => write!(f, "stream failed (timeout: {timeout})"),
            Kind::CallEnded { outcome } => match outcome {
                CallOutcome::Ok => write!(f, "call ended ok"),
                CallOutcome::Failed(e) => write!(f, "call failed: {e}"),
                CallOutcome::Panicked { message } => write!(f, "call PANICKED: {message}"),
            },
            Kind::CallDropped => write!(f, "call dropped by the caller"),
            Kind::Reported { event } => write!(f, "(reported) {event}"),
        }
    }
}

/// A whole run's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    /// Every record, in time order.
    pub records: Vec<Record>,
    /// When the run stopped: the horizon if it was cut off, else its last
    /// record. A call still open then was still open when the world ended.
    pub end_ns: u64,
    /// The faults the backend struck that no record shows (hangs, answers
    /// cut off before their latency was up, streams that failed or stalled
    /// halfway), as the world counted them; empty for a trace read back.
    pub struck: Fired,
    /// `(client, call)` of every call the workload meant its caller to
    /// drop, whether or not it did (a call that ended first was not
    /// dropped), as the world was told them; empty for a trace read back,
    /// where only the drops done are known. A drop cuts short the waits
    /// that began after its point at a time no draw chose, so whether such
    /// a wait shows depends on its draw: the delay distribution leaves
    /// these calls out (the judge's `distribution::samples_in`).
    pub walk_aways: Vec<(u32, u64)>,
}

impl Trace {
    /// A trace of `records` that stopped at its last record.
    pub fn new(records: Vec<Record>) -> Self {
        let end_ns = records.iter().map(|r| r.t).max().unwrap_or(0);
        Trace {
            records,
            end_ns,
            ..Trace::default()
        }
    }

    /// One line per record.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            let _ = writeln!(out, "{r}");
        }
        out
    }

    /// One JSON object per line.
    pub fn to_json_lines(&self) -> String {
        let mut out = String::new();
        for r in &self.records {
            // A Record holds only integers, strings and bools: it always serialises.
            let line = serde_json::to_string(r).unwrap_or_default();
            let _ = writeln!(out, "{line}");
        }
        out
    }

    /// [`Trace::to_json_lines`], then a last line `{"end_ns":N}` saying
    /// when the run stopped, so a call still open then reads as cut off
    /// after that long, not at its last record.
    pub fn to_json_lines_with_end(&self) -> String {
        format!("{}{{\"end_ns\":{}}}\n", self.to_json_lines(), self.end_ns)
    }

    /// Read back what [`Trace::to_json_lines`] (or
    /// [`Trace::to_json_lines_with_end`]) wrote, blank lines skipped; the
    /// trace stops at its `end_ns` line, or else at its last record.
    ///
    /// # Errors
    ///
    /// The first line that is not a record: its number (from 1) and why.
    pub fn from_json_lines(text: &str) -> Result<Self, (usize, String)> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct End {
            end_ns: u64,
        }
        let mut records = Vec::new();
        let mut end_ns = 0;
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            if let Ok(end) = serde_json::from_str::<End>(line) {
                end_ns = end.end_ns;
                continue;
            }
            let record = serde_json::from_str(line).map_err(|e| (n + 1, e.to_string()))?;
            records.push(record);
        }
        let mut trace = Trace::new(records);
        trace.end_ns = trace.end_ns.max(end_ns);
        Ok(trace)
    }

    /// The records of each call, keyed by (client, call), in trace order.
    pub fn calls(&self) -> std::collections::BTreeMap<(u32, u64), Vec<&Record>> {
        // Sorted by call, then by place in the trace (so each call's records
        // keep their order); grouping runs of it touches the map once a call
        // rather than once a record.
        let mut keyed: Vec<(u32, u64, usize)> = (self.records.iter().enumerate())
            .map(|(i, r)| (r.client, r.call, i))
            .collect();
        keyed.sort_unstable();
        keyed
            .chunk_by(|a, b| (a.0, a.1) == (b.0, b.1))
            .map(|run| {
                let records = run.iter().map(|&(_, _, i)| &self.records[i]).collect();
                ((run[0].0, run[0].1), records)
            })
            .collect()
    }
}

/// Where two traces of one seed first differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first differing record.
    pub index: usize,
    /// The first run's record there, if it has one.
    pub first: Option<Record>,
    /// The second run's record there, if it has one.
    pub second: Option<Record>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |r: &Option<Record>| {
            r.as_ref()
                .map_or("<end of trace>".to_string(), |r| r.to_string())
        };
        write!(
            f,
            "runs diverge at record {}:\n  first:  {}\n  second: {}",
            self.index,
            show(&self.first),
            show(&self.second)
        )
    }
}

/// The first record at which `a` and `b` differ, or `None` if they are equal.
pub fn first_divergence(a: &Trace, b: &Trace) -> Option<Divergence> {
    let n = a.records.len().max(b.records.len());
    (0..n).find_map(|i| {
        let (x, y) = (a.records.get(i), b.records.get(i));
        (x != y).then(|| Divergence {
            index: i,
            first: x.cloned(),
            second: y.cloned(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn started() -> Kind {
        Kind::CallStarted {
            method: Method::Chat,
            compat: 0,
            inner_compat: 0,
            digest: None,
        }
    }

    #[test]
    fn chunk_ids_are_found_in_any_text() {
        let id = ChunkId {
            client: 3,
            call: 7,
            stream: 12,
            index: 4,
        };
        assert_eq!(
            ChunkId::find(&format!("data: {{\"id\":\"{id}\"}}")),
            Some(id)
        );
        assert_eq!(ChunkId::find("no payload"), None);
        assert_eq!(ChunkId::find("sim:1:2:x:4"), None);
    }

    fn rec(t: u64, kind: Kind) -> Record {
        Record {
            t,
            client: 0,
            call: 0,
            kind,
        }
    }

    #[test]
    fn identical_traces_do_not_diverge() {
        let t = Trace::new(vec![
            rec(0, started()),
            rec(
                5,
                Kind::CallEnded {
                    outcome: CallOutcome::Ok,
                },
            ),
        ]);
        assert_eq!(first_divergence(&t, &t.clone()), None);
    }

    #[test]
    fn divergence_reports_first_differing_record_and_its_time() {
        let a = Trace::new(vec![
            rec(0, started()),
            rec(
                5,
                Kind::CallEnded {
                    outcome: CallOutcome::Ok,
                },
            ),
        ]);
        let mut b = a.clone();
        b.records[1].t = 6;
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 1);
        assert_eq!(d.second.unwrap().t, 6);
    }

    #[test]
    fn a_shorter_trace_diverges_at_its_end() {
        let a = Trace::new(vec![rec(0, started())]);
        let d = first_divergence(&a, &Trace::default()).unwrap();
        assert_eq!((d.index, d.second), (0, None));
    }

    #[test]
    fn json_lines_read_back_to_the_same_trace() {
        let failed = AttemptOutcome::Failed(Failure::Status {
            status: 429,
            retry_after_ns: Some(u64::MAX),
            should_retry: None,
        });
        let t = Trace::new(vec![
            rec(0, started()),
            rec(
                1,
                Kind::AttemptEnded {
                    attempt: 0,
                    outcome: failed,
                },
            ),
            rec(
                2,
                Kind::ChunkReceived {
                    chunk: ChunkId::find("sim:0:0:3:0"),
                },
            ),
            rec(
                3,
                Kind::CallEnded {
                    outcome: CallOutcome::Failed(Failure::Network),
                },
            ),
        ]);
        assert_eq!(Trace::from_json_lines(&t.to_json_lines()), Ok(t.clone()));
        let later = Trace { end_ns: 9, ..t };
        assert_eq!(
            Trace::from_json_lines(&later.to_json_lines_with_end()),
            Ok(later)
        );
        let bad = Trace::from_json_lines("\n{\"t\":1}\n").unwrap_err();
        assert_eq!(bad.0, 2, "{bad:?}");
    }

    #[test]
    fn a_dropped_call_reads_and_writes_as_one_flat_record() {
        let t = Trace::new(vec![rec(1_500_000, Kind::CallDropped)]);
        assert_eq!(
            t.to_json_lines(),
            "{\"t\":1500000,\"client\":0,\"call\":0,\"kind\":\"call_dropped\"}\n"
        );
        assert_eq!(Trace::from_json_lines(&t.to_json_lines()), Ok(t.clone()));
        assert_eq!(
            t.to_text(),
            "       1.500ms c0#0 call dropped by the caller\n"
        );
    }

    #[test]
    fn json_lines_are_flat_objects() {
        let t = Trace::new(vec![rec(
            7,
            Kind::AttemptStarted {
                attempt: 2,
                upstream: 0,
                digest: None,
            },
        )]);
        assert_eq!(
            t.to_json_lines(),
            "{\"t\":7,\"client\":0,\"call\":0,\"kind\":\"attempt_started\",\"attempt\":2}\n"
        );
        // A fallback's upstream is written, and read back.
        let fell_back = Kind::AttemptStarted {
            attempt: 3,
            upstream: 1,
            digest: None,
        };
        let line = Trace::new(vec![rec(8, fell_back.clone())]).to_json_lines();
        assert!(line.contains("\"upstream\":1"), "{line}");
        assert_eq!(
            Trace::from_json_lines(&line).unwrap().records[0].kind,
            fell_back
        );
    }

    #[test]
    fn a_digest_is_written_when_recorded_and_a_line_without_one_reads_as_not_recorded() {
        let sent = Kind::AttemptStarted {
            attempt: 1,
            upstream: 0,
            digest: Some(u64::MAX),
        };
        let line = Trace::new(vec![rec(3, sent.clone())]).to_json_lines();
        assert!(line.contains("\"digest\":18446744073709551615"), "{line}");
        assert_eq!(Trace::from_json_lines(&line).unwrap().records[0].kind, sent);
        let old = "{\"t\":0,\"client\":0,\"call\":0,\"kind\":\"call_started\",\"method\":\"chat\",\"compat\":1,\"inner_compat\":1}";
        let read = Trace::from_json_lines(old).unwrap();
        assert!(
            matches!(read.records[0].kind, Kind::CallStarted { digest: None, .. }),
            "{read:?}"
        );
    }
}
