//! What the judge says: one oracle's verdict on one call, how much each
//! oracle judged, and a whole trace's judgement.
//!
//! An oracle with nothing to judge in a call (no Retry-After wait for
//! `retry_after_honoured`, no stream for `stream_idle_bounded`) says so:
//! [`Verdict::NotJudged`]. A table then shows it as not exercised, never as
//! held, and a held verdict comes with how much was judged ([`Tally`]).

use super::Violation;
use super::model::Call;
use crate::trace::{AttemptOutcome, Failure};
use std::collections::BTreeMap;
use std::fmt;

/// One oracle's verdict on one call (or on a gateway deployment's part of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The call holds nothing this oracle judges.
    NotJudged,
    /// Judged, and the property held.
    Held,
    /// Judged, and the property failed: what was wrong.
    Violated(String),
}

impl Verdict {
    /// A call the oracle did judge: held, unless `violation` says what was wrong.
    pub fn judged(violation: Option<String>) -> Self {
        violation.map_or(Verdict::Held, Verdict::Violated)
    }

    /// The oracle judged the call (it held or was violated).
    pub fn is_judged(&self) -> bool {
        !matches!(self, Verdict::NotJudged)
    }
}

/// How much one oracle judged: calls and their attempts, and the waits or
/// streams in them the oracle is about ([`Unit`]); or, for the delay
/// distribution, the samples a test was run on (a test needs
/// [`MIN_SAMPLES`](super::distribution::MIN_SAMPLES); fewer are not counted,
/// as no test ran).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls the oracle judged.
    pub calls: u64,
    /// The attempts of those calls.
    pub attempts: u64,
    /// The waits between attempts it judged in them (an oracle on waits).
    pub waits: u64,
    /// The streams it judged in them (an oracle on streams).
    pub streams: u64,
    /// Samples the delay distribution was tested on.
    pub samples: u64,
}

/// What an oracle judges within a call, and counts besides calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// The call and its attempts.
    Attempts,
    /// The waits between its attempts.
    Waits,
    /// The waits that followed an answer with a Retry-After.
    RetryAfterWaits,
    /// The streams the provider sent it.
    Streams,
}

impl Unit {
    /// The unit of the per-call oracle named `oracle`.
    pub fn of(oracle: &str) -> Unit {
        match oracle {
            "delay_within_envelope" => Unit::Waits,
            "retry_after_honoured" => Unit::RetryAfterWaits,
            "stream_integrity" | "stream_idle_bounded" | "stream_cut_at_bound" => Unit::Streams,
            _ => Unit::Attempts,
        }
    }

    /// How much of `call` (or of one part of it) an oracle in this unit
    /// judged when it judged the call.
    pub fn tally(self, call: &Call) -> Tally {
        let mut t = Tally {
            calls: 1,
            attempts: call.attempts.len() as u64,
            ..Tally::default()
        };
        match self {
            Unit::Attempts => {}
            Unit::Waits => t.waits = call.attempts.len().saturating_sub(1) as u64,
            Unit::RetryAfterWaits => {
                // Each attempt but the last whose answer named a wait.
                let before_last = call.attempts.len().saturating_sub(1);
                t.waits = call.attempts[..before_last]
                    .iter()
                    .filter(|a| {
                        matches!(
                            a.end,
                            Some((
                                _,
                                AttemptOutcome::Failed(Failure::Status {
                                    retry_after_ns: Some(_),
                                    ..
                                })
                            ))
                        )
                    })
                    .count() as u64;
            }
            Unit::Streams => {
                // `sent` is in order, one stream's items together.
                let starts = call.sent.windows(2).filter(|w| w[0].0 != w[1].0).count();
                t.streams = (starts + usize::from(!call.sent.is_empty())) as u64;
            }
        }
        t
    }
}

impl Tally {
    /// The oracle judged anything at all.
    pub fn judged(&self) -> bool {
        self.calls > 0 || self.samples > 0
    }

    /// Add `other`'s counts (another run's, or another family's).
    pub fn add(&mut self, other: Tally) {
        self.calls = self.calls.saturating_add(other.calls);
        self.attempts = self.attempts.saturating_add(other.attempts);
        self.waits = self.waits.saturating_add(other.waits);
        self.streams = self.streams.saturating_add(other.streams);
        self.samples = self.samples.saturating_add(other.samples);
    }
}

/// In words: `12 calls, 31 attempts`, `12 calls, 19 waits`, `4 calls, 5
/// streams`, or `240 samples`: the waits or streams of an oracle on them.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let calls = count(self.calls, "call");
        match (self.samples, self.waits, self.streams) {
            (0, 0, 0) => write!(f, "{calls}, {}", count(self.attempts, "attempt")),
            (0, 0, n) => write!(f, "{calls}, {}", count(n, "stream")),
            (0, n, _) => write!(f, "{calls}, {}", count(n, "wait")),
            (n, ..) => f.write_str(&count(n, "sample")),
        }
    }
}

/// `n` things in words: `1 call`, `2 calls`.
pub fn count(n: u64, thing: &str) -> String {
    match n {
        1 => format!("1 {thing}"),
        _ => format!("{n} {thing}s"),
    }
}

/// What the judge found in a trace: every violation, and how much each
/// oracle judged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judgement {
    /// Every broken property, in the order the oracles found them.
    pub violations: Vec<Violation>,
    /// Per oracle name; an oracle absent judged nothing.
    pub tallies: BTreeMap<&'static str, Tally>,
}

impl Judgement {
    /// How much `oracle` judged.
    pub fn tally(&self, oracle: &str) -> Tally {
        self.tallies.get(oracle).copied().unwrap_or_default()
    }

    /// Count `tally` for `oracle`.
    pub fn count(&mut self, oracle: &'static str, tally: Tally) {
        self.tallies.entry(oracle).or_default().add(tally);
    }

    /// The violations of `oracle`.
    pub fn of<'a>(&'a self, oracle: &'a str) -> impl Iterator<Item = &'a Violation> + 'a {
        self.violations.iter().filter(move |v| v.oracle == oracle)
    }

    /// What a table says of `oracle` when it was not violated: `held (12
    /// calls, 31 attempts)`, or `not exercised`.
    pub fn unviolated(&self, oracle: &str) -> String {
        unviolated(self.tally(oracle))
    }
}

/// What a table says of an oracle that was not violated, judged `tally`:
/// `held (12 calls, 31 attempts)`, or `not exercised` when it judged nothing.
pub fn unviolated(tally: Tally) -> String {
    match tally.judged() {
        true => format!("held ({tally})"),
        false => NOT_JUDGED.to_string(),
    }
}

/// What every table says of an oracle that judged nothing.
pub const NOT_JUDGED: &str = "not exercised";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tally_reads_in_words() {
        let t = Tally {
            calls: 12,
            attempts: 31,
            ..Tally::default()
        };
        assert_eq!(t.to_string(), "12 calls, 31 attempts");
        let one = Tally {
            calls: 1,
            attempts: 1,
            ..Tally::default()
        };
        assert_eq!(one.to_string(), "1 call, 1 attempt");
        let s = Tally {
            samples: 240,
            ..Tally::default()
        };
        assert_eq!(s.to_string(), "240 samples");
    }

    /// Attempts `0..n` of a call, `at[i]` the failure attempt `i` ended with.
    fn call(ends: &[Option<Failure>], sent: &[(u64, u32)]) -> Call {
        let attempts = ends
            .iter()
            .enumerate()
            .map(|(i, f)| super::super::model::Attempt {
                number: i as u32,
                upstream: 0,
                start: i as u64 * 10,
                end: Some((
                    i as u64 * 10 + 5,
                    f.clone().map_or(AttemptOutcome::Ok, AttemptOutcome::Failed),
                )),
                digest: None,
            })
            .collect();
        Call {
            attempts,
            sent: sent.to_vec(),
            ..Call::default()
        }
    }

    #[test]
    fn each_unit_counts_what_its_oracles_judge() {
        let ra = |ms: u64| {
            Some(Failure::Status {
                status: 429,
                retry_after_ns: Some(ms * 1_000_000),
                should_retry: None,
            })
        };
        let plain = Some(Failure::Status {
            status: 503,
            retry_after_ns: None,
            should_retry: None,
        });
        // 503, 429 with a Retry-After, 429 with one (the last: no wait
        // follows it), then a stream of two items and a retried one.
        let c = call(
            &[plain, ra(1), None, ra(2)],
            &[(1, 0), (1, 1), (2, 0), (2, 1), (2, 2)],
        );
        let of = |u: Unit| {
            let t = u.tally(&c);
            (t.calls, t.attempts, t.waits, t.streams)
        };
        assert_eq!(of(Unit::Attempts), (1, 4, 0, 0));
        assert_eq!(of(Unit::Waits), (1, 4, 3, 0));
        assert_eq!(of(Unit::RetryAfterWaits), (1, 4, 1, 0));
        assert_eq!(of(Unit::Streams), (1, 4, 0, 2));
        assert_eq!(Unit::Streams.tally(&call(&[None], &[])).streams, 0);
        assert_eq!(Unit::of("retry_after_honoured"), Unit::RetryAfterWaits);
        assert_eq!(Unit::of("delay_within_envelope"), Unit::Waits);
        for o in [
            "stream_integrity",
            "stream_idle_bounded",
            "stream_cut_at_bound",
        ] {
            assert_eq!(Unit::of(o), Unit::Streams);
        }
        assert_eq!(Unit::of("calls_end"), Unit::Attempts);
        let streams = Tally {
            calls: 4,
            attempts: 5,
            streams: 6,
            ..Tally::default()
        };
        assert_eq!(streams.to_string(), "4 calls, 6 streams");
        let waits = Tally {
            waits: 1,
            ..streams
        };
        assert_eq!(waits.to_string(), "4 calls, 1 wait");
        let mut sum = streams;
        sum.add(waits);
        assert_eq!(
            (sum.calls, sum.attempts, sum.waits, sum.streams),
            (8, 10, 1, 12)
        );
    }

    #[test]
    fn nothing_judged_is_never_held() {
        assert_eq!(unviolated(Tally::default()), "not exercised");
        let t = Tally {
            calls: 2,
            attempts: 3,
            ..Tally::default()
        };
        assert_eq!(unviolated(t), "held (2 calls, 3 attempts)");
        assert_eq!(Verdict::judged(None), Verdict::Held);
        assert_eq!(
            Verdict::judged(Some("x".into())),
            Verdict::Violated("x".into())
        );
        assert!(!Verdict::NotJudged.is_judged());
    }
}
