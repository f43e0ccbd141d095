//! The canonical trace of a run: every wrapper event and every call's outcome, in order.
//!
//! Times are virtual nanoseconds since the world started. The order is the
//! order events happened on the single-threaded paused runtime, which is
//! itself a function of the seed; two runs of one seed must agree line for line.

use serde::Serialize;
use std::fmt::{self, Write as _};

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Kind {
    /// The client began a logical call.
    CallStarted,
    /// The wrapper began an attempt.
    AttemptStarted { attempt: u32 },
    /// An attempt ended: `ok`, `timeout` (the wrapper's timer), or an error.
    AttemptEnded {
        attempt: u32,
        outcome: AttemptOutcome,
    },
    /// The wrapper chose to wait.
    Delay {
        attempt: u32,
        delay_ns: u64,
        retry_after: bool,
    },
    /// The wrapper gave up.
    GaveUp { attempt: u32, reason: String },
    /// The provider emitted stream item `index` of the stream opened by its attempt `stream`.
    ChunkSent { stream: u64, index: u32 },
    /// The client received that item.
    ChunkReceived { stream: u64, index: u32 },
    /// The client's stream ended with an error after its items.
    StreamFailed { timeout: bool },
    /// The logical call ended.
    CallEnded { ok: bool },
}

/// How an attempt ended, as the trace records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum AttemptOutcome {
    Ok,
    TimedOut,
    Error {
        status: u16,
        transient: bool,
        retry_after_ns: Option<u64>,
    },
}

/// One line of the trace.
impl AttemptOutcome {
    /// How an attempt that answered `error` ended.
    pub fn of_error(error: &crabllm_core::Error) -> Self {
        AttemptOutcome::Error {
            status: error.http_status(),
            transient: error.is_transient(),
            retry_after_ns: error
                .retry_after()
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Virtual nanoseconds since the world began.
    pub t: u64,
    /// The client that made the call.
    pub client: u32,
    /// The call's number within its client.
    pub call: u64,
    #[serde(flatten)]
    pub kind: Kind,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.t as f64 / 1e6;
        write!(f, "{ms:>12.3}ms c{}#{} ", self.client, self.call)?;
        match &self.kind {
            Kind::CallStarted => write!(f, "call started"),
            Kind::AttemptStarted { attempt } => write!(f, "attempt {attempt} started"),
            Kind::AttemptEnded { attempt, outcome } => match outcome {
                AttemptOutcome::Ok => write!(f, "attempt {attempt} ok"),
                AttemptOutcome::TimedOut => write!(f, "attempt {attempt} timed out"),
                AttemptOutcome::Error {
                    status,
                    transient,
                    retry_after_ns,
                } => {
                    write!(f, "attempt {attempt} error {status}")?;
                    if !transient {
                        write!(f, " (not transient)")?;
                    }
                    match retry_after_ns {
                        Some(ra) => write!(f, " retry-after {}ns", ra),
                        None => Ok(()),
                    }
                }
            },
            Kind::Delay {
                attempt,
                delay_ns,
                retry_after,
            } => {
                let why = if *retry_after {
                    "retry-after"
                } else {
                    "backoff"
                };
                write!(f, "delay after {attempt}: {delay_ns}ns ({why})")
            }
            Kind::GaveUp { attempt, reason } => write!(f, "gave up after {attempt}: {reason}"),
            Kind::ChunkSent { stream, index } => write!(f, "chunk {stream}:{index} sent"),
            Kind::ChunkReceived { stream, index } => write!(f, "chunk {stream}:{index} received"),
            Kind::StreamFailed { timeout } => write!(f, "stream failed (timeout: {timeout})"),
            Kind::CallEnded { ok } => write!(f, "call ended {}", if *ok { "ok" } else { "err" }),
        }
    }
}

/// A whole run's trace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trace {
    pub records: Vec<Record>,
}

impl Trace {
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

    /// The records of each call, keyed by (client, call), in trace order.
    pub fn calls(&self) -> std::collections::BTreeMap<(u32, u64), Vec<&Record>> {
        let mut calls = std::collections::BTreeMap::new();
        for r in &self.records {
            calls
                .entry((r.client, r.call))
                .or_insert_with(Vec::new)
                .push(r);
        }
        calls
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
        let t = Trace {
            records: vec![
                rec(0, Kind::CallStarted),
                rec(5, Kind::CallEnded { ok: true }),
            ],
        };
        assert_eq!(first_divergence(&t, &t.clone()), None);
    }

    #[test]
    fn divergence_reports_first_differing_record_and_its_time() {
        let a = Trace {
            records: vec![
                rec(0, Kind::CallStarted),
                rec(5, Kind::CallEnded { ok: true }),
            ],
        };
        let mut b = a.clone();
        b.records[1].t = 6;
        let d = first_divergence(&a, &b).unwrap();
        assert_eq!(d.index, 1);
        assert_eq!(d.second.unwrap().t, 6);
    }

    #[test]
    fn a_shorter_trace_diverges_at_its_end() {
        let a = Trace {
            records: vec![rec(0, Kind::CallStarted)],
        };
        let d = first_divergence(&a, &Trace::default()).unwrap();
        assert_eq!((d.index, d.second), (0, None));
    }

    #[test]
    fn json_lines_are_flat_objects() {
        let t = Trace {
            records: vec![rec(7, Kind::AttemptStarted { attempt: 2 })],
        };
        assert_eq!(
            t.to_json_lines(),
            "{\"t\":7,\"client\":0,\"call\":0,\"kind\":\"attempt_started\",\"attempt\":2}\n"
        );
    }
}
