//! Which fault kinds actually fired in a run, and how often.
//!
//! A verdict of "held" means little if the fault it was meant to face never
//! struck: a scenario whose hangs were never drawn, whose Retry-After never
//! reached the subject, proves nothing about hangs or Retry-After. So every
//! run counts what fired, measured as close to the subject as the world
//! allows:
//!
//! - answers the subject's provider returned (statuses by status,
//!   Retry-After, network and decode failures) are read from the trace's
//!   attempt ends, which the probe writes above the world's link, so a
//!   world that loses a header on the way shows it as never fired;
//! - what no record shows (a hang, an answer cut off by a timeout before
//!   its latency was up, a stream that failed or stalled halfway) the
//!   backend counts at the moment it strikes, in the order of [`STRUCK`];
//! - a network fault (partition, hold, crash) fired when some call was
//!   open inside its window.
//!
//! The run module reads a run's counts from its trace. A scenario names
//! what it means to inject (`[expect] fires`); a sweep fails one whose
//! named faults fired on none of its seeds.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// A kind of fault a run can inject, as scenario files and reports name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(try_from = "String", into = "String")]
pub enum Fault {
    /// `status-503`: an attempt answered this HTTP status.
    Status(u16),
    /// `retry-after`: a status answer carried a Retry-After the subject read.
    RetryAfter,
    /// `network`: an attempt failed with a network error.
    Network,
    /// `decode`: an attempt answered a body that did not decode.
    Decode,
    /// `hang`: an attempt was never answered.
    Hang,
    /// `slow`: an answer was on its way, but the subject stopped waiting
    /// before its latency was up (latency past a timeout).
    Slow,
    /// `stream-fail`: an opened stream broke halfway.
    StreamFail,
    /// `stream-stall`: an opened stream went silent halfway.
    StreamStall,
    /// `partition`: an attempt was open while the network was partitioned.
    Partition,
    /// `hold`: an attempt was open while the network held messages.
    Hold,
    /// `crash`: an attempt was open while the server was down.
    Crash,
}

/// The faults only the backend sees strike, in the order it counts them.
pub const STRUCK: [Fault; 4] = [
    Fault::Hang,
    Fault::Slow,
    Fault::StreamFail,
    Fault::StreamStall,
];

/// Every fault name but `status-<code>`, for error messages.
const NAMES: &str = "status-<400-599>, retry-after, network, decode, hang, slow, stream-fail, stream-stall, partition, hold, crash";

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Fault::Status(status) => return write!(f, "status-{status}"),
            Fault::RetryAfter => "retry-after",
            Fault::Network => "network",
            Fault::Decode => "decode",
            Fault::Hang => "hang",
            Fault::Slow => "slow",
            Fault::StreamFail => "stream-fail",
            Fault::StreamStall => "stream-stall",
            Fault::Partition => "partition",
            Fault::Hold => "hold",
            Fault::Crash => "crash",
        };
        f.write_str(name)
    }
}

impl std::str::FromStr for Fault {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let fault = match text {
            "retry-after" => Fault::RetryAfter,
            "network" => Fault::Network,
            "decode" => Fault::Decode,
            "hang" => Fault::Hang,
            "slow" => Fault::Slow,
            "stream-fail" => Fault::StreamFail,
            "stream-stall" => Fault::StreamStall,
            "partition" => Fault::Partition,
            "hold" => Fault::Hold,
            "crash" => Fault::Crash,
            _ => text
                .strip_prefix("status-")
                .and_then(|s| s.parse::<u16>().ok())
                .filter(|s| (400..=599).contains(s))
                .map(Fault::Status)
                .ok_or_else(|| format!("unknown fault {text:?} ({NAMES})"))?,
        };
        Ok(fault)
    }
}

impl TryFrom<String> for Fault {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<Fault> for String {
    fn from(fault: Fault) -> String {
        fault.to_string()
    }
}

/// How often each fault kind fired; a kind absent never did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Fired(BTreeMap<Fault, u64>);

impl Fired {
    /// Count `n` more of `fault` (nothing when `n` is 0, so absent means never).
    pub fn add(&mut self, fault: Fault, n: u64) {
        if n > 0 {
            let count = self.0.entry(fault).or_default();
            *count = count.saturating_add(n);
        }
    }

    /// Add every count of `other` (another run's, another seed's).
    pub fn merge(&mut self, other: &Fired) {
        for (&fault, &n) in &other.0 {
            self.add(fault, n);
        }
    }

    /// How often `fault` fired.
    pub fn count(&self, fault: Fault) -> u64 {
        self.0.get(&fault).copied().unwrap_or(0)
    }

    /// The faults of `named` that never fired, in the order named.
    pub fn missing(&self, named: &[Fault]) -> Vec<Fault> {
        named
            .iter()
            .filter(|f| self.count(**f) == 0)
            .copied()
            .collect()
    }

    /// Every fault that fired, with its count, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Fault, u64)> + '_ {
        self.0.iter().map(|(&f, &n)| (f, n))
    }
}

/// In words: `status-503 ×12, retry-after ×12, hang ×3`, or `nothing`.
impl fmt::Display for Fired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nothing");
        }
        let mut first = true;
        for (fault, n) in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{fault} ×{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_names_round_trip_and_unknown_ones_are_refused() {
        for name in [
            "status-503",
            "retry-after",
            "network",
            "decode",
            "hang",
            "slow",
            "stream-fail",
            "stream-stall",
            "partition",
            "hold",
            "crash",
        ] {
            let fault: Fault = name.parse().unwrap();
            assert_eq!(fault.to_string(), name);
        }
        for bad in ["status-200", "status-", "hangs", ""] {
            let e = bad.parse::<Fault>().unwrap_err();
            assert!(
                e.contains("unknown fault") && e.contains("stream-stall"),
                "{e}"
            );
        }
    }

    #[test]
    fn merging_adds_counts_and_never_lists_a_zero() {
        let mut a = Fired::default();
        a.add(Fault::Hang, 2);
        a.add(Fault::Decode, 0);
        let mut b = Fired::default();
        b.add(Fault::Hang, 1);
        b.add(Fault::Slow, 4);
        a.merge(&b);
        assert_eq!(a.count(Fault::Hang), 3);
        assert_eq!(a.count(Fault::Slow), 4);
        assert_eq!(a.iter().count(), 2);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"hang":3,"slow":4}"#);
        assert_eq!(serde_json::from_str::<Fired>(&json).unwrap(), a);
    }
}
