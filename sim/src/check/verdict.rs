//! What the judge says: one oracle's verdict on one call, how much each
//! oracle judged, and a whole trace's judgement.
//!
//! An oracle with nothing to judge in a call (no Retry-After wait for
//! `retry_after_honoured`, no stream for `stream_idle_bounded`) says so:
//! [`Verdict::NotJudged`]. A table then shows it as not exercised, never as
//! held, and a held verdict comes with how much was judged ([`Tally`]).

use super::Violation;
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

/// How much one oracle judged: calls and their attempts, or, for the
/// delay distribution, the samples a test was run on (a test needs
/// [`MIN_SAMPLES`](super::distribution::MIN_SAMPLES); fewer are not counted,
/// as no test ran).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Calls the oracle judged.
    pub calls: u64,
    /// The attempts of those calls.
    pub attempts: u64,
    /// Samples the delay distribution was tested on.
    pub samples: u64,
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
        self.samples = self.samples.saturating_add(other.samples);
    }
}

/// In words: `12 calls, 31 attempts`, or `240 samples`.
impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.samples {
            0 => write!(
                f,
                "{}, {}",
                count(self.calls, "call"),
                count(self.attempts, "attempt")
            ),
            n => f.write_str(&count(n, "sample")),
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
            samples: 0,
        };
        assert_eq!(t.to_string(), "12 calls, 31 attempts");
        let one = Tally {
            calls: 1,
            attempts: 1,
            samples: 0,
        };
        assert_eq!(one.to_string(), "1 call, 1 attempt");
        let s = Tally {
            samples: 240,
            ..Tally::default()
        };
        assert_eq!(s.to_string(), "240 samples");
    }

    #[test]
    fn nothing_judged_is_never_held() {
        assert_eq!(unviolated(Tally::default()), "not exercised");
        let t = Tally {
            calls: 2,
            attempts: 3,
            samples: 0,
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
